#pragma once
// A labelled data set for the distributed-learning workload (issue 9): the
// handwritten digits that scikit-learn ships as a gzipped CSV (1797 rows of
// 64 pixel intensities 0..16 and a label 0..9, no header). Parsing is pure
// (text in, data set or a located error out); reading the file is
// io/digits_file.hpp's job.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <Eigen/Core>

#include "core/result.hpp"

namespace natpunch::learn {

struct Dataset {
  Eigen::MatrixXf features;       // one row per sample, scaled to [0, 1]
  std::vector<std::uint8_t> labels;
  int classes = 0;                // labels are 0 .. classes-1

  std::size_t size() const { return labels.size(); }
  Eigen::Index feature_count() const { return features.cols(); }
};

enum class DatasetErrorKind : std::uint8_t {
  Unreadable,      // the file is missing or cannot be read
  Empty,           // no rows at all
  BadNumber,       // a field that is not a number
  WrongColumns,    // a row with another column count than the first
  BadLabel,        // label not an integer in 0..255
  OutOfRange,      // a pixel outside [0, max_value]
  NotGzip,         // compressed input that zlib cannot inflate
  TooLarge,        // inflates beyond the limit (not a small data set)
};

struct DatasetError {
  DatasetErrorKind kind;
  std::size_t line = 0;   // 1-based; 0 when not about a line
  std::string detail;     // what was found, for the user
};
std::string describe(const DatasetError& error);

struct CsvOptions {
  float max_value = 16.0f;   // features are divided by this (the digits' pixel range)
};

// Every row: feature columns then the label. Blank lines are skipped.
Result<Dataset, DatasetError> parse_labelled_csv(std::string_view text, CsvOptions options = {});

// Inflates gzip (or zlib) bytes in memory, up to `limit` bytes of output.
Result<std::string, DatasetError> gunzip(std::span<const std::uint8_t> compressed, std::size_t limit = 64u << 20);

// The rows of `from` listed in `rows`, in that order.
Dataset select_rows(const Dataset& from, std::span<const std::size_t> rows);

}  // namespace natpunch::learn
