#include "punch/port_chooser_factory.hpp"

#include <type_traits>
#include <utility>

#include "punch/port_chooser_beta.hpp"
#include "punch/port_chooser_block.hpp"
#include "punch/port_chooser_chain.hpp"
#include "punch/port_chooser_prediction.hpp"
#include "punch/port_chooser_uniform.hpp"
#include "punch/port_chooser_window.hpp"

namespace natpunch::punch {
namespace {

using BetaOrder = std::shared_ptr<const std::vector<std::uint16_t>>;

bool endpoint_dependent(nat::MappingBehavior m) {
  return m == nat::MappingBehavior::AddressDependent || m == nat::MappingBehavior::AddressAndPortDependent;
}

std::unique_ptr<PortChooser> full_range() {
  return std::make_unique<UniformPortChooser>(nat::kFirstUsablePort, nat::kLastPort, Repeats::Never);
}

// Where a new window lands, from the placement: the densest ports first
// (Beta), the windows' first ports offset-major (uniform, in order: a stay
// starts at its window's first port), or uniform (uniform, random order).
std::unique_ptr<PortChooser> placement_order(const nat::WindowSpec& spec, const BetaOrder& beta_order) {
  if (const auto* beta = std::get_if<nat::BetaSpec>(&spec.placement))
    return std::make_unique<BetaPortChooser>(*beta, beta_order);
  const auto& uniform = std::get<nat::UniformSpec>(spec.placement);
  if (spec.order == nat::WindowOrder::InOrder)
    return std::make_unique<BlockPortChooser>(spec.size, uniform.min, uniform.max, spec.offset);
  return std::make_unique<UniformPortChooser>(uniform.min, uniform.max, Repeats::Never);
}

std::unique_ptr<PortChooser> carrier_order(const std::optional<nat::AllocatorSpec>& allocator, nat::MappingBehavior mapping,
                                           const BetaOrder& beta_order) {
  if (!allocator) return full_range();
  return std::visit(
      [&](const auto& spec) -> std::unique_ptr<PortChooser> {
        using Spec = std::decay_t<decltype(spec)>;
        // Offset-major blocks pay off against a peer whose low offsets are
        // open to anyone it has sent to (EIM). An endpoint-dependent peer's
        // port at offset r only admits the one port it aimed at, r probes
        // into its attack, so its blocks tell nothing once prediction is
        // over: uniform without repeats.
        if constexpr (std::is_same_v<Spec, nat::BlockSpec>)
          return endpoint_dependent(mapping)
                     ? std::unique_ptr<PortChooser>(std::make_unique<UniformPortChooser>(spec.min, spec.max, Repeats::Never))
                     : std::make_unique<BlockPortChooser>(spec.block_size, spec.min, spec.max);
        else if constexpr (std::is_same_v<Spec, nat::BetaSpec>)
          return std::make_unique<BetaPortChooser>(spec, beta_order);
        else if constexpr (std::is_same_v<Spec, nat::WindowSpec>)
          return placement_order(spec, beta_order);
        else if constexpr (std::is_same_v<Spec, nat::RandomFullySpec> || std::is_same_v<Spec, nat::TraceSpec>)
          return full_range();
        else
          return std::make_unique<UniformPortChooser>(spec.min, spec.max, Repeats::Never);
      },
      *allocator);
}

// The predicted ports, or nullptr when nothing is predictable.
std::unique_ptr<PortChooser> prediction(const PeerPortKnowledge& peer, std::optional<std::uint16_t> observed_port) {
  if (!peer.predict || !observed_port) return nullptr;
  const std::uint16_t observed = *observed_port;
  if (peer.mapping == nat::MappingBehavior::EndpointIndependent || peer.mapping == nat::MappingBehavior::None)
    return std::make_unique<RepeatPortChooser>(observed, 1);
  if (!peer.allocator) return nullptr;
  if (const auto* block = std::get_if<nat::BlockSpec>(&*peer.allocator))
    return std::make_unique<PredictionPortChooser>(observed,
                                                   PredictionPortChooser::rest_of_block(observed, block->block_size));
  if (const auto* window = std::get_if<nat::WindowSpec>(&*peer.allocator))
    return std::make_unique<WindowPortChooser>(*window, observed);
  if (std::holds_alternative<nat::SequentialSpec>(*peer.allocator))
    return std::make_unique<PredictionPortChooser>(observed, peer.sequential_window);
  if (std::holds_alternative<nat::PreservingSpec>(*peer.allocator))
    return std::make_unique<RepeatPortChooser>(observed, 1);
  return nullptr;
}

BetaOrder beta_order_of(const std::optional<nat::AllocatorSpec>& allocator) {
  if (!allocator) return nullptr;
  if (const auto* beta = std::get_if<nat::BetaSpec>(&*allocator)) return BetaPortChooser::densest_first_order(*beta);
  if (const auto* window = std::get_if<nat::WindowSpec>(&*allocator))
    if (const auto* beta = std::get_if<nat::BetaSpec>(&window->placement))
      return BetaPortChooser::densest_first_order(*beta);
  return nullptr;
}

std::unique_ptr<PortChooser> compose(const PeerPortKnowledge& peer, std::optional<std::uint16_t> observed,
                                     const BetaOrder& beta_order) {
  auto order = carrier_order(peer.allocator, peer.mapping, beta_order);
  if (auto predicted = prediction(peer, observed)) return std::make_unique<ChainPortChooser>(std::move(predicted), std::move(order));
  return order;
}

}  // namespace

std::unique_ptr<PortChooser> make_port_chooser(const PeerPortKnowledge& peer) {
  return compose(peer, peer.observed_port, beta_order_of(peer.allocator));
}

PeerPortModel::PeerPortModel(PeerPortKnowledge peer) : peer_(std::move(peer)), beta_order_(beta_order_of(peer_.allocator)) {
  peer_.observed_port.reset();
}

std::unique_ptr<PortChooser> PeerPortModel::make(std::optional<std::uint16_t> observed_port) const {
  return compose(peer_, observed_port, beta_order_);
}

}  // namespace natpunch::punch
