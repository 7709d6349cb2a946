#include "io/rendezvous_client_runner.hpp"

#include <sys/epoll.h>

#include <algorithm>

#include "io/machine_driver.hpp"

namespace natpunch::io {

namespace ev = rendezvous::client_event;

namespace {
constexpr std::size_t kMaxBacklog = 1024;
}  // namespace

Result<std::unique_ptr<RendezvousClientRunner>, std::string> RendezvousClientRunner::open(
    const Endpoint& bind, rendezvous::ClientConfig config, std::optional<RendezvousFallback> streams) {
  auto udp = UdpPorts::open(bind);
  if (!udp) return Unexpected{udp.error()};
  std::unique_ptr<RendezvousClientRunner> runner(
      new RendezvousClientRunner(std::move(udp.value()), std::move(config), std::move(streams)));
  runner->flush();
  return runner;
}

RendezvousClientRunner::RendezvousClientRunner(std::unique_ptr<UdpPorts> udp, rendezvous::ClientConfig config,
                                               std::optional<RendezvousFallback> streams)
    : udp_(std::move(udp)), machine_(std::move(config), rendezvous::system_random_bytes()) {
  RendezvousFallback fallback = streams.value_or(RendezvousFallback{});
  fallback.enabled = streams.has_value();
  RegistrationLink::Hooks hooks;
  hooks.watch = [this](int fd) { udp_->watch(fd, EPOLLIN, [](std::uint32_t) {}); };
  hooks.unwatch = [this](int fd) { udp_->unwatch(fd); };
  hooks.opened = [this](TimePoint now, turn::Transport) {
    // A side whose UDP is blocked only relays; it registers over the stream now.
    machine_.client().set_relay_only(true);
    machine_.restart(now);
    poked_ = true;
  };
  hooks.refused = [this](TimePoint, std::string message) {
    refused_ = std::move(message);
    certificate_refused_ = true;
    poked_ = true;
  };
  const auto started = Clock::now();
  link_ = std::make_unique<RegistrationLink>(std::move(fallback), std::move(hooks), started);
  ports_ = std::make_unique<RegistrationPorts>(*udp_, *link_, [this] { return machine_.server(); });
  machine_.start(started);
}

RendezvousClientRunner::~RendezvousClientRunner() {
  // Frees the registration slot at once (an identity has a bounded number)
  // instead of letting it expire.
  machine_.client().close(Clock::now());
  flush();
  ports_.reset();
  link_.reset();  // unwatches its stream while the ports are there
}

void RendezvousClientRunner::flush() {
  const auto now = Clock::now();
  while (auto t = machine_.poll_transmit(now)) ports_->send(std::move(*t));
  ports_->flush();
}

void RendezvousClientRunner::on_event(rendezvous::ClientEvent& event) {
  if (const auto* r = std::get_if<ev::RegistrationRefused>(&event)) {
    if (!certificate_refused_) refused_ = "the rendezvous server refused the registration: " +
                                          std::string(rendezvous::to_string(r->code));
    return;
  }
  if (const auto* m = std::get_if<ev::ServerKeyMismatch>(&event)) {
    if (!key_mismatch_) key_mismatch_ = KeyMismatch{m->offered, Clock::now()};
    return;
  }
  backlog_.push_back(std::move(event));
  fresh_ = true;
  // Events nobody waits for (relay data for other sessions, requests the
  // policy answered) must not pile up forever.
  while (backlog_.size() > kMaxBacklog) backlog_.pop_front();
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
    if (certificate_refused_ || Clock::now() >= deadline) return std::nullopt;
    if (should_stop && should_stop()) {
      interrupted_ = true;
      return std::nullopt;
    }
    fresh_ = poked_ = false;
    run_machine(
        machine_, *ports_,
        [&] {
          const auto now = Clock::now();
          // Moves to a stream when UDP stays silent (blocks while it connects).
          link_->check(now, machine_.server(), !machine_.client().registered());
          return fresh_ || poked_ || now >= deadline || (should_stop && should_stop());
        },
        [this](rendezvous::ClientEvent& e) { on_event(e); });
  }
}

Result<Endpoint, std::string> RendezvousClientRunner::wait_registered(Duration timeout, const StopPredicate& should_stop) {
  if (machine_.client().registered()) return *machine_.client().observed_endpoint();
  // After a Challenge with another key, the pinned server (if it is there
  // too, and the other answer an attacker's) gets this long to answer.
  constexpr Duration kGraceAfterMismatch = seconds(2);
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    auto until = deadline;
    if (key_mismatch_) until = std::min(until, key_mismatch_->seen + kGraceAfterMismatch);
    const auto now = Clock::now();
    if (now >= until || certificate_refused_) break;
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
    const auto& pinned = machine_.client().pinned_server_key();
    return Unexpected{"server key mismatch: the rendezvous server answered with key " +
                      rendezvous::to_hex(key_mismatch_->offered) + ", not the pinned " +
                      (pinned ? rendezvous::to_hex(*pinned) : std::string("key")) +
                      ": either the pinned key is wrong, or someone between this host and the server is "
                      "impersonating it (a possible attack); not registering"};
  }
  if (refused_) return Unexpected{*refused_};
  std::string error = "no answer from the rendezvous server";
  if (send_error()) error += " (" + *send_error() + ")";
  // ... and why the streams did not help.
  if (!link_->transport())
    for (const auto& why : link_->errors()) error += "; " + why;
  return Unexpected{error};
}

Result<rendezvous::client_event::TurnServersOffered, std::string> RendezvousClientRunner::wait_turn_offer(
    Duration timeout, const StopPredicate& should_stop) {
  if (machine_.client().turn_offer()) return *machine_.client().turn_offer();
  const auto taken = run_until(
      Clock::now() + timeout, [](const auto& e) { return std::holds_alternative<ev::TurnServersOffered>(e); },
      should_stop);
  if (taken) return std::get<ev::TurnServersOffered>(*taken);
  if (interrupted_) return Unexpected{std::string("interrupted while waiting for the TURN offer")};
  return Unexpected{std::string("the rendezvous server offered no TURN relays")};
}

Result<rendezvous::ClientSession, std::string> RendezvousClientRunner::connect(const rendezvous::PublicKey& peer,
                                                                              Duration timeout, const NoticeSink& notice,
                                                                              const StopPredicate& should_stop) {
  const auto request = machine_.client().connect(Clock::now(), peer);
  flush();
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
  const bool queued = machine_.client().send_relay(Clock::now(), session_id, payload);
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
