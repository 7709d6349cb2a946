#pragma once
// The port order for a peer, from what we know about the peer's NAT:
//
//   peer allocator  | observed port known            | otherwise
//   ----------------+--------------------------------+-------------------------
//   block           | rest of its block in lockstep, | offset-major blocks
//                   | then offset-major blocks       |   (BlockPortChooser); uniform
//                   |                                |   if the peer's mapping is
//                   |                                |   endpoint-dependent
//   sequential      | next `sequential_window` ports | uniform over its range
//                   | in lockstep, then uniform      |
//   preserving      | the observed port, then uniform| uniform over its range
//   beta            | (as otherwise)                 | densest ports first
//   uniform         | (as otherwise)                 | uniform, no repeats
//   window (beta or | its window first: in order     | the placement's order:
//   uniform with    | from the next port, or at      |   densest ports first (Beta),
//   locality)       | random (WindowPortChooser),    |   window starts offset-major
//                   | then as otherwise              |   (in order), uniform (random)
//   random / none / | (as otherwise)                 | uniform over 1024..65535
//   trace           |                                |
//
// With an endpoint-independent mapping the observed port *is* the port the
// peer's probes leave from, so it comes first whatever the allocator.
// The naive attack (Algorithm 1) is not built here: it draws uniformly with
// repeats by definition (UniformPortChooser, Repeats::Allowed).
#include <memory>
#include <optional>
#include <vector>

#include "nat/allocator_spec.hpp"
#include "nat/nat_behavior.hpp"
#include "punch/port_chooser.hpp"

namespace natpunch::punch {

struct PeerPortKnowledge {
  std::optional<nat::AllocatorSpec> allocator;  // from the peer's carrier profile or measurement
  nat::MappingBehavior mapping = nat::MappingBehavior::Unknown;
  std::optional<std::uint16_t> observed_port;  // the peer's external port seen by the rendezvous / STUN
  bool predict = true;                         // use observed_port (off: the carrier-biased order only)
  std::uint32_t sequential_window = 256;       // ports other subscribers may take meanwhile
};

std::unique_ptr<PortChooser> make_port_chooser(const PeerPortKnowledge& peer);

// The same choosers for many observed ports of one peer (port prediction
// replayed over a log, `natpunch predict`): what does not depend on the
// observed port (the Beta order, a sort of the support) is computed once.
class PeerPortModel {
 public:
  // `peer.observed_port` is ignored; make() takes it.
  explicit PeerPortModel(PeerPortKnowledge peer);
  std::unique_ptr<PortChooser> make(std::optional<std::uint16_t> observed_port) const;

 private:
  PeerPortKnowledge peer_;
  std::shared_ptr<const std::vector<std::uint16_t>> beta_order_;  // of the Beta law or placement, if any
};

}  // namespace natpunch::punch
