#include "turn/relay_ranking.hpp"

#include <algorithm>

#include "stun/binding_request.hpp"

namespace natpunch::turn {

RelayRanking::RelayRanking(std::vector<Endpoint> relays, const stun::RetransmitPolicy& policy, Rng& rng,
                           TimePoint now)
    : relays_(std::move(relays)) {
  for (const Endpoint& relay : relays_) {
    stun::TransactionId id{};
    rng.fill(id);
    probes_.push_back(Probe{stun::ClientTransaction(stun::make_binding_request(id), relay, policy, now), now, {}});
  }
  check_done();
}

void RelayRanking::on_datagram(TimePoint now, SocketId socket, const Endpoint& from,
                               std::span<const std::uint8_t> bytes) {
  if (done_ || socket != 0) return;
  const auto message = stun::MessageView::decode(bytes);
  if (!message) return;
  for (Probe& probe : probes_) {
    // The answer must come from the relay asked (a spoofed answer would
    // need the 96-bit transaction id as well).
    if (probe.transaction.destination() != from || !probe.transaction.on_response(*message)) continue;
    if (probe.transaction.state() == stun::TransactionState::Succeeded) probe.round_trip = now - probe.started;
    break;
  }
  check_done();
}

std::optional<Transmit> RelayRanking::poll_transmit(TimePoint now) {
  for (Probe& probe : probes_)
    if (const auto bytes = probe.transaction.poll_transmit(now))
      return Transmit{0, probe.transaction.destination(), DatagramBytes(*bytes)};
  return std::nullopt;
}

std::optional<TimePoint> RelayRanking::next_deadline() const {
  std::optional<TimePoint> deadline;
  for (const Probe& probe : probes_)
    if (const auto t = probe.transaction.next_deadline(); t && (!deadline || *t < *deadline)) deadline = t;
  return deadline;
}

void RelayRanking::on_timer(TimePoint now) {
  for (Probe& probe : probes_) probe.transaction.on_timer(now);
  check_done();
}

void RelayRanking::check_done() {
  done_ = std::all_of(probes_.begin(), probes_.end(), [](const Probe& p) { return p.transaction.finished(); });
}

std::optional<RankingEvent> RelayRanking::poll_event() {
  if (!done_ || reported_) return std::nullopt;
  reported_ = true;
  return ranking_event::Done{ranking()};
}

std::vector<RankedRelay> RelayRanking::ranking() const {
  std::vector<RankedRelay> out;
  for (std::size_t i = 0; i < probes_.size(); ++i) out.push_back(RankedRelay{i, relays_[i], probes_[i].round_trip});
  std::stable_sort(out.begin(), out.end(), [](const RankedRelay& a, const RankedRelay& b) {
    if (a.round_trip && b.round_trip) return *a.round_trip < *b.round_trip;
    return a.round_trip.has_value() && !b.round_trip.has_value();
  });
  return out;
}

}  // namespace natpunch::turn
