#pragma once
// The model the peers train together: multinomial logistic regression
// (hidden == 0) or a one-hidden-layer ReLU MLP, trained with mini-batch SGD
// on Eigen. All parameters live in one flat vector so that averaging,
// serialising and chunking treat every architecture alike; the layers are
// Eigen::Map views into it.
//
// Flat layout (column-major matrices):
//   logistic: W [classes x inputs], b [classes]
//   MLP:      W1 [hidden x inputs], b1 [hidden], W2 [classes x hidden], b2 [classes]
#include <cstdint>

#include <Eigen/Core>

#include "core/rng.hpp"
#include "learn/dataset.hpp"

namespace natpunch::learn {

struct ModelShape {
  std::uint16_t inputs = 64;
  std::uint16_t hidden = 0;   // 0: logistic regression
  std::uint16_t classes = 10;

  std::size_t parameter_count() const;
  bool operator==(const ModelShape&) const = default;
};

struct SgdConfig {
  float learning_rate = 1.0f;   // suits logistic regression on [0, 1] features; the MLP wants ~0.2
  std::size_t batch_size = 32;
  float l2 = 1e-4f;   // weight decay: keeps the averaged models close to each other
};

class Model {
 public:
  explicit Model(ModelShape shape);  // all zeros (a fine start for logistic regression)
  // Small random weights; peers that will average must start from the same
  // draw (same seed), or their hidden units do not correspond.
  static Model initialised(ModelShape shape, Rng& rng);

  const ModelShape& shape() const { return shape_; }
  Eigen::VectorXf& parameters() { return parameters_; }
  const Eigen::VectorXf& parameters() const { return parameters_; }

  // Class scores, one row per row of `x`.
  Eigen::MatrixXf logits(const Eigen::MatrixXf& x) const;
  // Fraction of `data` classified correctly.
  double accuracy(const Dataset& data) const;
  // One SGD step on a mini-batch (rows of x with their labels).
  void sgd_step(const Eigen::MatrixXf& x, const std::vector<std::uint8_t>& labels, const SgdConfig& sgd);

 private:
  ModelShape shape_;
  Eigen::VectorXf parameters_;
};

// `epochs` passes over `data` in mini-batches of a fresh random order each.
void train_epochs(Model& model, const Dataset& data, int epochs, const SgdConfig& sgd, Rng& rng);

}  // namespace natpunch::learn
