#include "learn/dataset.hpp"

#include <zlib.h>

#include <algorithm>
#include <charconv>
#include <cmath>

namespace natpunch::learn {

std::string describe(const DatasetError& error) {
  std::string where = error.line > 0 ? "line " + std::to_string(error.line) + ": " : "";
  switch (error.kind) {
    case DatasetErrorKind::Unreadable: return "cannot read " + error.detail;
    case DatasetErrorKind::Empty: return "the data set has no rows";
    case DatasetErrorKind::BadNumber: return where + "not a number: " + error.detail;
    case DatasetErrorKind::WrongColumns: return where + "wrong column count: " + error.detail;
    case DatasetErrorKind::BadLabel: return where + "label is not an integer class 0..255: " + error.detail;
    case DatasetErrorKind::OutOfRange: return where + "feature out of range: " + error.detail;
    case DatasetErrorKind::NotGzip: return "not gzip data: " + error.detail;
    case DatasetErrorKind::TooLarge: return "data set too large: " + error.detail;
  }
  return "data set error";
}

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  while (true) {
    const auto comma = line.find(',', start);
    fields.push_back(trim(line.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start)));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return fields;
}

bool parse_float(std::string_view field, float& out) {
  if (field.empty()) return false;
  if (field.front() == '+') field.remove_prefix(1);
  const auto* end = field.data() + field.size();
  auto [ptr, ec] = std::from_chars(field.data(), end, out);
  return ec == std::errc{} && ptr == end && std::isfinite(out);
}

}  // namespace

Result<Dataset, DatasetError> parse_labelled_csv(std::string_view text, CsvOptions options) {
  std::vector<float> values;
  std::vector<std::uint8_t> labels;
  std::size_t columns = 0;
  std::size_t line_number = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    auto newline = text.find('\n', start);
    if (newline == std::string_view::npos) newline = text.size();
    const auto line = trim(text.substr(start, newline - start));
    start = newline + 1;
    ++line_number;
    if (line.empty()) continue;
    const auto fields = split_fields(line);
    if (columns == 0) {
      if (fields.size() < 2)
        return Unexpected{DatasetError{DatasetErrorKind::WrongColumns, line_number,
                                       "need at least one feature and a label, found " + std::to_string(fields.size()) + " column"}};
      columns = fields.size();
    } else if (fields.size() != columns) {
      return Unexpected{DatasetError{DatasetErrorKind::WrongColumns, line_number,
                                     std::to_string(fields.size()) + " instead of " + std::to_string(columns)}};
    }
    for (std::size_t i = 0; i + 1 < fields.size(); ++i) {
      float v = 0;
      if (!parse_float(fields[i], v))
        return Unexpected{DatasetError{DatasetErrorKind::BadNumber, line_number,
                                       "column " + std::to_string(i + 1) + " '" + std::string(fields[i].substr(0, 32)) + "'"}};
      if (v < 0 || v > options.max_value)
        return Unexpected{DatasetError{DatasetErrorKind::OutOfRange, line_number,
                                       "column " + std::to_string(i + 1) + " = " + std::string(fields[i].substr(0, 32)) +
                                           " (expected 0.." + std::to_string(static_cast<int>(options.max_value)) + ")"}};
      values.push_back(v / options.max_value);
    }
    float label = 0;
    const auto label_field = fields.back();
    if (!parse_float(label_field, label) || label < 0 || label > 255 || label != std::floor(label))
      return Unexpected{DatasetError{DatasetErrorKind::BadLabel, line_number, "'" + std::string(label_field.substr(0, 32)) + "'"}};
    labels.push_back(static_cast<std::uint8_t>(label));
  }
  if (labels.empty()) return Unexpected{DatasetError{DatasetErrorKind::Empty, 0, ""}};

  Dataset out;
  const auto features = static_cast<Eigen::Index>(columns - 1);
  out.features = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
      values.data(), static_cast<Eigen::Index>(labels.size()), features);
  out.classes = *std::max_element(labels.begin(), labels.end()) + 1;
  out.labels = std::move(labels);
  return out;
}

Result<std::string, DatasetError> gunzip(std::span<const std::uint8_t> compressed, std::size_t limit) {
  z_stream stream{};
  // 15 + 32: accept gzip or zlib headers.
  if (inflateInit2(&stream, 15 + 32) != Z_OK) return Unexpected{DatasetError{DatasetErrorKind::NotGzip, 0, "zlib init failed"}};
  std::string out;
  std::vector<unsigned char> buffer(1 << 16);
  // zlib's API is not const-correct; it never writes through next_in.
  stream.next_in = const_cast<Bytef*>(compressed.data());
  stream.avail_in = static_cast<uInt>(compressed.size());
  int status = Z_OK;
  while (status != Z_STREAM_END) {
    stream.next_out = buffer.data();
    stream.avail_out = static_cast<uInt>(buffer.size());
    status = inflate(&stream, Z_NO_FLUSH);
    if (status != Z_OK && status != Z_STREAM_END) {
      const std::string why = stream.msg ? stream.msg : (status == Z_BUF_ERROR ? "truncated" : "corrupt");
      inflateEnd(&stream);
      return Unexpected{DatasetError{DatasetErrorKind::NotGzip, 0, why}};
    }
    out.append(reinterpret_cast<const char*>(buffer.data()), buffer.size() - stream.avail_out);
    if (out.size() > limit) {
      inflateEnd(&stream);
      return Unexpected{DatasetError{DatasetErrorKind::TooLarge, 0, "more than " + std::to_string(limit) + " bytes inflated"}};
    }
    if (status == Z_OK && stream.avail_in == 0 && stream.avail_out != 0) {
      inflateEnd(&stream);
      return Unexpected{DatasetError{DatasetErrorKind::NotGzip, 0, "truncated"}};
    }
  }
  inflateEnd(&stream);
  return out;
}

Dataset select_rows(const Dataset& from, std::span<const std::size_t> rows) {
  Dataset out;
  out.classes = from.classes;
  out.features.resize(static_cast<Eigen::Index>(rows.size()), from.features.cols());
  out.labels.reserve(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    out.features.row(static_cast<Eigen::Index>(i)) = from.features.row(static_cast<Eigen::Index>(rows[i]));
    out.labels.push_back(from.labels[rows[i]]);
  }
  return out;
}

}  // namespace natpunch::learn
