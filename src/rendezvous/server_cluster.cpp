// The rendezvous server as a node of a cluster (server.hpp, ClusterConfig):
// membership, announcing registrations to their homes, routing connects
// and relaying between nodes. Sans-IO like the rest of the server: the bus
// is an inbox (handle_cluster) and an outbox (poll_cluster).
#include <algorithm>
#include <chrono>

#include "rendezvous/server.hpp"
#include "rendezvous/server_cluster_state.hpp"

namespace natpunch::rendezvous {

Server::~Server() = default;

namespace {

std::uint32_t delay_ms(TimePoint start_at, TimePoint now) {
  if (start_at <= now) return 0;
  const auto ms = std::chrono::duration_cast<milliseconds>(start_at - now).count();
  return static_cast<std::uint32_t>(std::min<long long>(ms, 0xffffffffLL));
}

}  // namespace

void Server::init_cluster(TimePoint now) {
  NodeId self = config_.cluster->node_id;
  while (self == 0) self = random_u64();
  DirectoryConfig d;
  d.ttl = config_.registration_lifetime;
  d.max_per_identity = config_.limits.max_registrations_per_identity;
  d.max_records = config_.cluster->max_directory_records;
  cluster_ = std::make_unique<ClusterState>(*config_.cluster, self, d, now);
}

NodeId Server::node_id() const { return cluster_ ? cluster_->membership.self() : 0; }
std::size_t Server::cluster_members() const { return cluster_ ? cluster_->membership.size() : 0; }
std::size_t Server::directory_records() const { return cluster_ ? cluster_->directory.records() : 0; }
const ClusterCounters& Server::cluster_counters() const {
  static const ClusterCounters kNone{};
  return cluster_ ? cluster_->counters : kNone;
}
bool Server::has_peers() const { return cluster_ && cluster_->membership.size() > 0; }

std::vector<ClusterTransmit> Server::poll_cluster() {
  std::vector<ClusterTransmit> out;
  if (cluster_) out.swap(cluster_->outbox);
  return out;
}

std::optional<TimePoint> Server::cluster_deadline() const {
  if (!cluster_) return std::nullopt;
  std::optional<TimePoint> next = cluster_->membership.next_deadline();
  for (auto t : {cluster_->directory.next_deadline(), cluster_->flush_at})
    if (t && (!next || *t < *next)) next = t;
  return next;
}

cluster::PeerCard Server::card_of(const Registration& r) const {
  return cluster::PeerCard{r.identity, r.observed, info_of(r)};
}

void Server::cluster_send(TimePoint now, NodeId to, cluster::Body body, std::vector<Transmit>& out) {
  ClusterState& c = *cluster_;
  if (to == c.membership.self()) {  // this node is the one: no bus
    cluster_dispatch(now, to, body, out);
    return;
  }
  ClusterHeader h;
  h.sender = c.membership.self();
  h.destination = to;
  h.sequence = ++c.sequence;
  c.outbox.push_back({to, seal_cluster(c.config.key, h, body)});
  ++c.counters.sent;
}

void Server::leave_cluster(TimePoint now) {
  if (!cluster_) return;
  std::vector<Transmit> ignored;
  cluster_flush(now, ignored);  // what the homes must forget goes first
  cluster_send(now, 0, cluster::Goodbye{}, ignored);
}

std::vector<Transmit> Server::handle_cluster(TimePoint now, std::span<const std::uint8_t> message) {
  std::vector<Transmit> out;
  if (!cluster_) return out;
  ClusterState& c = *cluster_;
  ++c.counters.received;
  expire(now);
  auto opened = open_cluster(c.config.key, message);
  if (!opened) {
    ++c.counters.dropped_malformed;
    return out;
  }
  const ClusterHeader& h = opened->header;
  const NodeId self = c.membership.self();
  if (h.sender == self || (h.destination != 0 && h.destination != self)) {
    ++c.counters.dropped_misdirected;
    return out;
  }
  bool joined = false;
  if (!c.membership.accept(now, h.sender, h.sequence, joined)) {
    ++c.counters.dropped_replayed;
    return out;
  }
  if (joined) {
    ++c.counters.members_joined;
    cluster_members_changed(now, {});
  }
  cluster_dispatch(now, h.sender, opened->body, out);
  return out;
}

void Server::cluster_dispatch(TimePoint now, NodeId sender, const cluster::Body& body, std::vector<Transmit>& out) {
  ClusterState& c = *cluster_;
  std::visit(
      [&](const auto& m) {
        using M = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<M, cluster::Hello>) {
          // accept() marked it alive.
        } else if constexpr (std::is_same_v<M, cluster::Goodbye>) {
          if (c.membership.leave(sender, now)) {
            ++c.counters.members_left;
            cluster_members_changed(now, {sender});
          }
        } else if constexpr (std::is_same_v<M, cluster::Held>) {
          for (const auto& record : m.records) apply_held(now, sender, record, out);
        } else if constexpr (std::is_same_v<M, cluster::Released>) {
          for (const auto& record : m.records) c.directory.released(sender, record.identity, record.instance);
        } else if constexpr (std::is_same_v<M, cluster::Evict>) {
          apply_eviction(now, m.identity, m.instance, out);
        } else if constexpr (std::is_same_v<M, cluster::Route>) {
          on_route(now, m, out);
        } else if constexpr (std::is_same_v<M, cluster::Offer>) {
          on_offer(now, m, out);
        } else if constexpr (std::is_same_v<M, cluster::NotFound>) {
          on_remote_answer(now, sender, m.invitation, false, false, out);
        } else if constexpr (std::is_same_v<M, cluster::Offered>) {
          on_remote_answer(now, sender, m.invitation, true, false, out);
        } else if constexpr (std::is_same_v<M, cluster::Rejected>) {
          on_remote_answer(now, sender, m.invitation, true, true, out);
        } else if constexpr (std::is_same_v<M, cluster::SessionMade>) {
          on_session_made(now, sender, m, out);
        } else if constexpr (std::is_same_v<M, cluster::Relay>) {
          on_cluster_relay(now, sender, m, out);
        } else if constexpr (std::is_same_v<M, cluster::ResumeHalf>) {
          on_resume_half(now, m, out);
        } else if constexpr (std::is_same_v<M, cluster::ResumeMatched>) {
          on_resume_matched(now, m, out);
        }
      },
      body);
}

