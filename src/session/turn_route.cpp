#include "session/turn_route.hpp"

#include <algorithm>
#include <utility>

namespace natpunch::session {

namespace {

constexpr Duration kFirstGap = seconds(1);
constexpr Duration kLongestGap = seconds(4);
// A peer that has not heard us repeats its candidate; we answer each
// repeat through TURN, at most this often.
constexpr Duration kAnswerGap = milliseconds(500);

std::uint8_t transport_bit(turn::Transport t) {
  switch (t) {
    case turn::Transport::kUdp: return rendezvous::kTurnUdp;
    case turn::Transport::kTcp: return rendezvous::kTurnTcp;
    case turn::Transport::kTls: return rendezvous::kTurnTls;
  }
  return 0;
}

std::string server_text_of(const turn::ClientConfig& c) {
  return c.server_name.empty() ? c.server.to_string() : c.server_name;
}

}  // namespace

std::vector<turn::ClientConfig> offered_turn_servers(const std::vector<rendezvous::TurnServer>& offered,
                                                     turn::Transport transport) {
  std::vector<turn::ClientConfig> out;
  for (const auto& s : offered) {
    if ((s.transports & transport_bit(transport)) == 0) continue;
    turn::ClientConfig c;
    c.server = s.address;
    if (transport == turn::Transport::kTls) c.server.port = s.tls_port;
    c.server_name = s.name;
    c.transport = transport;
    c.credentials = {s.username, s.password};
    out.push_back(std::move(c));
  }
  return out;
}

TurnRoute::TurnRoute(std::vector<turn::ClientConfig> servers, std::uint64_t seed, TimePoint now)
    : servers_(std::move(servers)), rng_(seed) {
  if (servers_.empty()) {
    servers_.emplace_back();
    fail("no TURN server to use");
    return;
  }
  server_text_ = server_text_of(servers_.front());
  label_ = "TURN via " + server_text_;
  if (servers_.size() > 1 && servers_.front().transport == turn::Transport::kUdp) {
    std::vector<Endpoint> relays;
    for (const auto& c : servers_) relays.push_back(c.server);
    ranking_.emplace(std::move(relays), kRankingPolicy, rng_, now);
    return;
  }
  choose(now, 0);
}

void TurnRoute::choose(TimePoint now, std::size_t index) {
  chosen_ = index;
  server_text_ = server_text_of(servers_[index]);
  label_ = "TURN via " + server_text_;
  relay_.emplace(servers_[index], rng_, now);
  for (const auto& address : std::exchange(pending_permits_, {})) relay_->permit(now, address);
  if (pending_peer_) relay_->set_peer(now, *std::exchange(pending_peer_, std::nullopt));
  service(now);
}

void TurnRoute::check_ranking(TimePoint now) {
  if (!ranking_ || !ranking_->done()) return;
  const auto ranked = ranking_->ranking();
  ranking_.reset();
  const auto& best = ranked.front();
  if (best.round_trip)
    note_ = "relay: the nearest of " + std::to_string(ranked.size()) + " TURN servers is " +
            server_text_of(servers_[best.index]) + " (" +
            std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(*best.round_trip).count()) +
            " ms round trip); allocating there";
  else
    note_ = "relay: none of " + std::to_string(ranked.size()) + " TURN servers answered a Binding; trying " +
            server_text_of(servers_[best.index]);
  choose(now, best.index);
}

void TurnRoute::on_datagram(TimePoint now, const Endpoint& from, std::span<const std::uint8_t> bytes) {
  if (failed_) return;
  if (ranking_) {
    ranking_->on_datagram(now, 0, from, bytes);
    check_ranking(now);
    return;
  }
  if (!relay_) return;
  relay_->on_datagram(now, 0, from, bytes);
  service(now);
}

void TurnRoute::on_connection_closed(TimePoint now) {
  if (failed_ || !relay_) return;
  relay_->on_connection_closed(now);
  service(now);
}

void TurnRoute::on_link_failed(std::string reason) { fail(std::move(reason)); }

std::optional<Transmit> TurnRoute::poll_transmit(TimePoint now) {
  if (failed_ || (!ranking_ && !relay_)) return std::nullopt;
  auto t = ranking_ ? ranking_->poll_transmit(now) : relay_->poll_transmit(now);
  if (t) t->socket = kSocket;
  return t;
}

std::optional<TimePoint> TurnRoute::next_deadline(bool announcing) const {
  if (failed_) return std::nullopt;
  if (ranking_) return ranking_->next_deadline();
  if (!relay_) return std::nullopt;
  auto t = relay_->next_deadline();
  if (announcing && announce_at_ && (!t || *announce_at_ < *t)) t = announce_at_;
  if (one_sided_ && heard_ && last_heard_) {
    const auto silent_at = *last_heard_ + kOneSidedSilence;
    if (!t || silent_at < *t) t = silent_at;
  }
  return t;
}

