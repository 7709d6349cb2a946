#include "learn/received_model.hpp"

namespace natpunch::learn {

const char* to_string(ChunkVerdict verdict) {
  switch (verdict) {
    case ChunkVerdict::Accepted: return "accepted";
    case ChunkVerdict::Duplicate: return "duplicate";
    case ChunkVerdict::WrongModel: return "wrong model";
    case ChunkVerdict::Inconsistent: return "inconsistent";
  }
  return "?";
}

ReceivedModel::ReceivedModel(std::uint32_t job, std::uint32_t round, ModelShape shape)
    : job_(job),
      round_(round),
      shape_(shape),
      values_(Eigen::VectorXf::Zero(static_cast<Eigen::Index>(shape.parameter_count()))),
      coverage_(Eigen::VectorXf::Zero(static_cast<Eigen::Index>(shape.parameter_count()))) {}

ChunkVerdict ReceivedModel::add(const ModelChunk& chunk) {
  if (chunk.job != job_ || chunk.round != round_ || !(chunk.shape == shape_)) return ChunkVerdict::WrongModel;
  // decode_model_chunk guarantees these; a chunk built in memory may not.
  if (chunk.count == 0 || chunk.index >= chunk.count || chunk.values.empty() ||
      std::size_t{chunk.offset} + chunk.values.size() > shape_.parameter_count())
    return ChunkVerdict::Inconsistent;
  if (chunk_count_ == 0) {
    chunk_count_ = chunk.count;
    weight_ = chunk.weight;
    seen_.assign(chunk_count_, false);
  } else if (chunk.count != chunk_count_ || chunk.weight != weight_) {
    return ChunkVerdict::Inconsistent;
  }
  if (seen_[chunk.index]) return ChunkVerdict::Duplicate;
  const auto offset = static_cast<Eigen::Index>(chunk.offset);
  const auto n = static_cast<Eigen::Index>(chunk.values.size());
  // Overlap means the sender cut its model differently per chunk: refuse
  // rather than guess which value is meant.
  if (coverage_.segment(offset, n).any()) return ChunkVerdict::Inconsistent;
  values_.segment(offset, n) = Eigen::Map<const Eigen::VectorXf>(chunk.values.data(), n);
  coverage_.segment(offset, n).setOnes();
  seen_[chunk.index] = true;
  ++chunks_received_;
  return ChunkVerdict::Accepted;
}

Eigen::VectorXf weighted_merge(const Eigen::VectorXf& own, double own_weight, std::span<const ReceivedModel* const> received) {
  Eigen::VectorXd sum = own.cast<double>() * own_weight;
  Eigen::VectorXd weights = Eigen::VectorXd::Constant(own.size(), own_weight);
  for (const ReceivedModel* model : received) {
    if (model == nullptr || model->empty() || model->values().size() != own.size()) continue;
    const double w = model->weight();
    const Eigen::VectorXd covered = model->coverage().cast<double>();
    sum += w * covered.cwiseProduct(model->values().cast<double>());
    weights += w * covered;
  }
  Eigen::VectorXf merged = own;
  for (Eigen::Index i = 0; i < own.size(); ++i)
    if (weights[i] > 0) merged[i] = static_cast<float>(sum[i] / weights[i]);
  return merged;
}

}  // namespace natpunch::learn