void Server::cluster_tick(TimePoint now, std::vector<Transmit>& out) {
  ClusterState& c = *cluster_;
  const auto left = c.membership.expire(now);
  if (!left.empty()) {
    c.counters.members_left += left.size();
    cluster_members_changed(now, left);
  }
  c.directory.expire(now);
  if (c.flush_at && *c.flush_at <= now) cluster_flush(now, out);
  if (c.membership.hello_due(now)) {
    c.membership.hello_sent(now);
    cluster::Hello hello;
    hello.registrations = static_cast<std::uint32_t>(std::min<std::size_t>(registrations_.size(), 0xffffffffu));
    hello.udp_port = c.config.udp_port;
    cluster_send(now, 0, hello, out);
  }
}

// ---- Announcing registrations to their homes -------------------------------

void Server::cluster_announce(TimePoint now, Registration& r, bool fresh) {
  ClusterState& c = *cluster_;
  r.announced = now;
  cluster::HeldRecord record{r.identity, r.instance,
                             static_cast<std::uint8_t>((r.listening ? kHeldListening : 0) |
                                                       (r.single_session ? kHeldSingleSession : 0) |
                                                       (fresh ? kHeldFresh : 0))};
  c.announcements[c.membership.home(r.identity)].push_back({record, false});
  ++c.queued;
  if (!c.flush_at) c.flush_at = now + c.config.announce_delay;
  if (c.queued >= kMaxClusterRecords) {
    std::vector<Transmit> out;  // evictions of our own registrations send nothing to clients
    cluster_flush(now, out);
  }
}

