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

TurnRoute::TurnRoute(std::vector<turn::ClientConfig> servers, std::uint64_t seed, TimePoint now,
                     TurnCredentialSource credentials)
    : servers_(std::move(servers)), rng_(seed), credentials_(std::move(credentials)) {
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
  open_lane(now, current_, kSocket, servers_[index]);
  service(now);
}

TurnRoute::Lane& TurnRoute::open_lane(TimePoint now, std::optional<Lane>& slot, SocketId socket,
                                      const turn::ClientConfig& config) {
  slot.reset();
  slot.emplace();
  Lane& lane = *slot;
  lane.socket = socket;
  lane.generation = ++generations_;
  lane.config = config;
  lane.relay.emplace(lane.config, rng_, now);
  for (const auto& address : permits_) lane.relay->permit(now, address);
  if (peer_) lane.relay->set_peer(now, *peer_);
  return lane;
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

TurnRoute::Lane* TurnRoute::lane_of(SocketId socket) {
  if (current_ && current_->socket == socket) return &*current_;
  if (next_ && next_->socket == socket) return &*next_;
  return nullptr;
}

std::vector<TurnLinkWanted> TurnRoute::links() const {
  std::vector<TurnLinkWanted> out;
  if (failed_) return out;
  // The ranking probes from the first link, which the first allocation keeps.
  if (ranking_) out.push_back({kSocket, generations_ + 1, &servers_.front()});
  if (current_) out.push_back({current_->socket, current_->generation, &current_->config});
  if (next_) out.push_back({next_->socket, next_->generation, &next_->config});
  return out;
}

void TurnRoute::on_datagram(TimePoint now, SocketId socket, const Endpoint& from, std::span<const std::uint8_t> bytes) {
  if (failed_) return;
  if (ranking_) {
    if (socket != kSocket) return;
    ranking_->on_datagram(now, 0, from, bytes);
    check_ranking(now);
    return;
  }
  Lane* lane = lane_of(socket);
  if (!lane || !lane->relay) return;
  lane->relay->on_datagram(now, 0, from, bytes);
  service(now);
}

void TurnRoute::on_connection_closed(TimePoint now, SocketId socket) {
  if (failed_) return;
  Lane* lane = lane_of(socket);
  if (!lane || !lane->relay) return;
  lane->relay->on_connection_closed(now);
  service(now);
}

void TurnRoute::on_link_failed(TimePoint now, SocketId socket, std::string reason) {
  if (failed_) return;
  if (next_ && next_->socket == socket) {
    next_.reset();
    replacement_failed(now, turn::TurnError{turn::ErrorKind::kConnectionClosed, 0, std::move(reason)});
    return;
  }
  if (!ever_allocated_ || !current_ || current_->socket != socket) {
    fail(std::move(reason));
    return;
  }
  lose_current(now, reason);
}

std::optional<Transmit> TurnRoute::poll_transmit(TimePoint now) {
  if (failed_) return std::nullopt;
  if (ranking_) {
    auto t = ranking_->poll_transmit(now);
    if (t) t->socket = kSocket;
    return t;
  }
  for (auto* lane : {&current_, &next_}) {
    if (!*lane || !(*lane)->relay) continue;
    if (auto t = (*lane)->relay->poll_transmit(now)) {
      t->socket = (*lane)->socket;
      return t;
    }
  }
  return std::nullopt;
}

std::optional<TimePoint> TurnRoute::next_deadline(bool announcing) const {
  if (failed_) return std::nullopt;
  if (ranking_) return ranking_->next_deadline();
  std::optional<TimePoint> t;
  const auto earliest = [&t](std::optional<TimePoint> c) {
    if (c && (!t || *c < *t)) t = c;
  };
  for (const auto* lane : {&current_, &next_})
    if (*lane && (*lane)->relay) earliest((*lane)->relay->next_deadline());
  earliest(retry_at_);
  if (announcing && candidate()) earliest(announce_at_);
  if (one_sided_ && heard_ && last_heard_) earliest(*last_heard_ + kOneSidedSilence);
  if (current_ && current_->allocated && heard_ && unanswered_since_) {
    auto at = *unanswered_since_ + kLivenessProbe;
    if (last_liveness_) at = std::max(at, *last_liveness_ + kLivenessProbe);
    earliest(at);
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
  for (auto* lane : {&current_, &next_})
    if (*lane && (*lane)->relay)
      if (auto due = (*lane)->relay->next_deadline(); due && *due <= now) (*lane)->relay->on_timer(now);
  if (one_sided_ && heard_ && last_heard_ && now >= *last_heard_ + kOneSidedSilence) {
    // The peer's probes stopped coming through: not usable until it is
    // heard again (its NAT or the path through the server lost it).
    heard_ = false;
    failure_ = label_ + ": the peer (reaching us from its UDP socket) not heard through it for " +
               std::to_string(std::chrono::duration_cast<seconds>(kOneSidedSilence).count()) + " s";
    announce_soon(now, true);
  }
  // We send through TURN and hear nothing back: does the server still
  // know our allocation? (A restarted one answers 437: a new allocation.)
  if (current_ && current_->allocated && heard_ && unanswered_since_ && now >= *unanswered_since_ + kLivenessProbe &&
      (!last_liveness_ || now >= *last_liveness_ + kLivenessProbe)) {
    last_liveness_ = now;
    ++counters_.liveness_refreshes;
    current_->relay->refresh(now);
  }
  service(now);
  if (!failed_ && retry_at_ && now >= *retry_at_) start_replacement(now);
}

namespace {

// A lost allocation's cause that a new allocation may cure.
bool lost_allocation(turn::ErrorKind kind) {
  switch (kind) {
    case turn::ErrorKind::kNoAnswer:
    case turn::ErrorKind::kConnectionClosed:
    case turn::ErrorKind::kAllocationMismatch:
    case turn::ErrorKind::kWrongCredentials:
    case turn::ErrorKind::kStaleNonce:
      return true;
    default:
      return false;
  }
}

// A failed attempt at a new allocation that a later one may not repeat
// (the server still restarting, its capacity back). Credentials refused
// are not: fresh ones were used, or the static ones are wrong now.
bool worth_retrying(turn::ErrorKind kind) {
  switch (kind) {
    case turn::ErrorKind::kNoAnswer:
    case turn::ErrorKind::kConnectionClosed:
    case turn::ErrorKind::kAllocationMismatch:
    case turn::ErrorKind::kInsufficientCapacity:
    case turn::ErrorKind::kQuotaReached:
    case turn::ErrorKind::kStaleNonce:
      return true;
    default:
      return false;
  }
}

}  // namespace

void TurnRoute::service(TimePoint now) {
  if (current_) service_lane(now, *current_, false);
  if (next_) service_lane(now, *next_, true);
}

void TurnRoute::service_lane(TimePoint now, Lane& lane, bool is_next) {
  while (!failed_ && lane.relay) {
    auto e = lane.relay->poll_event();
    if (!e) return;
    if (std::holds_alternative<turn::peer_relay_event::CandidateReady>(*e)) {
      lane.allocated = true;
      ever_allocated_ = true;
      ++counters_.allocations;
      if (is_next) {
        attempts_ = 0;
        announce_soon(now, true);
        // Nothing carries the route now: the new allocation takes it at once.
        if (!current_) {
          promote(now);
          return;  // `lane` moved
        }
      } else {
        announce_soon(now, true);
      }
    } else if (std::holds_alternative<turn::peer_relay_event::Ready>(*e)) {
      // The channel is bound: probe through TURN at once.
      if (!lane.heard || !heard_) announce_soon(now, true);
    } else if (const auto* x = std::get_if<turn::peer_relay_event::Expiring>(&*e)) {
      // Make-before-break: the old allocation relays until it runs out.
      if (!is_next && !next_ && !retry_at_) {
        lost_ = x->error.message + "; a new allocation on " + server_text_ + " takes over before this one ends";
        ++counters_.replacements;
        attempts_ = 0;
        start_replacement(now);
      }
    } else if (const auto* f = std::get_if<turn::peer_relay_event::Failed>(&*e)) {
      if (is_next) {
        next_.reset();
        replacement_failed(now, f->error);
        return;  // `lane` is gone
      }
      if (!ever_allocated_ || !lost_allocation(f->error.kind)) {
        fail(f->error.message);
        return;
      }
      lose_current(now, f->error.message);
      return;  // `lane` is gone
    }
  }
}

void TurnRoute::lose_current(TimePoint now, const std::string& why) {
  current_.reset();
  if (!next_) announce_at_.reset();  // the new allocation's candidate starts them over
  heard_ = false;
  unanswered_since_.reset();
  last_liveness_.reset();
  if (give_up_) {
    fail(*give_up_);
    return;
  }
  if (next_ || retry_at_) {
    // A replacement is under way already (the old one was expiring).
    lost_ = why + "; the new allocation on " + server_text_ + " takes over";
    if (next_ && next_->allocated) promote(now);
    return;
  }
  lost_ = why + "; making a new allocation on " + server_text_;
  ++counters_.replacements;
  attempts_ = 0;
  start_replacement(now);
}

void TurnRoute::start_replacement(TimePoint now) {
  retry_at_.reset();
  turn::ClientConfig config = servers_[chosen_];
  if (credentials_)
    if (auto fresh = credentials_(now, config)) config.credentials = std::move(*fresh);
  // Another link than the last (and than the one still relaying): a new
  // 5-tuple at the server (a TCP/TLS link, or a UDP socket the server has
  // no allocation for).
  const SocketId used = current_ ? current_->socket : last_socket_;
  const SocketId socket = used == kSocket ? kSecondSocket : kSocket;
  last_socket_ = socket;
  open_lane(now, next_, socket, config);
  service(now);
}

void TurnRoute::replacement_failed(TimePoint now, const turn::TurnError& error) {
  ++attempts_;
  // Credentials refused: once more if the source may have fresher ones by
  // then (the rendezvous answers the refresh it asked for with a new offer).
  const bool fresher_credentials = credentials_ && error.kind == turn::ErrorKind::kWrongCredentials && attempts_ == 1;
  if ((worth_retrying(error.kind) || fresher_credentials) && attempts_ < static_cast<int>(kRetryGaps.size())) {
    retry_at_ = now + kRetryGaps[static_cast<std::size_t>(attempts_ - 1)];
    return;
  }
  std::string why = error.message;
  if (attempts_ > 1) why += " (" + std::to_string(attempts_) + " attempts at a new allocation)";
  if (current_) {
    // The old allocation still relays (it was expiring): until it ends.
    give_up_ = std::move(why);
    return;
  }
  fail(std::move(why));
}

void TurnRoute::promote(TimePoint now) {
  if (current_ && current_->relay) current_->relay->close(now);  // expires at the server otherwise
  current_.reset();
  current_.emplace(std::move(*next_));
  next_.reset();
  heard_ = current_->heard;
  unanswered_since_.reset();
  last_liveness_.reset();
  if (heard_) last_heard_ = now;
}

void TurnRoute::fail(std::string reason) {
  if (failed_) return;
  failed_ = true;
  announce_at_.reset();
  retry_at_.reset();
  failure_ = std::move(reason);
}

bool TurnRoute::usable() const {
  return !failed_ && current_ && current_->relay && current_->relay->can_send() && heard_;
}

std::optional<Endpoint> TurnRoute::candidate() const {
  if (next_ && next_->relay && next_->relay->candidate()) return next_->relay->candidate();
  if (current_ && current_->relay) return current_->relay->candidate();
  return std::nullopt;
}

TurnRoute::Lane* TurnRoute::sending_lane() {
  // A replacement announces itself through its own allocation once it can.
  if (next_ && next_->relay && next_->relay->can_send()) return &*next_;
  if (current_ && current_->relay && current_->relay->can_send()) return &*current_;
  return nullptr;
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
  if (permits_.size() < turn::PeerRelay::kMaxPermitted &&
      std::find(permits_.begin(), permits_.end(), address) == permits_.end())
    permits_.push_back(address);
  for (auto* lane : {&current_, &next_})
    if (*lane && (*lane)->relay) (*lane)->relay->permit(now, address);
  service(now);
}

void TurnRoute::set_peer_candidate(TimePoint now, const Endpoint& peer) {
  if (failed_) return;
  bool ours = false;
  for (const auto* lane : {&current_, &next_})
    ours = ours || (*lane && (*lane)->relay && (*lane)->relay->candidate() == peer);
  // Our own relayed address: the peer reaches us through it from its UDP
  // socket (one-sided); where it sends from we learn in on_heard.
  if (ours) one_sided_ = true;
  if (ours || peer_ == peer) {
    // A repeat: the peer has not heard us through TURN yet (one-sided:
    // also its keepalive probe, answered so that it knows we hear it).
    if (sending_lane() && (!last_answer_ || now - *last_answer_ >= kAnswerGap)) {
      last_answer_ = now;
      announce_at_ = now;
      if (announcements_ >= kMaxAnnouncements) announcements_ = kMaxAnnouncements - 1;
    }
    return;
  }
  // The peer's candidate, or a new one (its allocation was replaced).
  peer_ = peer;
  for (auto* lane : {&current_, &next_})
    if (*lane && (*lane)->relay) (*lane)->relay->set_peer(now, peer);
  service(now);
}

std::optional<TurnRoute::Announcement> TurnRoute::poll_announcement(TimePoint now) {
  if (failed_ || !announce_at_ || now < *announce_at_ || !candidate()) return std::nullopt;
  ++announcements_;
  if ((heard_ && !next_) || announcements_ >= kMaxAnnouncements) {
    announce_at_.reset();
  } else {
    announce_at_ = now + announce_gap_;
    announce_gap_ = std::min<Duration>(announce_gap_ * 2, kLongestGap);
  }
  Announcement a{*candidate(), sending_lane() != nullptr, !usable() || next_.has_value()};
  counters_.announcements += (a.through_turn ? 1 : 0) + (a.over_rendezvous ? 1 : 0);
  return a;
}

bool TurnRoute::send(TimePoint now, std::span<const std::uint8_t> bytes) {
  if (failed_ || !current_ || !current_->relay || !current_->relay->send(now, bytes)) return false;
  ++counters_.sent;
  if (!unanswered_since_) unanswered_since_ = now;
  return true;
}

bool TurnRoute::send_probe(TimePoint now, std::span<const std::uint8_t> bytes) {
  if (failed_) return false;
  Lane* lane = sending_lane();
  if (!lane || !lane->relay->send(now, bytes)) return false;
  ++counters_.sent;
  return true;
}

std::optional<TurnReceived> TurnRoute::poll_received() {
  if (failed_) return std::nullopt;
  for (auto* lane : {&current_, &next_})
    if (*lane && (*lane)->relay)
      if (auto d = (*lane)->relay->poll_received()) return TurnReceived{std::move(*d), (*lane)->socket};
  return std::nullopt;
}

void TurnRoute::on_heard(TimePoint now, const Endpoint& from, SocketId socket) {
  ++counters_.received;
  last_heard_ = now;
  unanswered_since_.reset();
  Lane* lane = lane_of(socket);
  if (!lane || !lane->relay) return;
  // Answer where the peer's authentic datagram came from: its relayed
  // address, or (one-sided) the port its NAT uses towards our relay.
  if (lane->relay->peer() != from) {
    lane->relay->set_peer(now, from);
    peer_ = from;
  }
  lane->heard = true;
  if (next_ && lane == &*next_ && next_->allocated) {
    // The peer reaches the new allocation: it takes the route over.
    promote(now);
  }
  service(now);
  if (heard_ || !current_ || !current_->heard) return;
  heard_ = true;
  // Tell the peer we hear it (it may not have heard us): one more probe.
  announce_at_ = now;
  announcements_ = kMaxAnnouncements - 1;
}

std::optional<std::string> TurnRoute::poll_failure() { return std::exchange(failure_, std::nullopt); }

std::optional<std::string> TurnRoute::poll_lost() { return std::exchange(lost_, std::nullopt); }

std::optional<std::string> TurnRoute::poll_note() { return std::exchange(note_, std::nullopt); }

void TurnRoute::close(TimePoint now) {
  announce_at_.reset();
  ranking_.reset();
  retry_at_.reset();
  if (failed_) return;
  for (auto* lane : {&current_, &next_})
    if (*lane && (*lane)->relay) (*lane)->relay->close(now);
}

}  // namespace natpunch::session
