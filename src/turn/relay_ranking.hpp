#pragma once
// Which of the TURN relays the rendezvous offered is nearest: one STUN
// Binding request to each at once (a TURN server answers Binding without
// credentials and without keeping state), retransmitted per the policy,
// and the relays ordered by round-trip time. Relays that never answered
// (UDP blocked, or down) follow in the order they were offered: over TCP or
// TLS the first of them is as good a guess as any. A sans-IO machine on
// the contract of core/transmit.hpp, from one socket (0).
#include <optional>
#include <span>
#include <variant>
#include <vector>

#include "core/endpoint.hpp"
#include "core/rng.hpp"
#include "core/time.hpp"
#include "core/transmit.hpp"
#include "stun/client_transaction.hpp"

namespace natpunch::turn {

struct RankedRelay {
  std::size_t index = 0;             // into the list given
  Endpoint server;
  std::optional<Duration> round_trip;  // nullopt: no answer
};

namespace ranking_event {
// Every relay answered or timed out (once).
struct Done {
  std::vector<RankedRelay> ranking;
};
}  // namespace ranking_event
using RankingEvent = std::variant<ranking_event::Done>;

class RelayRanking {
 public:
  RelayRanking(std::vector<Endpoint> relays, const stun::RetransmitPolicy& policy, Rng& rng, TimePoint now);

  void on_datagram(TimePoint now, SocketId socket, const Endpoint& from, std::span<const std::uint8_t> bytes);
  std::optional<Transmit> poll_transmit(TimePoint now);
  std::optional<TimePoint> next_deadline() const;
  void on_timer(TimePoint now);
  std::optional<RankingEvent> poll_event();

  bool done() const { return done_; }
  // Fastest first, then the silent ones in the given order.
  std::vector<RankedRelay> ranking() const;

 private:
  struct Probe {
    stun::ClientTransaction transaction;
    TimePoint started;
    std::optional<Duration> round_trip;
  };
  void check_done();

  std::vector<Endpoint> relays_;
  std::vector<Probe> probes_;
  bool done_ = false;
  bool reported_ = false;
};

}  // namespace natpunch::turn