void Server::cluster_release(const Registration& r) {
  ClusterState& c = *cluster_;
  c.announcements[c.membership.home(r.identity)].push_back({{r.identity, r.instance, 0}, true});
  ++c.queued;
  // Sent with the next flush (the next announcement's, or the timer's).
  if (!c.flush_at) c.flush_at = TimePoint{};
}

void Server::cluster_flush(TimePoint now, std::vector<Transmit>& out) {
  ClusterState& c = *cluster_;
  auto batches = std::move(c.announcements);
  c.announcements.clear();
  c.queued = 0;
  c.flush_at.reset();
  const NodeId self = c.membership.self();
  for (auto& [home, list] : batches) {
    if (home == self) {
      for (const auto& a : list) {
        if (a.released)
          c.directory.released(self, a.record.identity, a.record.instance);
        else
          apply_held(now, self, a.record, out);
      }
      continue;
    }
    // Runs of one kind, in order, at most kMaxClusterRecords a message.
    for (std::size_t i = 0; i < list.size();) {
      const bool released = list[i].released;
      cluster::Held held;
      cluster::Released gone;
      while (i < list.size() && list[i].released == released &&
             (released ? gone.records.size() : held.records.size()) < kMaxClusterRecords) {
        if (released)
          gone.records.push_back({list[i].record.identity, list[i].record.instance});
        else
          held.records.push_back(list[i].record);
        ++i;
      }
      c.counters.announced += released ? gone.records.size() : held.records.size();
      if (released)
        cluster_send(now, home, std::move(gone), out);
      else
        cluster_send(now, home, std::move(held), out);
    }
  }
}

void Server::apply_held(TimePoint now, NodeId node, const cluster::HeldRecord& record, std::vector<Transmit>& out) {
  ClusterState& c = *cluster_;
  for (const auto& e : c.directory.held(now, node, record, (record.flags & kHeldFresh) != 0))
    cluster_send(now, e.node, cluster::Evict{e.identity, e.instance, e.reason}, out);
}

bool Server::over_cluster_limit(const PublicKey& identity, std::uint64_t instance) const {
  // Only the home knows the count; elsewhere the home evicts after the fact.
  const ClusterState& c = *cluster_;
  if (c.membership.home(identity) != c.membership.self()) return false;
  (void)instance;
  const std::size_t here = registration_count(identity);
  // The directory counts this node's own records too (announced, or about to be).
  return std::max(c.directory.count(identity), here) >= config_.limits.max_registrations_per_identity;
}

void Server::apply_eviction(TimePoint now, const PublicKey& identity, std::uint64_t instance,
                            std::vector<Transmit>& out) {
  Registration* r = find(Slot{identity, instance});
  if (r == nullptr || r->closed) {
    ++cluster_->counters.dropped_unexpected;
    return;
  }
  ++cluster_->counters.evictions;
  // The client hears NotRegistered on its next message and registers
  // again (elsewhere, if it moved; refused, if it is over its limit).
  orphan_requests(now, *r, out);
  emit(ServerEvent::Kind::Expired, r->identity, {}, r->observed);
  r->closed = true;  // its home already forgot it: no Released
  erase_registration(Slot{identity, instance});
}