void TurnRoute::on_timer(TimePoint now) {
  if (failed_) return;
  if (ranking_) {
    if (auto due = ranking_->next_deadline(); due && *due <= now) ranking_->on_timer(now);
    check_ranking(now);
    return;
  }
  if (!relay_) return;
  if (auto due = relay_->next_deadline(); due && *due <= now) relay_->on_timer(now);
  if (one_sided_ && heard_ && last_heard_ && now >= *last_heard_ + kOneSidedSilence) {
    // The peer's probes stopped coming through: not usable until it is
    // heard again (its NAT or the path through the server lost it).
    heard_ = false;
    failure_ = label_ + ": the peer (reaching us from its UDP socket) not heard through it for " +
               std::to_string(std::chrono::duration_cast<seconds>(kOneSidedSilence).count()) + " s";
    announce_soon(now, true);
  }
  service(now);
}

void TurnRoute::service(TimePoint now) {
  if (!relay_) return;
  while (auto e = relay_->poll_event()) {
    if (std::holds_alternative<turn::peer_relay_event::CandidateReady>(*e)) {
      announce_soon(now, true);
    } else if (std::holds_alternative<turn::peer_relay_event::Ready>(*e)) {
      // The channel is bound: probe through TURN at once.
      if (!heard_) announce_soon(now, true);
    } else if (const auto* f = std::get_if<turn::peer_relay_event::Failed>(&*e)) {
      fail(f->error.message);
    }
  }
}

void TurnRoute::fail(std::string reason) {
  if (failed_) return;
  failed_ = true;
  announce_at_.reset();
  failure_ = std::move(reason);
}

void TurnRoute::announce_soon(TimePoint now, bool restart) {
  if (failed_ || !candidate()) return;
  if (restart) {
    announcements_ = 0;
    announce_gap_ = kFirstGap;
  }
  announce_at_ = now;
}

void TurnRoute::permit_peer(TimePoint now, const IpAddress& address) {
  if (failed_) return;
  if (!relay_) {
    if (pending_permits_.size() < turn::PeerRelay::kMaxPermitted) pending_permits_.push_back(address);
    return;
  }
  relay_->permit(now, address);
  service(now);
}

void TurnRoute::set_peer_candidate(TimePoint now, const Endpoint& peer) {
  if (failed_) return;
  if (!relay_) {
    pending_peer_ = peer;
    return;
  }
  const bool ours = candidate() == peer;
  // Our own relayed address: the peer reaches us through it from its UDP
  // socket (one-sided); where it sends from we learn in on_heard.
  if (ours) one_sided_ = true;
  if (ours || relay_->peer() == peer) {
    // A repeat: the peer has not heard us through TURN yet (one-sided:
    // also its keepalive probe, answered so that it knows we hear it).
    if (relay_->can_send() && (!last_answer_ || now - *last_answer_ >= kAnswerGap)) {
      last_answer_ = now;
      announce_at_ = now;
      if (announcements_ >= kMaxAnnouncements) announcements_ = kMaxAnnouncements - 1;
    }
    return;
  }
  relay_->set_peer(now, peer);
  service(now);
}

std::optional<TurnRoute::Announcement> TurnRoute::poll_announcement(TimePoint now) {
  if (failed_ || !announce_at_ || now < *announce_at_ || !candidate()) return std::nullopt;
  ++announcements_;
  if (heard_ || announcements_ >= kMaxAnnouncements) {
    announce_at_.reset();
  } else {
    announce_at_ = now + announce_gap_;
    announce_gap_ = std::min<Duration>(announce_gap_ * 2, kLongestGap);
  }
  Announcement a{*candidate(), relay_->can_send(), !usable()};
  counters_.announcements += (a.through_turn ? 1 : 0) + (a.over_rendezvous ? 1 : 0);
  return a;
}

bool TurnRoute::send(TimePoint now, std::span<const std::uint8_t> bytes) {
  if (failed_ || !relay_ || !relay_->send(now, bytes)) return false;
  ++counters_.sent;
  return true;
}

std::optional<turn::RelayedDatagram> TurnRoute::poll_received() {
  if (failed_ || !relay_) return std::nullopt;
  return relay_->poll_received();
}

void TurnRoute::on_heard(TimePoint now, const Endpoint& from) {
  ++counters_.received;
  last_heard_ = now;
  // Answer where the peer's authentic datagram came from: its relayed
  // address, or (one-sided) the port its NAT uses towards our relay.
  if (relay_ && relay_->peer() != from) {
    relay_->set_peer(now, from);
    service(now);
  }
  if (heard_) return;
  heard_ = true;
  // Tell the peer we hear it (it may not have heard us): one more probe.
  announce_at_ = now;
  announcements_ = kMaxAnnouncements - 1;
}

std::optional<std::string> TurnRoute::poll_failure() { return std::exchange(failure_, std::nullopt); }

std::optional<std::string> TurnRoute::poll_note() { return std::exchange(note_, std::nullopt); }

void TurnRoute::close(TimePoint now) {
  announce_at_.reset();
  ranking_.reset();
  if (!failed_ && relay_) relay_->close(now);
}

}  // namespace natpunch::session
