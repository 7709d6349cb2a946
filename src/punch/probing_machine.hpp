#pragma once
// The engine under every direct strategy: probes at a fixed rate to the
// ports a PortChooser picks, out of local sockets in turn, until the
// authenticated handshake of wire/probe.hpp completes or a budget runs out.
// Strategies differ only in their port order, socket count and budgets
// (strategies.hpp builds them), so the handshake, the rate and the
// budgets are written once.
//
// Handshake (both sides run the same machine):
//   probe arrives      -> ACK it (echoing its sequence + nonce) and remember
//                         the path as a candidate; re-send that ACK every
//                         ack_retransmit until a CONFIRM comes (max 8 times)
//   ACK echoing our    -> Connected (via_ack); CONFIRM it; stop probing
//   probe's nonce
//   CONFIRM echoing    -> Connected; stop probing
//   our ACK's nonce
// After Connected the machine still answers the peer's probes and ACKs
// (the peer may have missed ours) but sends no more probes.
#include <array>
#include <memory>
#include <utility>

#include "core/rng.hpp"
#include "punch/port_chooser.hpp"
#include "punch/punch_strategy.hpp"

namespace natpunch::punch {

struct ProbingConfig {
  IpAddress peer_address;  // the peer's public (NAT) address, from the rendezvous
  std::uint64_t session_id = 0;
  wire::SessionKey key{};  // from the rendezvous; probes/acks without it are ignored
  // Ours, from the rendezvous: we seal in our direction and accept only the peer's.
  wire::SessionRole role = wire::SessionRole::Caller;
  std::uint64_t probe_budget = 170000;
  std::optional<Duration> time_budget;  // from the start; nullopt: only the probe budget limits
  Duration send_interval = kThesisSendInterval;
  // Probe k leaves from socket k % sockets.
  std::uint32_t sockets = 1;
  // How long to keep listening after the last probe: the peer's answer to
  // a late probe is still in flight.
  Duration linger = seconds(1);
  Duration ack_retransmit = milliseconds(100);
  // Host candidates: the peer's local endpoints (as it told the rendezvous),
  // reachable when both sides sit behind one NAT that routes between its
  // clients. Besides the chooser's ports at peer_address, one probe every
  // candidate_interval goes to the next of these in turn (from socket 0),
  // and answers from them are accepted. At most kMaxCandidates are used (no
  // amplification through us), so checks stay cheap next to a blast; they
  // share the probes' sequence numbers but not the probe budget.
  std::vector<Endpoint> candidates;
  Duration candidate_interval = milliseconds(20);
};

inline constexpr std::size_t kMaxCandidates = 8;

class ProbingMachine : public PunchStrategy {
 public:
  // The first probe is due at `start`. `rng` must outlive this object: it
  // seeds the nonce secret and feeds the chooser.
  ProbingMachine(const ProbingConfig& config, std::unique_ptr<PortChooser> chooser, Rng& rng, TimePoint start);

  std::optional<Transmit> poll_transmit(TimePoint now) override;
  std::optional<PunchEvent> poll_event() override { return std::exchange(event_, std::nullopt); }
  std::optional<TimePoint> next_deadline() const override;
  void on_timer(TimePoint now) override;
  void on_datagram(TimePoint now, std::uint32_t socket, const Endpoint& from,
                   std::span<const std::uint8_t> bytes) override;
  const PunchResult& result() const override { return result_; }
  std::uint32_t socket_count() const override { return config_.sockets; }
  bool done() const override { return result_.outcome != PunchOutcome::Running && queued_ == 0; }

  const ProbingConfig& config() const { return config_; }

 private:
  static constexpr std::size_t kQueue = 4;  // answers waiting to go out; more in one instant are dropped (the peer repeats)
  static constexpr int kAckRetransmits = 8;

  bool probing() const;
  bool from_peer(const Endpoint& from) const;
  std::optional<Transmit> probe_to(const Endpoint& to, std::uint32_t socket);
  TimePoint last_probe_at() const { return next_send_ - config_.send_interval; }
  void enqueue(TimePoint now, const Transmit& datagram);
  void connect(TimePoint now, std::uint32_t socket, const Endpoint& from, bool via_ack);
  void stop(StopReason reason);
  void answer_probe(TimePoint now, std::uint32_t socket, const Endpoint& from, const wire::ProbeMessage& probe);

  ProbingConfig config_;
  std::unique_ptr<PortChooser> chooser_;
  Rng& rng_;
  wire::ProbeKey key_;
  wire::NonceKey nonces_;
  TimePoint start_;
  TimePoint next_send_;
  TimePoint next_candidate_;
  std::size_t candidate_turn_ = 0;
  // Probes to the chooser's ports: what the probe budget counts (candidate
  // checks are not part of the attack) and what picks the socket.
  std::uint64_t chooser_probes_ = 0;
  bool order_exhausted_ = false;
  wire::ProbeBytes probe_template_{};
  std::array<Transmit, kQueue> queue_{};
  std::size_t queued_ = 0;
  TimePoint answer_due_{};  // when the oldest queued answer arose
  // The last path whose probe we ACKed, while we wait for its CONFIRM.
  std::optional<Transmit> candidate_;
  TimePoint candidate_due_{};
  int candidate_retransmits_ = 0;
  PunchResult result_;
  std::optional<PunchEvent> event_;
};

}  // namespace natpunch::punch