void Server::cluster_members_changed(TimePoint now, const std::vector<NodeId>& left) {
  ClusterState& c = *cluster_;
  for (auto node : left) c.directory.drop_node(node);
  const auto members = c.membership.members();
  const NodeId self = c.membership.self();
  // Registrations whose home moved are announced to the new one (rare: a
  // node came or went; one pass over the registrations).
  registrations_.for_each([&](Registration& r) {
    if (r.closed) return;
    const NodeId before = ClusterMembership::home_among(r.identity, self, c.members);
    const NodeId after = c.membership.home(r.identity);
    if (before != after) cluster_announce(now, r, false);
  });
  c.members = members;
  // Connects waiting on the cluster may have gone to the node that left
  // (as the callee's home or holder): asked again now, not at the
  // caller's next retransmission (seconds later, after its backoff).
  std::vector<std::uint64_t> again;
  for (const auto& [id, p] : pending_)
    if (p.remote_callee && p.state == RequestState::Waiting &&
        (p.holder == 0 || std::find(left.begin(), left.end(), p.holder) != left.end()))
      again.push_back(id);
  std::vector<Transmit> out;  // a re-route answers nothing to clients by itself
  // Sessions relayed with a node that left: resumed through the nodes
  // their parties are at now.
  resume_for_dead_nodes(now, left, out);
  for (auto id : again) {
    auto it = pending_.find(id);
    if (it == pending_.end()) continue;
    it->second.holder = 0;
    route_remote(now, it->second, out);
  }
}

// ---- Connects across nodes ---------------------------------------------------

void Server::route_remote(TimePoint now, const PendingRequest& p, std::vector<Transmit>& out) {
  ClusterState& c = *cluster_;
  const Registration* caller = find(p.caller);
  if (caller == nullptr) return;
  ++c.counters.routes;
  if (p.holder != 0) {
    cluster_send(now, p.holder, cluster::Offer{p.invitation_id, c.membership.self(), p.callee.identity, card_of(*caller)},
                 out);
    return;
  }
  cluster_send(now, c.membership.home(p.callee.identity),
               cluster::Route{p.invitation_id, c.membership.self(), p.callee.identity, card_of(*caller)}, out);
}

void Server::on_route(TimePoint now, const cluster::Route& m, std::vector<Transmit>& out) {
  ClusterState& c = *cluster_;
  // The origin found no free registration of its own.
  const auto holder = c.directory.choose(m.callee, m.origin);
  if (!holder || (*holder != c.membership.self() && !c.membership.is_member(*holder))) {
    cluster_send(now, m.origin, cluster::NotFound{m.invitation}, out);
    return;
  }
  cluster_send(now, *holder, cluster::Offer{m.invitation, m.origin, m.callee, m.caller}, out);
}

void Server::on_offer(TimePoint now, const cluster::Offer& m, std::vector<Transmit>& out) {
  ClusterState& c = *cluster_;
  if (auto it = pending_.find(m.invitation); it != pending_.end()) {
    PendingRequest& p = it->second;
    if (p.origin != m.origin) {  // another request's id (or a forgery): not ours to answer
      ++c.counters.dropped_unexpected;
      return;
    }
    // A retransmission: answer from the request's state.
    if (p.state == RequestState::Rejected) {
      cluster_send(now, p.origin, cluster::Rejected{p.invitation_id}, out);
    } else if (p.state == RequestState::Accepted) {
      if (auto s = sessions_.find(p.session_id); s != sessions_.end())
        if (Registration* callee = find(p.callee))
          cluster_send(now, p.origin,
                       cluster::SessionMade{p.invitation_id, s->second.id, s->second.key,
                                            delay_ms(s->second.start_at, now), card_of(*callee)},
                       out);
    } else if (Registration* callee = find(p.callee)) {
      if (may_answer_again(now, *callee)) {
        IncomingRequest notify;
        notify.invitation_id = p.invitation_id;
        notify.caller = m.caller.identity;
        out.push_back(authenticated(*callee, notify));
      }
      cluster_send(now, p.origin, cluster::Offered{p.invitation_id}, out);
    }
    return;
  }
  Registration* callee = route_request(m.callee);
  if (callee == nullptr || pending_.size() >= config_.limits.max_pending_requests) {
    cluster_send(now, m.origin, cluster::NotFound{m.invitation}, out);
    return;
  }
  ++c.counters.offers;
  PendingRequest p;
  p.caller = Slot{m.caller.identity, 0};
  p.charged = false;  // the caller's node charged its shares
  p.origin = m.origin;
  p.remote_caller = std::make_shared<const cluster::PeerCard>(m.caller);
  p.callee = callee->slot();
  p.invitation_id = m.invitation;
  p.expires = now + config_.request_timeout;
  pending_by_callee_.emplace(p.callee, p.invitation_id);
  pending_[p.invitation_id] = p;
  pending_timers_.push({p.expires, p.invitation_id});
  callee->taken = true;
  IncomingRequest notify;
  notify.invitation_id = p.invitation_id;
  notify.caller = m.caller.identity;
  out.push_back(authenticated(*callee, notify));
  cluster_send(now, m.origin, cluster::Offered{m.invitation}, out);
}

