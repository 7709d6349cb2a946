#pragma once
// The thesis's naive birthday attack (Algorithm 1): both peers fire probes
// at uniformly random ports (with repeats) of the other's public address;
// when a probe of one side leaves through the very mapping the other side
// is aiming at (A sends X->Y while B sends Y->X, both mappings alive), it
// gets through, and the handshake of wire/probe.hpp completes.
//
// A ProbingMachine with a UniformPortChooser (Repeats::Allowed) and one
// socket (Algorithm 1) or a fresh socket per probe. Local sockets are
// numbered; local_port() says which port the simulator binds for each.
#include <cstdint>

#include "core/endpoint.hpp"
#include "core/rng.hpp"
#include "core/time.hpp"
#include "punch/probing_machine.hpp"

namespace natpunch::punch {

enum class LocalPortPolicy : std::uint8_t {
  // Algorithm 1: one socket, every probe from the same local port.
  Fixed,
  // A new socket per probe: local ports taken in turn from
  // [local_port_min, local_port_max], wrapping.
  FreshPerProbe,
};

struct NaiveBirthdayConfig {
  IpAddress peer_address;  // the peer's public (NAT) address, from the rendezvous
  std::uint64_t session_id = 0;
  wire::SessionKey key{};
  wire::SessionRole role = wire::SessionRole::Caller;  // ours
  std::uint64_t probe_budget = 170000;
  Duration send_interval = kThesisSendInterval;
  // Destination ports are drawn uniformly from [min_port, max_port].
  std::uint16_t min_port = 1024;
  std::uint16_t max_port = 65535;
  LocalPortPolicy local_ports = LocalPortPolicy::Fixed;
  std::uint16_t local_port = 40000;  // Fixed
  std::uint16_t local_port_min = 1024;   // FreshPerProbe
  std::uint16_t local_port_max = 65535;  // FreshPerProbe
  // How long to keep listening after the last probe (Algorithm 1 itself
  // stops at once).
  Duration linger = seconds(1);
};

class NaiveBirthday final : public ProbingMachine {
 public:
  // The first probe is due at `start`; `rng` must outlive this object (it
  // is drawn from once per probe, so the driver's seed fixes every port).
  NaiveBirthday(const NaiveBirthdayConfig& config, Rng& rng, TimePoint start);

  // The local port of socket `socket` under the configured policy.
  std::uint16_t local_port(std::uint32_t socket) const;
  // The socket bound to `port`, if any.
  std::optional<std::uint32_t> socket_of(std::uint16_t port) const;
  const NaiveBirthdayConfig& naive_config() const { return naive_; }

 private:
  NaiveBirthdayConfig naive_;
};

}  // namespace natpunch::punch
