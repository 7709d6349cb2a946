#include "learn/learning_setup.hpp"

#include "core/splitmix.hpp"

namespace natpunch::learn {

std::vector<std::size_t> neighbours_of(std::size_t peer, std::size_t peers, std::size_t degree) {
  std::vector<std::size_t> out;
  if (degree == 0 || degree + 1 >= peers) {
    for (std::size_t p = 0; p < peers; ++p)
      if (p != peer) out.push_back(p);
    return out;
  }
  // Ring lattice: degree/2 on each side (one more clockwise when odd).
  const std::size_t right = (degree + 1) / 2, left = degree / 2;
  for (std::size_t k = 1; k <= left; ++k) out.push_back((peer + peers - k) % peers);
  for (std::size_t k = 1; k <= right; ++k) out.push_back((peer + k) % peers);
  return out;
}

std::vector<double> train_central(const Dataset& train, const Dataset& test, const AveragingConfig& config, const Model& initial,
                                  Rng& rng) {
  Model model = initial;
  std::vector<double> accuracy;
  for (std::uint32_t r = 0; r < config.rounds; ++r) {
    train_epochs(model, train, config.local_epochs, config.sgd, rng);
    accuracy.push_back(model.accuracy(test));
  }
  return accuracy;
}

Rng peer_rng(std::uint64_t seed, std::size_t peer) { return Rng(splitmix64(seed + 0x9e37 * (peer + 1))); }

LearningSetup prepare_learning(const Dataset& all, const SimulationConfig& config) {
  // Independent streams per purpose, so e.g. changing the loss does not change the split.
  Rng split_rng(splitmix64(config.seed ^ 0x5b1170));
  Rng init_rng(splitmix64(config.seed ^ 0x1417));
  Rng central_rng(splitmix64(config.seed ^ 0xce47));

  LearningSetup setup;
  auto [train, test] = split_train_test(all, config.test_fraction, split_rng);
  setup.train = std::move(train);
  setup.test = std::move(test);
  setup.averaging = config.averaging;
  setup.averaging.shape.inputs = static_cast<std::uint16_t>(all.feature_count());
  setup.averaging.shape.classes = static_cast<std::uint16_t>(all.classes);
  const auto& shape = setup.averaging.shape;
  setup.initial = shape.hidden == 0 ? Model(shape) : Model::initialised(shape, init_rng);
  setup.central_accuracy = train_central(setup.train, setup.test, setup.averaging, setup.initial, central_rng);
  setup.shares = partition(setup.train, config.peers, config.partition, split_rng);
  return setup;
}


}  // namespace natpunch::learn
