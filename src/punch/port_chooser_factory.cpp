#include "punch/port_chooser_factory.hpp"

#include <type_traits>

#include "punch/port_chooser_beta.hpp"
#include "punch/port_chooser_block.hpp"
#include "punch/port_chooser_chain.hpp"
#include "punch/port_chooser_prediction.hpp"
#include "punch/port_chooser_uniform.hpp"

namespace natpunch::punch {
namespace {

bool endpoint_dependent(nat::MappingBehavior m) {
  return m == nat::MappingBehavior::AddressDependent || m == nat::MappingBehavior::AddressAndPortDependent;
}

std::unique_ptr<PortChooser> carrier_order(const std::optional<nat::AllocatorSpec>& allocator, nat::MappingBehavior mapping) {
  if (!allocator) return std::make_unique<UniformPortChooser>(nat::kFirstUsablePort, nat::kLastPort, Repeats::Never);
  return std::visit(
      [mapping](const auto& spec) -> std::unique_ptr<PortChooser> {
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
          return std::make_unique<BetaPortChooser>(spec);
        else if constexpr (std::is_same_v<Spec, nat::RandomFullySpec>)
          return std::make_unique<UniformPortChooser>(nat::kFirstUsablePort, nat::kLastPort, Repeats::Never);
        else
          return std::make_unique<UniformPortChooser>(spec.min, spec.max, Repeats::Never);
      },
      *allocator);
}

// The predicted ports, or nullptr when nothing is predictable.
std::unique_ptr<PortChooser> prediction(const PeerPortKnowledge& peer) {
  if (!peer.predict || !peer.observed_port) return nullptr;
  const std::uint16_t observed = *peer.observed_port;
  if (peer.mapping == nat::MappingBehavior::EndpointIndependent || peer.mapping == nat::MappingBehavior::None)
    return std::make_unique<RepeatPortChooser>(observed, 1);
  if (!peer.allocator) return nullptr;
  if (const auto* block = std::get_if<nat::BlockSpec>(&*peer.allocator))
    return std::make_unique<PredictionPortChooser>(observed,
                                                   PredictionPortChooser::rest_of_block(observed, block->block_size));
  if (std::holds_alternative<nat::SequentialSpec>(*peer.allocator))
    return std::make_unique<PredictionPortChooser>(observed, peer.sequential_window);
  if (std::holds_alternative<nat::PreservingSpec>(*peer.allocator))
    return std::make_unique<RepeatPortChooser>(observed, 1);
  return nullptr;
}

}  // namespace

std::unique_ptr<PortChooser> make_port_chooser(const PeerPortKnowledge& peer) {
  auto order = carrier_order(peer.allocator, peer.mapping);
  if (auto predicted = prediction(peer)) return std::make_unique<ChainPortChooser>(std::move(predicted), std::move(order));
  return order;
}

}  // namespace natpunch::punch
