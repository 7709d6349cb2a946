#pragma once
// A model update on the wire: the flat parameter vector cut into chunks that
// each fit one datagram of the path (session payload <= path MTU minus
// headers), each chunk self-describing so it can be used alone: a lost
// chunk leaves a gap in one parameter range, never a shifted or mixed-up
// model.
//
// Integrity: the natpunch session authenticates every datagram (keyed
// BLAKE2b on the direct path, the rendezvous channel when relayed), so a
// chunk that arrives came from that peer unaltered. The CRC-32 below only
// catches our own bugs and transports without a MAC (the simulator, tests);
// it is not a security boundary.
//
// Layout (network byte order), 32 + count * width + 4 bytes:
//   0  'N' 'L'          magic
//   2  version (1)
//   3  encoding         0: float32, 1: float16 (IEEE binary16)
//   4  job              32 bits: which training run (peers agree on it)
//   8  round            32 bits
//   12 shape            inputs, hidden, classes: 16 bits each
//   18 chunk index      16 bits, < chunk count
//   20 chunk count      16 bits, >= 1
//   22 parameter offset 32 bits
//   26 parameter count  16 bits, >= 1; offset + count <= the shape's size
//   28 weight           32 bits: the sender's averaging weight (its samples)
//   32 values           count parameters
//   .. CRC-32           of everything before it
#include <cstdint>
#include <span>
#include <vector>

#include <Eigen/Core>

#include "core/result.hpp"
#include "learn/model.hpp"

namespace natpunch::learn {

enum class ChunkEncoding : std::uint8_t { Float32 = 0, Float16 = 1 };
const char* to_string(ChunkEncoding encoding);
std::size_t bytes_per_parameter(ChunkEncoding encoding);

inline constexpr std::size_t kChunkHeaderSize = 32;
inline constexpr std::size_t kChunkTrailerSize = 4;
inline constexpr std::uint8_t kChunkVersion = 1;

struct ModelChunk {
  ChunkEncoding encoding = ChunkEncoding::Float32;
  std::uint32_t job = 0;
  std::uint32_t round = 0;
  ModelShape shape;
  std::uint16_t index = 0;
  std::uint16_t count = 1;
  std::uint32_t offset = 0;
  std::uint32_t weight = 0;
  std::vector<float> values;  // decoded float16 chunks hold the float16-rounded values
  bool operator==(const ModelChunk&) const = default;
};

enum class ChunkError : std::uint8_t {
  TooShort,     // shorter than header + trailer
  BadMagic,     // not 'N' 'L'
  BadVersion,   // another version of the format
  BadEncoding,  // unknown value encoding
  BadLength,    // datagram size disagrees with the parameter count
  BadChecksum,  // CRC-32 mismatch
  BadIndex,     // chunk count 0 or index >= count
  BadRange,     // empty range, or beyond the model the shape describes
  NonFinite,    // a NaN or infinity: would poison every average it joins
};
const char* to_string(ChunkError error);

// Parameters that fit in one datagram of `max_datagram` bytes (0 if none fits).
std::size_t parameters_per_chunk(std::size_t max_datagram, ChunkEncoding encoding);

struct ChunkHeader {
  std::uint32_t job = 0;
  std::uint32_t round = 0;
  std::uint32_t weight = 0;
  ChunkEncoding encoding = ChunkEncoding::Float32;
};
// The whole model as chunks whose encodings fit `max_datagram`. Empty when
// not even one parameter fits or more than 65535 chunks would be needed.
std::vector<ModelChunk> split_model(const Eigen::VectorXf& parameters, const ModelShape& shape, const ChunkHeader& header,
                                    std::size_t max_datagram);

std::vector<std::uint8_t> encode(const ModelChunk& chunk);
// Never reads outside `bytes`; one distinct error per failure.
Result<ModelChunk, ChunkError> decode_model_chunk(std::span<const std::uint8_t> bytes);

}  // namespace natpunch::learn
