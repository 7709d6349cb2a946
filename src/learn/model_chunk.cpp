#include "learn/model_chunk.hpp"

#include <zlib.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "core/bytes.hpp"

namespace natpunch::learn {

namespace {

// Eigen's half does the IEEE binary16 rounding (round to nearest even).
std::uint16_t half_bits(float value) { return Eigen::half_impl::raw_half_as_uint16(Eigen::half(value)); }
float from_half_bits(std::uint16_t bits) { return static_cast<float>(Eigen::half(Eigen::half_impl::raw_uint16_to_half(bits))); }
std::uint32_t float_bits(float value) {
  std::uint32_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}
float from_float_bits(std::uint32_t bits) {
  float value = 0;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

std::uint32_t crc_of(const std::uint8_t* data, std::size_t size) {
  return static_cast<std::uint32_t>(crc32(crc32(0L, Z_NULL, 0), data, static_cast<uInt>(size)));
}

}  // namespace

const char* to_string(ChunkEncoding encoding) {
  return encoding == ChunkEncoding::Float16 ? "float16" : "float32";
}

std::size_t bytes_per_parameter(ChunkEncoding encoding) { return encoding == ChunkEncoding::Float16 ? 2 : 4; }

const char* to_string(ChunkError error) {
  switch (error) {
    case ChunkError::TooShort: return "too short";
    case ChunkError::BadMagic: return "bad magic";
    case ChunkError::BadVersion: return "unsupported version";
    case ChunkError::BadEncoding: return "unknown value encoding";
    case ChunkError::BadLength: return "length disagrees with parameter count";
    case ChunkError::BadChecksum: return "checksum mismatch";
    case ChunkError::BadIndex: return "chunk index out of range";
    case ChunkError::BadRange: return "parameter range outside the model";
    case ChunkError::NonFinite: return "non-finite parameter";
  }
  return "?";
}

std::size_t parameters_per_chunk(std::size_t max_datagram, ChunkEncoding encoding) {
  if (max_datagram <= kChunkHeaderSize + kChunkTrailerSize) return 0;
  const std::size_t fit = (max_datagram - kChunkHeaderSize - kChunkTrailerSize) / bytes_per_parameter(encoding);
  return std::min<std::size_t>(fit, std::numeric_limits<std::uint16_t>::max());
}

std::vector<ModelChunk> split_model(const Eigen::VectorXf& parameters, const ModelShape& shape, const ChunkHeader& header,
                                    std::size_t max_datagram) {
  const auto total = static_cast<std::size_t>(parameters.size());
  const std::size_t per_chunk = parameters_per_chunk(max_datagram, header.encoding);
  if (per_chunk == 0 || total == 0 || total != shape.parameter_count()) return {};
  const std::size_t count = (total + per_chunk - 1) / per_chunk;
  if (count > std::numeric_limits<std::uint16_t>::max()) return {};
  std::vector<ModelChunk> chunks;
  chunks.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    ModelChunk c;
    c.encoding = header.encoding;
    c.job = header.job;
    c.round = header.round;
    c.weight = header.weight;
    c.shape = shape;
    c.index = static_cast<std::uint16_t>(i);
    c.count = static_cast<std::uint16_t>(count);
    c.offset = static_cast<std::uint32_t>(i * per_chunk);
    const std::size_t n = std::min(per_chunk, total - i * per_chunk);
    c.values.assign(parameters.data() + c.offset, parameters.data() + c.offset + n);
    chunks.push_back(std::move(c));
  }
  return chunks;
}

std::vector<std::uint8_t> encode(const ModelChunk& chunk) {
  std::vector<std::uint8_t> out;
  out.reserve(kChunkHeaderSize + chunk.values.size() * bytes_per_parameter(chunk.encoding) + kChunkTrailerSize);
  ByteWriter w(out);
  w.u8('N');
  w.u8('L');
  w.u8(kChunkVersion);
  w.u8(static_cast<std::uint8_t>(chunk.encoding));
  w.u32(chunk.job);
  w.u32(chunk.round);
  w.u16(chunk.shape.inputs);
  w.u16(chunk.shape.hidden);
  w.u16(chunk.shape.classes);
  w.u16(chunk.index);
  w.u16(chunk.count);
  w.u32(chunk.offset);
  const std::size_t n = std::min<std::size_t>(chunk.values.size(), 0xffff);
  w.u16(static_cast<std::uint16_t>(n));
  w.u32(chunk.weight);
  for (std::size_t i = 0; i < n; ++i) {
    if (chunk.encoding == ChunkEncoding::Float16) w.u16(half_bits(chunk.values[i]));
    else w.u32(float_bits(chunk.values[i]));
  }
  w.u32(crc_of(out.data(), out.size()));
  return out;
}

Result<ModelChunk, ChunkError> decode_model_chunk(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < kChunkHeaderSize + kChunkTrailerSize) return Unexpected{ChunkError::TooShort};
  const std::uint8_t* p = bytes.data();
  if (p[0] != 'N' || p[1] != 'L') return Unexpected{ChunkError::BadMagic};
  if (p[2] != kChunkVersion) return Unexpected{ChunkError::BadVersion};
  if (p[3] > static_cast<std::uint8_t>(ChunkEncoding::Float16)) return Unexpected{ChunkError::BadEncoding};
  ModelChunk c;
  c.encoding = static_cast<ChunkEncoding>(p[3]);
  const std::size_t n = load_be16(p + 26);
  if (bytes.size() != kChunkHeaderSize + n * bytes_per_parameter(c.encoding) + kChunkTrailerSize)
    return Unexpected{ChunkError::BadLength};
  const std::size_t body = bytes.size() - kChunkTrailerSize;
  if (crc_of(p, body) != load_be32(p + body)) return Unexpected{ChunkError::BadChecksum};
  c.job = load_be32(p + 4);
  c.round = load_be32(p + 8);
  c.shape.inputs = load_be16(p + 12);
  c.shape.hidden = load_be16(p + 14);
  c.shape.classes = load_be16(p + 16);
  c.index = load_be16(p + 18);
  c.count = load_be16(p + 20);
  c.offset = load_be32(p + 22);
  c.weight = load_be32(p + 28);
  if (c.count == 0 || c.index >= c.count) return Unexpected{ChunkError::BadIndex};
  if (n == 0 || std::uint64_t{c.offset} + n > c.shape.parameter_count()) return Unexpected{ChunkError::BadRange};
  c.values.resize(n);
  const std::uint8_t* v = p + kChunkHeaderSize;
  for (std::size_t i = 0; i < n; ++i) {
    const float value = c.encoding == ChunkEncoding::Float16 ? from_half_bits(load_be16(v + 2 * i)) : from_float_bits(load_be32(v + 4 * i));
    if (!std::isfinite(value)) return Unexpected{ChunkError::NonFinite};
    c.values[i] = value;
  }
  return c;
}

}  // namespace natpunch::learn
