#pragma once
// Builds the state machine for a chosen strategy (strategy_selection.hpp).
// Every direct strategy is a ProbingMachine; they differ in where probes go
// and out of how many local sockets:
//
//   direct, hole punch   the peer's observed endpoint, again and again, from
//                        socket 0 (the socket the rendezvous saw); a side
//                        with nothing to aim at only listens and answers
//   one hard side        easy side (EIM): the peer's ports in the order its
//                        allocator suggests (prediction first), 1 socket;
//                        hard side: the easy side's endpoint from
//                        `many_sockets` sockets in turn, each a new mapping
//   naive birthday       uniform ports with repeats, 1 socket (Algorithm 1)
//   improved birthday    prediction, then the carrier-biased order
//                        (port_chooser_factory.hpp), no repeats; an EIM side
//                        spreads probes over `many_sockets` sockets so more
//                        of its own ports are open to the peer's guesses
//   relay only           no machine that probes: Stopped(RelayOnly) at once
//
// Socket 0 must be the socket that registered with the rendezvous: its
// external port is the `observed_port` the peer was told.
#include <memory>
#include <vector>

#include "core/rng.hpp"
#include "punch/probing_machine.hpp"
#include "punch/strategy_selection.hpp"

namespace natpunch::punch {

struct StrategyParams {
  IpAddress peer_address;
  std::uint64_t session_id = 0;
  wire::SessionKey key{};
  wire::SessionRole role = wire::SessionRole::Caller;  // ours (probes are sealed per direction)
  std::uint64_t probe_budget = 170000;
  std::optional<Duration> time_budget;
  Duration send_interval = kThesisSendInterval;
  Duration linger = seconds(1);
  std::uint32_t many_sockets = 256;
  bool predict = true;  // use observed ports (off: only the carrier-biased order)
  // The peer's host candidates, checked beside the strategy's own probes
  // (ProbingConfig::candidates).
  std::vector<Endpoint> candidates;
};

std::unique_ptr<PunchStrategy> make_strategy(StrategyKind kind, const SideKnowledge& local, const SideKnowledge& peer,
                                             const StrategyParams& params, Rng& rng, TimePoint start);

// The strategy of a pair with nothing direct to try: already Stopped.
class RelayOnlyStrategy final : public PunchStrategy {
 public:
  RelayOnlyStrategy() {
    result_.outcome = PunchOutcome::Stopped;
    result_.stop_reason = StopReason::RelayOnly;
  }
  std::optional<Transmit> poll_transmit(TimePoint) override { return std::nullopt; }
  std::optional<PunchEvent> poll_event() override {
    if (reported_) return std::nullopt;
    reported_ = true;
    return punch_event::Stopped{StopReason::RelayOnly};
  }
  std::optional<TimePoint> next_deadline() const override { return std::nullopt; }
  void on_timer(TimePoint) override {}
  void on_datagram(TimePoint, std::uint32_t, const Endpoint&, std::span<const std::uint8_t>) override {}
  const PunchResult& result() const override { return result_; }
  std::uint32_t socket_count() const override { return 0; }
  bool done() const override { return true; }

 private:
  PunchResult result_;
  bool reported_ = false;
};

}  // namespace natpunch::punch
