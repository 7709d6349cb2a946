#pragma once
// One neighbour's model for one round, put together from whichever chunks
// arrived. Each parameter is either covered by an arrived chunk or not;
// averaging (weighted_merge) uses a neighbour's value only where it is
// covered, so a lost chunk costs that range the neighbour's contribution
// for one round and never corrupts anything.
#include <cstdint>
#include <span>
#include <vector>

#include <Eigen/Core>

#include "learn/model_chunk.hpp"

namespace natpunch::learn {

enum class ChunkVerdict : std::uint8_t {
  Accepted,
  Duplicate,     // this chunk index already arrived (retransmission, duplication)
  WrongModel,    // another job, round or shape than this model
  Inconsistent,  // disagrees with earlier chunks (chunk count or weight) or overlaps them
};
const char* to_string(ChunkVerdict verdict);

class ReceivedModel {
 public:
  ReceivedModel(std::uint32_t job, std::uint32_t round, ModelShape shape);

  ChunkVerdict add(const ModelChunk& chunk);

  std::uint32_t round() const { return round_; }
  std::uint32_t weight() const { return weight_; }
  std::size_t chunks_received() const { return chunks_received_; }
  std::size_t chunk_count() const { return chunk_count_; }  // 0 until a chunk arrived
  bool complete() const { return chunk_count_ > 0 && chunks_received_ == chunk_count_; }
  bool empty() const { return chunks_received_ == 0; }
  // 1 where a parameter arrived, 0 elsewhere.
  const Eigen::VectorXf& coverage() const { return coverage_; }
  const Eigen::VectorXf& values() const { return values_; }

 private:
  std::uint32_t job_;
  std::uint32_t round_;
  ModelShape shape_;
  Eigen::VectorXf values_;
  Eigen::VectorXf coverage_;
  std::vector<bool> seen_;
  std::size_t chunk_count_ = 0;
  std::size_t chunks_received_ = 0;
  std::uint32_t weight_ = 0;
};

// Per parameter: (own_weight * own + sum of weight * value over the
// neighbours that delivered that parameter) / (the weights that took part).
// Parameters nobody else delivered keep the own value.
Eigen::VectorXf weighted_merge(const Eigen::VectorXf& own, double own_weight, std::span<const ReceivedModel* const> received);

}  // namespace natpunch::learn