void Server::answer_remote_caller(TimePoint now, Registration& callee, PendingRequest& p, bool accept,
                                  std::vector<Transmit>& out) {
  if (p.state == RequestState::Accepted) {  // our SessionInfo was lost
    if (auto s = sessions_.find(p.session_id); s != sessions_.end() && may_answer_again(now, callee))
      send_session_info(now, s->second, Role::Callee, out);
    return;
  }
  if (p.state == RequestState::Rejected) return;
  if (now + config_.answered_request_linger < p.expires) {
    p.expires = now + config_.answered_request_linger;
    pending_timers_.push({p.expires, p.invitation_id});
  }
  if (!accept || sessions_.size() >= config_.limits.max_sessions) {
    if (accept) send_error(now, callee, ErrorCode::ServerFull, p.invitation_id, out);
    p.state = RequestState::Rejected;
    release(p.callee);
    if (!accept) emit(ServerEvent::Kind::Rejected, p.caller.identity, p.callee.identity);
    cluster_send(now, p.origin, cluster::Rejected{p.invitation_id}, out);
    return;
  }
  Session s = session_for(now, p);
  s.remote_node = p.origin;
  s.caller_remote = true;
  s.remote_peer = p.remote_caller;
  p.state = RequestState::Accepted;
  p.session_id = s.id;
  const Session& stored = sessions_[s.id] = s;
  session_timers_.push({s.last_activity + config_.session_idle_timeout, s.id});
  ++counters_.sessions_created;
  ++cluster_->counters.remote_sessions;
  emit(ServerEvent::Kind::SessionCreated, s.caller.identity, s.callee.identity, {}, s.id);
  send_session_info(now, stored, Role::Callee, out);
  cluster_send(now, p.origin,
               cluster::SessionMade{p.invitation_id, stored.id, stored.key, delay_ms(stored.start_at, now),
                                    card_of(callee)},
               out);
}

void Server::on_remote_answer(TimePoint now, NodeId sender, std::uint64_t invitation, bool found, bool rejected,
                              std::vector<Transmit>& out) {
  auto it = pending_.find(invitation);
  if (it == pending_.end() || !it->second.remote_callee || it->second.state != RequestState::Waiting ||
      (it->second.holder != 0 && it->second.holder != sender)) {
    ++cluster_->counters.dropped_unexpected;
    return;
  }
  PendingRequest& p = it->second;
  if (!found) {  // nobody holds a free registration of the callee
    const PendingRequest gone = p;
    erase_pending(invitation);
    if (Registration* caller = find(gone.caller)) send_error(now, *caller, ErrorCode::UnknownPeer, gone.request_id, out);
    return;
  }
  p.holder = sender;
  if (!rejected) return;  // Offered: retransmissions go straight to the holder
  p.state = RequestState::Rejected;
  if (IdentityState* c = identity_state(p.caller.identity); c && c->pending_requests > 0) --c->pending_requests;
  if (now + config_.answered_request_linger < p.expires) {
    p.expires = now + config_.answered_request_linger;
    pending_timers_.push({p.expires, p.invitation_id});
  }
  emit(ServerEvent::Kind::Rejected, p.caller.identity, p.callee.identity);
  if (Registration* caller = find(p.caller)) send_error(now, *caller, ErrorCode::Rejected, p.request_id, out);
}

