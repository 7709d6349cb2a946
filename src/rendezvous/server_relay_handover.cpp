// Relay handover (issue 21; server.hpp, "Relay handover"): a session whose
// relaying node died continues through the nodes its parties are at now.
//
// Each party resumes by a half -- (session id, its identity, its peer, the
// token, its node) -- sent to the session's meeting node, the home of the
// token among the live nodes. A client that registered again sends
// RelayResume; a node whose session's other side was at a node that left
// sends a half for its own client (that client noticed nothing). When both
// halves are at the meeting node, with the same token and each naming the
// other, it tells both nodes where the other side is; each wires the
// session (to the other node over the bus, or within itself) and answers
// its client's RelayResume with RelayResumed.
//
// Why it is safe: a half names the identity of an authenticated
// registration (or, from a node, of the session it relays), so nobody
// resumes as someone else; the token comes from the session key, which only
// the two peers and the nodes that made the session know, so a third party
// cannot pair itself with either; the meeting node pairs exactly two
// halves that name each other. What a node keeps is bounded (the pending-
// request cap) and expires (resume_lifetime).
#include <algorithm>

#include "rendezvous/server.hpp"
#include "rendezvous/server_cluster_state.hpp"

namespace natpunch::rendezvous {

Key Server::session_token(const Session& s) const {
  return s.resume_token ? *s.resume_token : relay_resume_token(s.key, s.id);
}

void Server::resume_send(TimePoint now, NodeId to, cluster::Body body, std::vector<Transmit>& out) {
  if (clustered()) {
    cluster_send(now, to, std::move(body), out);
    return;
  }
  // A single node is its own meeting node (both peers re-registered after
  // a restart).
  if (const auto* half = std::get_if<cluster::ResumeHalf>(&body)) on_resume_half(now, *half, out);
  if (const auto* matched = std::get_if<cluster::ResumeMatched>(&body)) on_resume_matched(now, *matched, out);
}

void Server::on_relay_resume(TimePoint now, Registration& r, const RelayResume& m, std::vector<Transmit>& out) {
  if (m.session_id == 0 || m.peer == r.identity) {
    send_error(now, r, ErrorCode::NoSuchSession, m.session_id, out);
    return;
  }
  if (auto it = sessions_.find(m.session_id); it != sessions_.end()) {
    // Relayed here already: resumed before (a retransmission), or the
    // client registered again at this node.
    Session& s = it->second;
    const bool caller_side = s.caller.identity == r.identity && s.callee.identity == m.peer;
    const bool callee_side = s.callee.identity == r.identity && s.caller.identity == m.peer;
    if ((!caller_side && !callee_side) || session_token(s) != m.token) {
      send_error(now, r, ErrorCode::NoSuchSession, m.session_id, out);
      return;
    }
    const bool remote_side = s.remote_node != 0 && (caller_side == s.caller_remote);
    if (!remote_side) {
      (caller_side ? s.caller : s.callee) = r.slot();
      s.last_activity = now;
      if (may_answer_again(now, r)) out.push_back(authenticated(r, RelayResumed{{}, m.session_id}));
      return;
    }
    // The side that was at another node moved here (its node died, the
    // other side is ours): a half like any other, met with ours.
  }
  const ResumeKey key{m.session_id, r.identity};
  auto found = resuming_.find(key);
  if (found == resuming_.end() && resuming_.size() >= config_.limits.max_pending_requests) {
    send_error(now, r, ErrorCode::TooManyPending, m.session_id, out);
    return;
  }
  Resuming& half = resuming_[key];
  half.slot = r.slot();
  half.peer = m.peer;
  half.token = m.token;
  half.expires = now + config_.resume_lifetime;
  half.client_asked = true;
  resuming_expiry_.push_back({half.expires, key});
  send_resume_half(now, m.session_id, half, out);
}

void Server::send_resume_half(TimePoint now, std::uint64_t session_id, Resuming& half, std::vector<Transmit>& out) {
  half.sent = now;
  const NodeId self = node_id();
  const NodeId meeting = clustered() ? cluster_->membership.home(half.token) : self;
  resume_send(now, meeting, cluster::ResumeHalf{session_id, half.slot.identity, half.peer, half.token, self}, out);
}

void Server::resume_for_dead_nodes(TimePoint now, const std::vector<NodeId>& left, std::vector<Transmit>& out) {
  if (left.empty()) return;
  // The sessions whose other side was at a node that left (one pass over
  // the sessions, when a node leaves).
  std::vector<std::uint64_t> orphaned;
  for (const auto& [id, s] : sessions_)
    if (s.remote_node != 0 && std::find(left.begin(), left.end(), s.remote_node) != left.end()) orphaned.push_back(id);
  for (auto id : orphaned) {
    const Session& s = sessions_.at(id);
    const Slot& mine = s.caller_remote ? s.callee : s.caller;
    const Slot& other = s.caller_remote ? s.caller : s.callee;
    if (find(mine) == nullptr) continue;  // our client is gone too
    const ResumeKey key{id, mine.identity};
    if (!resuming_.contains(key) && resuming_.size() >= config_.limits.max_pending_requests) break;
    Resuming& half = resuming_[key];
    half.slot = mine;
    half.peer = other.identity;
    half.token = session_token(s);
    half.expires = now + config_.resume_lifetime;
    half.client_asked = false;
    resuming_expiry_.push_back({half.expires, key});
    send_resume_half(now, id, half, out);
  }
  if (!resuming_.empty()) resend_resumes_at_ = now + seconds(1);
}

void Server::resend_resume_halves(TimePoint now, std::vector<Transmit>& out) {
  if (!resend_resumes_at_ || *resend_resumes_at_ > now) return;
  resend_resumes_at_.reset();
  // A node's own halves (its client sends nothing): again each second
  // until the other party's half met them (the meeting node may have
  // changed, or the other party took its time to move).
  bool any = false;
  for (auto& [key, half] : resuming_) {
    if (half.client_asked) continue;
    any = true;
    if (now - half.sent >= seconds(1)) send_resume_half(now, key.first, half, out);
  }
  if (any) resend_resumes_at_ = now + seconds(1);
}

void Server::on_resume_half(TimePoint now, const cluster::ResumeHalf& m, std::vector<Transmit>& out) {
  if (clustered()) ++cluster_->counters.resume_halves;
  if (m.identity == m.peer) return;
  const ResumeKey key{m.session_id, m.identity};
  if (!meeting_.contains(key) && meeting_.size() >= config_.limits.max_pending_requests) return;
  MeetingHalf& half = meeting_[key];
  half.peer = m.peer;
  half.token = m.token;
  half.node = m.node;
  half.expires = now + config_.resume_lifetime;
  meeting_expiry_.push_back({half.expires, key});
  auto other = meeting_.find(ResumeKey{m.session_id, m.peer});
  if (other == meeting_.end() || other->second.peer != m.identity || other->second.token != m.token) return;
  if (clustered()) ++cluster_->counters.resume_matches;
  // Copies: answering may dispatch locally and touch the table.
  const NodeId here = m.node, there = other->second.node;
  resume_send(now, here, cluster::ResumeMatched{m.session_id, m.identity, m.peer, there}, out);
  resume_send(now, there, cluster::ResumeMatched{m.session_id, m.peer, m.identity, here}, out);
}

void Server::on_resume_matched(TimePoint now, const cluster::ResumeMatched& m, std::vector<Transmit>& out) {
  auto it = resuming_.find(ResumeKey{m.session_id, m.identity});
  if (it == resuming_.end()) {  // answered before (a copy), or never asked here
    if (clustered()) ++cluster_->counters.dropped_unexpected;
    return;
  }
  const Resuming mine = it->second;
  resuming_.erase(it);
  const bool peer_here = m.peer_node == node_id();
  const Resuming* peer_half = nullptr;
  if (peer_here) {
    auto p = resuming_.find(ResumeKey{m.session_id, m.peer});
    if (p != resuming_.end()) peer_half = &p->second;
  }
  auto s = sessions_.find(m.session_id);
  if (s == sessions_.end()) {
    if (peer_here && peer_half == nullptr) return;  // the peer's half expired here meanwhile
    if (sessions_.size() >= config_.limits.max_sessions) return;
    Session fresh;
    fresh.id = m.session_id;
    fresh.caller = mine.slot;
    fresh.callee = peer_here ? peer_half->slot : Slot{m.peer, 0};
    fresh.start_at = now;
    fresh.last_activity = now;
    fresh.resume_token = mine.token;
    new_session_buckets(fresh, now);
    fresh.remote_node = peer_here ? 0 : m.peer_node;
    fresh.caller_remote = false;
    s = sessions_.emplace(fresh.id, std::move(fresh)).first;
    session_timers_.push({now + config_.session_idle_timeout, m.session_id});
  } else {
    Session& existing = s->second;
    const bool mine_is_caller = existing.caller.identity == m.identity;
    Slot& own = mine_is_caller ? existing.caller : existing.callee;
    Slot& other = mine_is_caller ? existing.callee : existing.caller;
    own = mine.slot;
    if (peer_here) {
      if (peer_half != nullptr) other = peer_half->slot;
      existing.remote_node = 0;
      existing.remote_peer.reset();
    } else {
      other = Slot{m.peer, 0};
      existing.remote_node = m.peer_node;
      existing.caller_remote = !mine_is_caller;
    }
    existing.last_activity = now;
  }
  ++counters_.relay_resumed;
  if (!mine.client_asked) return;
  if (Registration* r = find(mine.slot)) out.push_back(authenticated(*r, RelayResumed{{}, m.session_id}));
}

void Server::expire_resumes(TimePoint now) {
  while (!resuming_expiry_.empty() && resuming_expiry_.front().first <= now) {
    const auto key = resuming_expiry_.front().second;
    resuming_expiry_.pop_front();
    if (auto it = resuming_.find(key); it != resuming_.end() && it->second.expires <= now) resuming_.erase(it);
  }
  while (!meeting_expiry_.empty() && meeting_expiry_.front().first <= now) {
    const auto key = meeting_expiry_.front().second;
    meeting_expiry_.pop_front();
    if (auto it = meeting_.find(key); it != meeting_.end() && it->second.expires <= now) meeting_.erase(it);
  }
}

}  // namespace natpunch::rendezvous
