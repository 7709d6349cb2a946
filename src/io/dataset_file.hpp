#pragma once
// Reads a labelled CSV data set from disk (plain or gzipped, detected by the
// gzip magic) for src/learn, which parses but never touches files.
#include <string>

#include "core/result.hpp"
#include "learn/dataset.hpp"

namespace natpunch::io {

// Where Debian's python3-sklearn puts the handwritten digits.
inline constexpr const char* kDigitsCsvPath = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz";

Result<learn::Dataset, learn::DatasetError> load_dataset_file(const std::string& path, learn::CsvOptions options = {});

}  // namespace natpunch::io