void Server::on_session_made(TimePoint now, NodeId sender, const cluster::SessionMade& m, std::vector<Transmit>& out) {
  auto it = pending_.find(m.invitation);
  if (it == pending_.end() || !it->second.remote_callee || (it->second.holder != 0 && it->second.holder != sender) ||
      m.callee.identity != it->second.callee.identity) {
    ++cluster_->counters.dropped_unexpected;
    return;
  }
  PendingRequest& p = it->second;
  if (p.state != RequestState::Waiting) return;  // a copy: the caller's retransmissions get SessionInfo
  if (sessions_.contains(m.session_id) || sessions_.size() >= config_.limits.max_sessions) {
    ++cluster_->counters.dropped_unexpected;
    return;
  }
  if (IdentityState* c = identity_state(p.caller.identity); c && c->pending_requests > 0) --c->pending_requests;
  if (now + config_.answered_request_linger < p.expires) {
    p.expires = now + config_.answered_request_linger;
    pending_timers_.push({p.expires, p.invitation_id});
  }
  Session s;
  s.id = m.session_id;
  s.key = m.session_key;
  s.caller = p.caller;
  s.callee = p.callee;
  s.request_id = p.request_id;
  s.invitation_id = p.invitation_id;
  // The callee's node started the delay when it sent this: the bus's
  // latency (well under a millisecond on a LAN) is the peers' skew.
  s.start_at = now + milliseconds(m.start_delay_ms);
  s.last_activity = now;
  new_session_buckets(s, now);
  s.remote_node = sender;
  s.caller_remote = false;
  s.remote_peer = std::make_shared<const cluster::PeerCard>(m.callee);
  p.state = RequestState::Accepted;
  p.session_id = s.id;
  p.holder = sender;
  const Session& stored = sessions_[s.id] = s;
  session_timers_.push({s.last_activity + config_.session_idle_timeout, s.id});
  ++counters_.sessions_created;
  ++cluster_->counters.remote_sessions;
  emit(ServerEvent::Kind::SessionCreated, s.caller.identity, s.callee.identity, {}, s.id);
  send_session_info(now, stored, Role::Caller, out);
}

void Server::on_cluster_relay(TimePoint now, NodeId sender, const cluster::Relay& m, std::vector<Transmit>& out) {
  auto it = sessions_.find(m.session_id);
  if (it == sessions_.end() || it->second.remote_node != sender) {
    ++cluster_->counters.dropped_unexpected;
    return;
  }
  Session& s = it->second;
  Registration* receiver = find(s.caller_remote ? s.callee : s.caller);
  if (receiver == nullptr) {
    ++cluster_->counters.dropped_unexpected;
    return;
  }
  // The sender's node charged its client; the session's rates and byte
  // budget, and this server's total, are charged here too.
  const auto size = static_cast<double>(m.payload.size());
  if (s.relayed_bytes + m.payload.size() > config_.relay.session_total_bytes) {
    ++counters_.relay_dropped_quota;
    return;
  }
  if (!s.bytes.can_take(now, size, session_bytes_rate_) || !s.packets.can_take(now, 1, session_packets_rate_)) {
    ++counters_.relay_dropped_rate;
    return;
  }
  if (!relay_total_bytes_.can_take(now, size) || !relay_total_packets_.can_take(now, 1)) {
    ++counters_.relay_dropped_budget;
    return;
  }
  s.bytes.take(now, size, session_bytes_rate_);
  s.packets.take(now, 1, session_packets_rate_);
  relay_total_bytes_.take(now, size);
  relay_total_packets_.take(now, 1);
  s.relayed_bytes += m.payload.size();
  s.last_activity = now;
  ++cluster_->counters.relay_forwarded;
  cluster_->counters.relay_forwarded_bytes += m.payload.size();
  RelayData forward;
  forward.session_id = m.session_id;
  forward.payload = m.payload;
  out.push_back(authenticated(*receiver, std::move(forward)));
}

}  // namespace natpunch::rendezvous
