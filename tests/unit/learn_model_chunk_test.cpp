// Model updates on the wire: encoding, the decoder's distinct errors, and
// reassembly under loss (a lost chunk never corrupts the merged model).
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <functional>
#include <random>
#include <string>

#include "learn/model_chunk.hpp"
#include "learn/received_model.hpp"

namespace natpunch::learn {
namespace {

constexpr ModelShape kShape{64, 0, 10};  // 650 parameters

Eigen::VectorXf ramp(std::size_t n, float scale) {
  Eigen::VectorXf v(static_cast<Eigen::Index>(n));
  for (Eigen::Index i = 0; i < v.size(); ++i) v[i] = scale * (static_cast<float>(i % 97) - 48.0f) / 16.0f;
  return v;
}

TEST(LearnModelChunk, EveryChunkFitsTheDatagramAndRoundTrips) {
  const Eigen::VectorXf params = ramp(kShape.parameter_count(), 1.0f);
  for (auto encoding : {ChunkEncoding::Float32, ChunkEncoding::Float16}) {
    for (std::size_t mtu : {100u, 576u, 1200u, 9000u}) {
      const auto chunks = split_model(params, kShape, ChunkHeader{9, 3, 400, encoding}, mtu);
      ASSERT_FALSE(chunks.empty());
      std::size_t covered = 0;
      for (const auto& c : chunks) {
        const auto bytes = encode(c);
        EXPECT_LE(bytes.size(), mtu);
        auto back = decode_model_chunk(bytes);
        ASSERT_TRUE(back.ok()) << to_string(back.error());
        EXPECT_EQ(back->offset, covered);
        EXPECT_EQ(back->count, chunks.size());
        EXPECT_EQ(back->round, 3u);
        EXPECT_EQ(back->job, 9u);
        EXPECT_EQ(back->weight, 400u);
        EXPECT_EQ(back->shape, kShape);
        for (std::size_t i = 0; i < back->values.size(); ++i)
          EXPECT_NEAR(back->values[i], params[static_cast<Eigen::Index>(covered + i)],
                      encoding == ChunkEncoding::Float32 ? 0.0f : 2e-3f);
        covered += back->values.size();
      }
      EXPECT_EQ(covered, kShape.parameter_count());
    }
  }
  // float16 halves the bytes on the wire.
  EXPECT_EQ(split_model(params, kShape, {1, 1, 1, ChunkEncoding::Float32}, 1200).size(), 3u);
  EXPECT_EQ(split_model(params, kShape, {1, 1, 1, ChunkEncoding::Float16}, 1200).size(), 2u);
  EXPECT_TRUE(split_model(params, kShape, {}, kChunkHeaderSize + kChunkTrailerSize + 3).empty());
}

// Rewrites the CRC so a test reaches the check after it.
std::vector<std::uint8_t> resealed(std::vector<std::uint8_t> bytes) {
  const std::size_t body = bytes.size() - 4;
  const auto crc = static_cast<std::uint32_t>(crc32(crc32(0L, Z_NULL, 0), bytes.data(), static_cast<uInt>(body)));
  for (int i = 0; i < 4; ++i) bytes[body + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(crc >> (24 - 8 * i));
  return bytes;
}

struct CorruptCase {
  const char* name;
  std::function<std::vector<std::uint8_t>(std::vector<std::uint8_t>)> corrupt;
  ChunkError error;
};

class CorruptChunk : public ::testing::TestWithParam<CorruptCase> {};

TEST_P(CorruptChunk, IsRejectedWithItsOwnError) {
  ModelChunk c;
  c.job = 1;
  c.round = 2;
  c.shape = kShape;
  c.index = 1;
  c.count = 3;
  c.offset = 100;
  c.weight = 5;
  c.values = {0.5f, -1.0f, 2.0f};
  auto bytes = GetParam().corrupt(encode(c));
  auto decoded = decode_model_chunk(bytes);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.error(), GetParam().error) << to_string(decoded.error());
}

using Bytes = std::vector<std::uint8_t>;
INSTANTIATE_TEST_SUITE_P(
    Learn, CorruptChunk,
    ::testing::Values(
        CorruptCase{"empty", [](Bytes) { return Bytes{}; }, ChunkError::TooShort},
        CorruptCase{"header_only", [](Bytes b) { b.resize(kChunkHeaderSize); return b; }, ChunkError::TooShort},
        CorruptCase{"magic", [](Bytes b) { b[1] = 'X'; return b; }, ChunkError::BadMagic},
        CorruptCase{"version", [](Bytes b) { b[2] = 2; return b; }, ChunkError::BadVersion},
        CorruptCase{"encoding", [](Bytes b) { b[3] = 7; return b; }, ChunkError::BadEncoding},
        CorruptCase{"truncated", [](Bytes b) { b.pop_back(); return b; }, ChunkError::BadLength},
        CorruptCase{"count_lies", [](Bytes b) { b[27] = 4; return b; }, ChunkError::BadLength},
        CorruptCase{"flipped_bit", [](Bytes b) { b[kChunkHeaderSize] ^= 0x10; return b; }, ChunkError::BadChecksum},
        CorruptCase{"index_past_count", [](Bytes b) { b[19] = 3; return resealed(b); }, ChunkError::BadIndex},
        CorruptCase{"zero_count", [](Bytes b) { b[19] = 0; b[21] = 0; return resealed(b); }, ChunkError::BadIndex},
        CorruptCase{"range_past_model", [](Bytes b) { b[24] = 0x02; b[25] = 0x88; return resealed(b); }, ChunkError::BadRange},
        CorruptCase{"nan", [](Bytes b) { b[32] = 0x7f; b[33] = 0xc0; return resealed(b); }, ChunkError::NonFinite}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(LearnReceivedModel, LostChunksLeaveTheirRangeToTheOwnModel) {
  const auto n = kShape.parameter_count();
  const Eigen::VectorXf own = Eigen::VectorXf::Constant(static_cast<Eigen::Index>(n), 1.0f);
  const Eigen::VectorXf theirs = ramp(n, 3.0f);
  std::mt19937 rng(11);
  for (int trial = 0; trial < 50; ++trial) {
    ReceivedModel received(1, 4, kShape);
    auto chunks = split_model(theirs, kShape, {1, 4, 100, ChunkEncoding::Float32}, 300);
    ASSERT_GT(chunks.size(), 3u);
    std::shuffle(chunks.begin(), chunks.end(), rng);
    std::vector<bool> arrived(n, false);
    for (const auto& c : chunks) {
      if (rng() % 3 == 0) continue;  // lost
      auto decoded = decode_model_chunk(encode(c));
      ASSERT_TRUE(decoded.ok());
      ASSERT_EQ(received.add(*decoded), ChunkVerdict::Accepted);
      for (std::size_t i = 0; i < c.values.size(); ++i) arrived[c.offset + i] = true;
    }
    const ReceivedModel* list[] = {&received};
    // Equal weights: an arrived parameter is the mean, a lost one stays ours.
    const Eigen::VectorXf merged = weighted_merge(own, 100.0, list);
    for (std::size_t i = 0; i < n; ++i) {
      const auto k = static_cast<Eigen::Index>(i);
      const float expected = arrived[i] ? (own[k] + theirs[k]) / 2 : own[k];
      ASSERT_NEAR(merged[k], expected, 1e-5f) << "parameter " << i << " trial " << trial;
    }
  }
}

TEST(LearnReceivedModel, RefusesDuplicatesStrangersAndContradictions) {
  const Eigen::VectorXf theirs = ramp(kShape.parameter_count(), 1.0f);
  auto chunks = split_model(theirs, kShape, {1, 4, 100, ChunkEncoding::Float32}, 1200);
  ReceivedModel received(1, 4, kShape);
  EXPECT_EQ(received.add(chunks[0]), ChunkVerdict::Accepted);
  EXPECT_EQ(received.add(chunks[0]), ChunkVerdict::Duplicate);
  auto other_round = chunks[1];
  other_round.round = 5;
  EXPECT_EQ(received.add(other_round), ChunkVerdict::WrongModel);
  auto other_job = chunks[1];
  other_job.job = 2;
  EXPECT_EQ(received.add(other_job), ChunkVerdict::WrongModel);
  auto other_shape = chunks[1];
  other_shape.shape.hidden = 8;
  EXPECT_EQ(received.add(other_shape), ChunkVerdict::WrongModel);
  auto other_weight = chunks[1];
  other_weight.weight = 7;
  EXPECT_EQ(received.add(other_weight), ChunkVerdict::Inconsistent);
  auto overlapping = chunks[1];
  overlapping.offset -= 1;
  EXPECT_EQ(received.add(overlapping), ChunkVerdict::Inconsistent);
  EXPECT_FALSE(received.complete());
  EXPECT_EQ(received.add(chunks[1]), ChunkVerdict::Accepted);
  EXPECT_EQ(received.add(chunks[2]), ChunkVerdict::Accepted);
  EXPECT_TRUE(received.complete());
  EXPECT_EQ(received.values(), theirs);
}

TEST(LearnReceivedModel, MergeWeighsBySamples) {
  const Eigen::VectorXf own = Eigen::VectorXf::Zero(static_cast<Eigen::Index>(kShape.parameter_count()));
  const Eigen::VectorXf theirs = Eigen::VectorXf::Constant(own.size(), 4.0f);
  ReceivedModel received(1, 1, kShape);
  for (const auto& c : split_model(theirs, kShape, {1, 1, 300, ChunkEncoding::Float32}, 1200)) received.add(c);
  const ReceivedModel* list[] = {&received, nullptr};
  const Eigen::VectorXf merged = weighted_merge(own, 100.0, list);
  EXPECT_NEAR(merged.minCoeff(), 3.0f, 1e-6f);  // (100*0 + 300*4) / 400
  EXPECT_NEAR(merged.maxCoeff(), 3.0f, 1e-6f);
}

}  // namespace
}  // namespace natpunch::learn
