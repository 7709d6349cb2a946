#include "io/dataset_file.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

namespace natpunch::io {

Result<learn::Dataset, learn::DatasetError> load_dataset_file(const std::string& path, learn::CsvOptions options) {
  using learn::DatasetError;
  using learn::DatasetErrorKind;
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Unexpected{DatasetError{DatasetErrorKind::Unreadable, 0,
                                   path + ": " + std::strerror(errno) +
                                       " (the digits come with Debian's python3-sklearn: apt-get install python3-sklearn)"}};
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Unexpected{DatasetError{DatasetErrorKind::Unreadable, 0, path + ": read error"}};
  if (bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b) {
    auto text = learn::gunzip(bytes);
    if (!text) {
      auto error = text.error();
      error.detail = path + ": " + error.detail;
      return Unexpected{error};
    }
    return learn::parse_labelled_csv(*text, options);
  }
  return learn::parse_labelled_csv(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), options);
}

}  // namespace natpunch::io
