#include "io/rendezvous_client_runner.hpp"

#include <algorithm>

namespace natpunch::io {

namespace ev = rendezvous::client_event;

namespace {
constexpr std::size_t kMaxBacklog = 1024;
}  // namespace

Result<std::unique_ptr<RendezvousClientRunner>, std::string> RendezvousClientRunner::open(
    const Endpoint& bind, rendezvous::ClientConfig config) {
  auto socket = UdpClient::open(bind);
  if (!socket) return Unexpected{socket.error()};
  std::unique_ptr<RendezvousClientRunner> runner(
      new RendezvousClientRunner(std::move(socket.value()), std::move(config)));
  runner->client_.start(Clock::now());
  runner->flush();
  return runner;
}

RendezvousClientRunner::RendezvousClientRunner(std::unique_ptr<UdpClient> socket, rendezvous::ClientConfig config)
    : socket_(std::move(socket)), client_(config, rendezvous::system_random_bytes()), attempt_started_(Clock::now()) {
  servers_.push_back(config.server);
  for (const auto& e : config.alternate_servers)
    if (std::find(servers_.begin(), servers_.end(), e) == servers_.end()) servers_.push_back(e);
}

void RendezvousClientRunner::check_failover(TimePoint now, bool lost) {
  if (lost) attempt_started_ = now;  // registering again, at the same server so far
  if (servers_.size() < 2) return;
  const bool silent = !client_.registered() && now - attempt_started_ >= kFailoverAfter;
  if (!lost && !silent) return;
  current_ = (current_ + 1) % servers_.size();
  ++failovers_;
  attempt_started_ = now;
  client_.switch_server(now, servers_[current_]);
}

RendezvousClientRunner::~RendezvousClientRunner() {
  // Frees the registration slot at once (an identity has a bounded number)
  // instead of letting it expire.
  client_.close(Clock::now());
  flush();
}

void RendezvousClientRunner::flush() {
  for (const auto& t : client_.poll_transmit(Clock::now())) {
    std::string error;
    if (!socket_->send(t.to, t.bytes, error) && !send_error_) send_error_ = error;
  }
}

template <class Predicate>
std::optional<rendezvous::ClientEvent> RendezvousClientRunner::run_until(TimePoint deadline, Predicate want,
                                                                        const StopPredicate& should_stop) {
  interrupted_ = false;
  for (;;) {
    for (auto it = backlog_.begin(); it != backlog_.end(); ++it) {
      if (want(*it)) {
        auto event = std::move(*it);
        backlog_.erase(it);
        return event;
      }
    }
    flush();
    const auto now = Clock::now();
    if (now >= deadline) return std::nullopt;
    if (should_stop && should_stop()) {
      interrupted_ = true;
      return std::nullopt;
    }
    auto wake = client_.next_deadline().value_or(deadline);
    if (servers_.size() > 1 && !client_.registered()) wake = std::min(wake, attempt_started_ + kFailoverAfter);
    if (wake > deadline) wake = deadline;
    if (should_stop && wake > now + milliseconds(100)) wake = now + milliseconds(100);
    auto datagram = socket_->receive_until(wake);
    if (datagram)
      client_.on_datagram(Clock::now(), datagram->bytes, datagram->from);
    else
      client_.on_timer(Clock::now());
    check_failover(Clock::now(), false);
    while (auto e = client_.poll_event()) {
      if (const auto* lost = std::get_if<ev::RegistrationLost>(&*e); lost && !lost->reason)
        check_failover(Clock::now(), true);
      if (const auto* r = std::get_if<ev::RegistrationRefused>(&*e)) {
        refused_ = r->code;
        continue;
      }
      if (const auto* m = std::get_if<ev::ServerKeyMismatch>(&*e)) {
        if (!key_mismatch_) key_mismatch_ = KeyMismatch{m->offered, Clock::now()};
        continue;
      }
      backlog_.push_back(std::move(*e));
    }
    // Events nobody waits for (relay data for other sessions, requests the
    // policy answered) must not pile up forever.
    while (backlog_.size() > kMaxBacklog) backlog_.pop_front();
  }
}

Result<Endpoint, std::string> RendezvousClientRunner::wait_registered(Duration timeout, const StopPredicate& should_stop) {
  if (client_.registered()) return *client_.observed_endpoint();
  // After a Challenge with another key, the pinned server (if it is there
  // too, and the other answer an attacker's) gets this long to answer.
  constexpr Duration kGraceAfterMismatch = seconds(2);
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    auto until = deadline;
    if (key_mismatch_) until = std::min(until, key_mismatch_->seen + kGraceAfterMismatch);
    const auto now = Clock::now();
    if (now >= until) break;
    // Short slices, so a mismatch seen inside one shortens the wait.
    auto e = run_until(
        std::min(until, now + milliseconds(250)), [](const auto& e) { return std::holds_alternative<ev::Registered>(e); },
        should_stop);
    if (e) {
      refused_.reset();
      return std::get<ev::Registered>(*e).observed;
    }
    if (interrupted_) return Unexpected{std::string("interrupted while registering")};
  }
  if (key_mismatch_) {
    const auto& pinned = client_.pinned_server_key();
    return Unexpected{"server key mismatch: the rendezvous server answered with key " +
                      rendezvous::to_hex(key_mismatch_->offered) + ", not the pinned " +
                      (pinned ? rendezvous::to_hex(*pinned) : std::string("key")) +
                      ": either the pinned key is wrong, or someone between this host and the server is "
                      "impersonating it (a possible attack); not registering"};
  }
  if (refused_)
    return Unexpected{"the rendezvous server refused the registration: " + std::string(rendezvous::to_string(*refused_))};
  return Unexpected{std::string("no answer from the rendezvous server") + (send_error_ ? " (" + *send_error_ + ")" : "")};
}

