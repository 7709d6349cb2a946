#pragma once
// The thesis's naive birthday attack (Algorithm 1) as a sans-IO state
// machine. Both peers fire probes at uniformly random ports of the other's
// public address; when a probe of one side leaves through the very mapping
// the other side is aiming at (A sends X->Y while B sends Y->X, both
// mappings alive), it gets through. The receiver ACKs to the probe's source
// and both sides stop probing.
//
// The driver (real sockets, the simulator, tests) loops:
//   while (auto d = attack.poll_transmit(now)) send d from d->local_port;
//   wait until attack.next_deadline(), feeding on_datagram() meanwhile;
//   attack.on_timer(now);
// poll_transmit() hands out at most one datagram per call: a pending ACK
// first, then the probe due at `now`. Probes are value types with an inline
// payload, so a probe costs no heap allocation (the simulator sends ~85
// million of them for one carrier matrix).
#include <cstdint>
#include <optional>
#include <span>

#include "core/endpoint.hpp"
#include "core/rng.hpp"
#include "core/time.hpp"
#include "wire/probe.hpp"

namespace natpunch::punch {

// One probe per ~2.98 ms: the thesis's phones (Section VI-E).
inline constexpr Duration kThesisSendInterval = std::chrono::microseconds(2980);

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
  std::uint64_t probe_budget = 170000;
  Duration send_interval = kThesisSendInterval;
  // Destination ports are drawn uniformly from [min_port, max_port].
  std::uint16_t min_port = 1024;
  std::uint16_t max_port = 65535;
  LocalPortPolicy local_ports = LocalPortPolicy::Fixed;
  std::uint16_t local_port = 40000;  // Fixed
  std::uint16_t local_port_min = 1024;   // FreshPerProbe
  std::uint16_t local_port_max = 65535;  // FreshPerProbe
  // How long to keep listening after the last probe: the peer's answer to
  // a late probe is still in flight (Algorithm 1 itself stops at once).
  Duration linger = seconds(1);
};

enum class PunchOutcome : std::uint8_t {
  Running,
  Connected,        // a probe or ACK of this session arrived
  BudgetExhausted,  // probe_budget probes sent and nothing came back within linger
};

struct NaiveBirthdayResult {
  PunchOutcome outcome = PunchOutcome::Running;
  std::uint64_t probes_sent = 0;
  std::uint64_t acks_sent = 0;
  // When Connected: what arrived, on which local port, from which of the
  // peer's external endpoints (the path to keep alive).
  bool via_ack = false;
  TimePoint connected_at{};
  Duration time_to_connect{};  // connected_at - start
  std::uint16_t local_port = 0;
  Endpoint peer;
};

// One datagram to send from `local_port` to `to`.
struct PunchDatagram {
  std::uint16_t local_port = 0;
  Endpoint to;
  wire::ProbeBytes bytes{};
};

class NaiveBirthday {
 public:
  // The first probe is due at `start`; `rng` must outlive this object (it
  // is drawn from once per probe, so the driver's seed fixes every port).
  NaiveBirthday(const NaiveBirthdayConfig& config, Rng& rng, TimePoint start);

  std::optional<PunchDatagram> poll_transmit(TimePoint now);
  // nullopt once done().
  std::optional<TimePoint> next_deadline() const;
  void on_timer(TimePoint now);
  // A datagram that arrived on `local_port` from `from`.
  void on_datagram(TimePoint now, std::uint16_t local_port, const Endpoint& from,
                   std::span<const std::uint8_t> bytes);

  // Nothing left to send or wait for.
  bool done() const { return result_.outcome != PunchOutcome::Running && !pending_ack_; }
  const NaiveBirthdayResult& result() const { return result_; }
  const NaiveBirthdayConfig& config() const { return config_; }

 private:
  // The authentication seam: issue 5 adds the MAC check here (and in
  // wire::decode_probe); for now the peer's address and session id decide.
  bool authentic(const Endpoint& from, const wire::ProbeMessage& message) const;
  std::uint16_t next_local_port();
  std::uint16_t random_port();  // uniform in [min_port, max_port]

  NaiveBirthdayConfig config_;
  Rng& rng_;
  TimePoint start_;
  TimePoint next_send_;
  std::uint16_t fresh_port_;
  std::uint32_t port_span_ = 0;  // max_port - min_port + 1
  wire::ProbeBytes probe_template_{};
  std::optional<PunchDatagram> pending_ack_;  // one slot: a burst of probes needs only one ACK to land
  TimePoint ack_due_{};
  NaiveBirthdayResult result_;
};

}  // namespace natpunch::punch
