// libFuzzer target for the model-update chunks of `natpunch learn`
// (learn/model_chunk.hpp): decoding never reads past the buffer, whatever
// decodes re-encodes to the same bytes, and a decoded chunk can be fed to
// reassembly and averaging without breaking the model (no NaN, no overrun).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "learn/model_chunk.hpp"
#include "learn/received_model.hpp"

#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace natpunch::learn;
  auto decoded = decode_model_chunk(std::span<const std::uint8_t>(data, size));
  if (!decoded) return 0;
  const auto again = encode(*decoded);
  FUZZ_CHECK(again.size() == size);
  FUZZ_CHECK(std::memcmp(again.data(), data, size) == 0);
  // Small shapes only: a fuzzed shape may describe billions of parameters.
  if (decoded->shape.parameter_count() > (1u << 16)) return 0;
  ReceivedModel received(decoded->job, decoded->round, decoded->shape);
  FUZZ_CHECK(received.add(*decoded) == ChunkVerdict::Accepted);
  FUZZ_CHECK(received.add(*decoded) == ChunkVerdict::Duplicate);
  const Eigen::VectorXf own = Eigen::VectorXf::Zero(static_cast<Eigen::Index>(decoded->shape.parameter_count()));
  const ReceivedModel* list[] = {&received};
  const Eigen::VectorXf merged = weighted_merge(own, 1.0, list);
  FUZZ_CHECK(merged.size() == own.size());
  FUZZ_CHECK(merged.allFinite());
  return 0;
}