Result<rendezvous::client_event::TurnServersOffered, std::string> RendezvousClientRunner::wait_turn_offer(
    Duration timeout) {
  if (client_.turn_offer()) return *client_.turn_offer();
  const auto taken = run_until(Clock::now() + timeout,
                               [](const auto& e) { return std::holds_alternative<ev::TurnServersOffered>(e); });
  if (taken) return std::get<ev::TurnServersOffered>(*taken);
  return Unexpected{std::string("the rendezvous server offered no TURN relays")};
}

Result<rendezvous::ClientSession, std::string> RendezvousClientRunner::connect(const rendezvous::PublicKey& peer,
                                                                              Duration timeout, const NoticeSink& notice,
                                                                              const StopPredicate& should_stop) {
  const auto request = client_.connect(Clock::now(), peer);
  const auto deadline = Clock::now() + timeout;
  std::optional<TimePoint> last_notice;
  for (;;) {
    auto e = run_until(
        deadline,
        [request](const auto& e) {
          if (const auto* s = std::get_if<ev::SessionReady>(&e))
            return s->session.role == rendezvous::Role::Caller && s->session.correlation_id == request;
          if (const auto* f = std::get_if<ev::ConnectFailed>(&e)) return f->request_id == request;
          if (const auto* w = std::get_if<ev::PeerNotRegistered>(&e)) return w->request_id == request;
          return false;
        },
        should_stop);
    if (!e) return Unexpected{std::string(interrupted_ ? "interrupted while waiting for the peer" : "no session before the timeout")};
    if (std::holds_alternative<ev::PeerNotRegistered>(*e)) {
      // Once at first, then every 5 s: a line per poll would flood.
      const auto now = Clock::now();
      if (notice && (!last_notice || now - *last_notice >= seconds(5))) {
        last_notice = now;
        const auto left = std::chrono::duration_cast<seconds>(deadline - now).count();
        notice("peer " + rendezvous::to_hex(peer).substr(0, 16) +
               " is not registered (or all its registrations are busy); asking again until the wait ends (" +
               std::to_string(left) + " s left)");
      }
      continue;
    }
    if (const auto* f = std::get_if<ev::ConnectFailed>(&*e))
      return Unexpected{"connect failed: " + std::string(rendezvous::to_string(f->code))};
    return std::get<ev::SessionReady>(*e).session;
  }
}

Result<rendezvous::ClientSession, std::string> RendezvousClientRunner::wait_for_session(Duration timeout,
                                                                                       const StopPredicate& should_stop) {
  auto e = run_until(
      Clock::now() + timeout,
      [](const auto& e) {
        const auto* s = std::get_if<ev::SessionReady>(&e);
        return s != nullptr && s->session.role == rendezvous::Role::Callee;
      },
      should_stop);
  if (!e)
    return Unexpected{std::string(interrupted_ ? "interrupted while waiting for a caller"
                                               : "no accepted request before the timeout")};
  return std::get<ev::SessionReady>(*e).session;
}

bool RendezvousClientRunner::send_relay(std::uint64_t session_id, std::span<const std::uint8_t> payload) {
  const bool queued = client_.send_relay(Clock::now(), session_id, payload);
  flush();
  return queued;
}

std::optional<std::vector<std::uint8_t>> RendezvousClientRunner::receive_relay(std::uint64_t session_id,
                                                                               Duration timeout) {
  auto e = run_until(Clock::now() + timeout, [session_id](const auto& e) {
    const auto* r = std::get_if<ev::RelayReceived>(&e);
    return r != nullptr && r->session_id == session_id;
  });
  if (!e) return std::nullopt;
  return std::get<ev::RelayReceived>(std::move(*e)).payload;
}

}  // namespace natpunch::io
