#include "sim/carrier_load.hpp"

#include <variant>

namespace natpunch::sim {

nat::NatConfig with_load(nat::NatConfig config, const CarrierLoad& load) {
  if (auto* block = std::get_if<nat::BlockSpec>(&config.allocator); block && load.block_background_subscribers > 0) {
    block->background_subscribers = load.block_background_subscribers;
    block->background_hold = load.background_hold.value_or(config.pending_timeout);
  }
  if (load.max_mappings_per_subscriber) config.max_mappings_per_subscriber = load.max_mappings_per_subscriber;
  return config;
}

}  // namespace natpunch::sim
