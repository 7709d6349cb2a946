// The real-socket driver of session::PeerSessionMachine: the machine is the
// whole session (registration, plan, punching, relay, keepalives, re-punch,
// path following); this file owns the sockets, the clock and the threads.
//
// io::PunchDriver is the socket engine: socket 0 is the one the rendezvous
// saw, the others are bound on demand, and the machine's transmits leave
// through PunchDriver::flush_from, so the blasting stages keep the batched
// fast path (sendmmsg, UDP GSO, busy mode). open_peer_session runs the loop
// on the calling thread until the session is open (or failed); a
// background thread runs it from then on. The application's send() hands
// the payload to the machine and wakes the loop (an eventfd in the
// driver's epoll set): every socket is touched by one thread only.
#include "io/peer_session.hpp"

#include <netinet/in.h>
#include <sodium.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "io/local_addresses.hpp"
#include "io/os_random.hpp"
#include "io/punch_driver.hpp"
#include "io/reflexive_address.hpp"
#include "io/registration_link.hpp"
#include "io/turn_route_links.hpp"
#include "session/peer_session_machine.hpp"

namespace natpunch::io {

namespace {

namespace se = session::session_event;

// Received datagrams waiting for receive(): ~9 MB at most.
constexpr std::size_t kMaxQueued = 8192;
// Longest sleep while opening (should_stop is polled in between) and once open.
constexpr Duration kOpeningWait = milliseconds(50);
constexpr Duration kOpenWait = milliseconds(200);
// How often the host's addresses are looked at (getifaddrs: a few
// microseconds): a phone that changed networks is noticed within this.
// Polling rather than a netlink subscription: one code path for every
// interface change, no extra descriptor or thread, and a second is well
// below the time a re-punch takes anyway.
constexpr Duration kAddressPoll = milliseconds(1000);
constexpr Duration kAddressRecheck = milliseconds(100);  // after a refused send
constexpr Duration kTurnConnectTimeout = seconds(5);
// The IPv6 reflexive address's Binding: one round trip to the rendezvous;
// a silent IPv6 side delays the session's start by at most this.
constexpr Duration kReflexiveBudget = milliseconds(400);

session::SessionConfig machine_config(const PeerSessionConfig& c) {
  session::SessionConfig m;
  m.caller = c.role == PeerRole::Connect;
  m.client = c.client;
  m.peer = c.peer;
  m.wait = c.wait;
  m.registration_wait = std::min<Duration>(c.wait, seconds(10));
  m.plan.hole_punch = c.plan.hole_punch;
  m.plan.punch_timeout = c.plan.punch_timeout;
  m.plan.probe_budget = c.plan.probe_budget;
  m.plan.relay_only = c.plan.force_relay;
  m.open_early = c.plan.open_early;
  m.send_interval = c.plan.send_interval;
  m.sockets = c.plan.sockets;
  m.keepalive = c.keepalive;
  m.keepalive_enabled = c.keepalive_enabled;
  m.repunch = c.repunch;
  m.turn = c.turn;
  if (c.turn && !c.turn_secret.empty()) {
    m.turn_secret = session::SessionConfig::TurnSecret{};
    m.turn_secret->secret = c.turn_secret;
    m.turn_secret->ttl = c.turn_credential_ttl;
    m.turn_secret->unix_at_start =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    m.turn_secret->start = Clock::now();
  }
  m.use_offered_turn = c.use_offered_turn;
  m.turn_transport = c.turn_transport;
  m.seed = os_random_seed();
  return m;
}

class PeerSession final : public Session {
 public:
  explicit PeerSession(PeerSessionConfig config) : config_(std::move(config)) {}
  ~PeerSession() override { close(); }

  Result<bool, Error> establish();
  void add_v6_socket(session::SessionConfig& machine);
  void start();

  bool send(std::span<const std::uint8_t> payload) override;
  std::optional<std::vector<std::uint8_t>> receive(std::chrono::milliseconds timeout) override;
  SessionRoute route() const override;
  SessionStats stats() const override;
  const SessionInfo& info() const override { return machine_->info(); }
  void close() override;

 private:
  // One turn of the loop: send what is due, hand events on, sleep until the
  // next deadline (at most `longest`) or a datagram, feed what arrived.
  // Called with `lock` held; sleeps without it.
  void turn(std::unique_lock<std::mutex>& lock, Duration longest);
  // The host candidates now: socket 0 at every usable address of its
  // family, the IPv6 socket at every IPv6 one (at most kMaxLocalEndpoints).
  std::vector<Endpoint> host_endpoints() const;
  // Every kAddressPoll: tells the machine when the host candidates changed.
  void watch_addresses(TimePoint now);
  void on_event(se::Progress& p);
  void loop();
  // The UDP fallback (io/registration_link.hpp): opens the next stream when due.
  void check_fallback(TimePoint now);
  // Sends what the machine has due: TURN's to its links, the server's over
  // the rendezvous stream when there is one, the rest through the driver.
  void flush();
  // Ctrl-C (config_.should_stop) or close(): a connect or handshake that
  // blocks the loop gives up (TurnLinkOptions::should_stop).
  bool stop_requested() const {
    return close_requested_.load(std::memory_order_relaxed) || (config_.should_stop && config_.should_stop());
  }

  PeerSessionConfig config_;
  std::unique_ptr<UdpClient> socket0_;
  std::unique_ptr<PunchDriver> driver_;
  std::unique_ptr<session::PeerSessionMachine> machine_;
  // The TURN route's links: opened when the route names them (the TCP
  // connect and TLS handshake block the loop, at most kTurnConnectTimeout).
  std::unique_ptr<TurnRouteLinks> turn_links_;
  bool warned_ = false;
  std::optional<Error> failed_;
  bool established_ = false;
  bool opening_ = true;  // establish() runs the loop; then the background thread
  bool gather_ = false;  // host candidates are ours to gather (and to watch)
  std::optional<std::uint16_t> v6_port_;  // the IPv6 socket's
  std::vector<Endpoint> host_;
  TimePoint next_address_poll_{};
  std::uint64_t send_failed_seen_ = 0;

  // The rendezvous over a stream when UDP gets no answer.
  std::unique_ptr<RegistrationLink> rendezvous_link_;

  // Shared with the background thread: under mutex_.
  mutable std::mutex mutex_;
  std::condition_variable received_;
  std::deque<std::vector<std::uint8_t>> inbox_;
  std::uint64_t queue_dropped_ = 0;
  bool stopping_ = false;
  bool closed_ = false;
  // Set by close() before it waits for the loop (which may be connecting).
  std::atomic<bool> close_requested_{false};
  int wake_fd_ = -1;
  std::thread thread_;
};

void PeerSession::on_event(se::Progress& p) {
  if (config_.on_progress) config_.on_progress(p.progress);
}

void PeerSession::check_fallback(TimePoint now) {
  if (failed_ || machine_->phase() == session::Phase::Closed || machine_->phase() == session::Phase::Failed) return;
  rendezvous_link_->check(now, machine_->server(), machine_->phase() == session::Phase::Registering);
}

// The machine's transmits: TURN's (TurnRoute's link sockets) to their
// links, the server's into the rendezvous stream while there is one (UDP
// got no answer), the rest through the punch driver's fast path.
struct TransmitSplit {
  session::PeerSessionMachine& machine;
  TurnRouteLinks& links;
  RegistrationLink& rendezvous;
  std::optional<Transmit> poll_transmit(TimePoint now) {
    while (auto t = machine.poll_transmit(now)) {
      if (links.send(*t)) {
      } else if (rendezvous.over_stream() && t->socket == 0 && t->to == machine.server()) {
        rendezvous.send(t->bytes.span());  // refused: lost, like a datagram
      } else {
        return t;
      }
    }
    return std::nullopt;
  }
};

void PeerSession::flush() {
  TransmitSplit split{*machine_, *turn_links_, *rendezvous_link_};
  driver_->flush_from(split);
  turn_links_->flush();
  rendezvous_link_->flush();
}

void PeerSession::turn(std::unique_lock<std::mutex>& lock, Duration longest) {
  check_fallback(Clock::now());
  turn_links_->reconcile(*machine_);
  flush();
  // TLS may hold decrypted bytes the socket no longer signals.
  turn_links_->read(*machine_);
  if (!turn_links_->empty()) flush();
  bool any = false;
  while (auto e = machine_->poll_event()) {
    if (auto* p = std::get_if<se::Progress>(&*e)) {
      lock.unlock();  // the application's callback may take its time
      on_event(*p);
      lock.lock();
    } else if (auto* d = std::get_if<se::DataReceived>(&*e)) {
      // An application that stops reading must not grow us without bound.
      if (inbox_.size() >= kMaxQueued) {
        ++queue_dropped_;
        continue;
      }
      inbox_.push_back(std::move(d->payload));
      any = true;
    } else if (std::holds_alternative<se::Established>(*e)) {
      established_ = true;
    } else if (auto* f = std::get_if<se::Failed>(&*e)) {
      failed_ = f->error;
    }
  }
  if (any) received_.notify_all();
  if (!warned_ && driver_->first_error() && machine_->phase() == session::Phase::Punching && config_.on_progress) {
    warned_ = true;
    SessionProgress p;
    p.kind = SessionProgress::Kind::kWarning;
    p.message = "warning: " + *driver_->first_error();
    config_.on_progress(p);
  }
  // Opening ends here (a failure's Unregister went out with the flush above).
  if (failed_ || (opening_ && established_) || stopping_) return;
  const auto now = Clock::now();
  watch_addresses(now);
  TimePoint wake = now + longest;
  if (gather_) wake = std::min(wake, next_address_poll_);
  if (auto due = machine_->next_deadline(); due && *due < wake) wake = *due;
  if (auto due = turn_links_->next_deadline(now); due && *due < wake) wake = *due;
  lock.unlock();
  auto d = driver_->receive_until(wake);
  lock.lock();
  // Bounded, so a flood cannot starve the timers; only the first waits.
  for (std::size_t k = 0; d && k < PunchDriver::kMaxReceivePerWake; ++k) {
    if (d->socket == 0 && d->from == machine_->server()) rendezvous_link_->heard_over_udp();
    machine_->on_datagram(Clock::now(), d->socket, d->from, d->bytes);
    d = driver_->receive_until(TimePoint{});
  }
  rendezvous_link_->drain(
      [&](std::span<const std::uint8_t> message) { machine_->on_datagram(Clock::now(), 0, machine_->server(), message); });
  turn_links_->read(*machine_);
  const auto after = Clock::now();
  if (auto due = machine_->next_deadline(); due && *due <= after) machine_->on_timer(after);
}

std::vector<Endpoint> PeerSession::host_endpoints() const {
  std::vector<Endpoint> out;
  const bool v4 = config_.client.server.address.is_v4();
  for (const auto& a : local_addresses(v4, rendezvous::kMaxLocalEndpoints))
    out.push_back(Endpoint{a, socket0_->bound_endpoint().port});
  if (v6_port_ && out.size() < rendezvous::kMaxLocalEndpoints)
    for (const auto& a : local_addresses(false, rendezvous::kMaxLocalEndpoints - out.size()))
      out.push_back(Endpoint{a, *v6_port_});
  return out;
}

void PeerSession::watch_addresses(TimePoint now) {
  if (!gather_) return;
  // The kernel refused a send (no route, the interface gone): the
  // addresses are looked at again soon, not only at the next poll.
  if (driver_->stats().send_failed != send_failed_seen_) {
    send_failed_seen_ = driver_->stats().send_failed;
    next_address_poll_ = std::min(next_address_poll_, now + kAddressRecheck);
  }
  if (now < next_address_poll_) return;
  next_address_poll_ = now + kAddressPoll;
  auto host = host_endpoints();
  if (host == host_) return;
  host_ = host;
  machine_->on_network_changed(now, std::move(host));
}

void PeerSession::add_v6_socket(session::SessionConfig& machine) {
  auto& endpoints = machine.client.info.local_endpoints;
  if (endpoints.size() >= rendezvous::kMaxLocalEndpoints) return;
  const auto addresses = local_addresses(false, rendezvous::kMaxLocalEndpoints - endpoints.size());
  if (addresses.empty()) return;
  const int fd = ::socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  const int one = 1;
  sockaddr_in6 bind{};
  bind.sin6_family = AF_INET6;
  socklen_t length = sizeof bind;
  if (::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0 ||
      ::bind(fd, reinterpret_cast<const sockaddr*>(&bind), sizeof bind) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&bind), &length) != 0) {
    ::close(fd);
    return;
  }
  const SocketId id = std::max<std::uint32_t>(machine.sockets, 1);
  if (id >= session::TurnRoute::kFirstLinkSocket) {  // those numbers are the TURN links'
    ::close(fd);
    return;
  }
  // Our IPv6 reflexive endpoint, as the rendezvous's IPv6 side sees this
  // socket: the srflx IPv6 candidate (the same as a host one without NAT66).
  if (!config_.reflexive_v6_servers.empty())
    machine.client.info.reflexive_v6 = reflexive_address(fd, config_.reflexive_v6_servers, kReflexiveBudget);
  if (!driver_->adopt_socket(id, fd)) return;  // the driver closes it
  machine.v6_socket = id;
  v6_port_ = ntohs(bind.sin6_port);
  for (const auto& a : addresses) endpoints.push_back(Endpoint{a, *v6_port_});
}

Result<bool, Error> PeerSession::establish() {
  const auto& c = config_.client;
  const Endpoint bind{c.server.address.is_v4() ? IpAddress::v4({0, 0, 0, 0}) : IpAddress::v6({}), 0};
  auto opened = UdpClient::open(bind);
  if (!opened) return Unexpected{session_error(ErrorKind::kSocket, opened.error())};
  socket0_ = std::move(opened.value());
  driver_ = std::make_unique<PunchDriver>(*socket0_, PunchDriverOptions{});
  turn_links_ = std::make_unique<TurnRouteLinks>(
      *driver_, TurnRouteLinks::Options{config_.turn_ca_file, kTurnConnectTimeout});
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ >= 0) driver_->watch_wakeup(wake_fd_);
  auto machine = machine_config(config_);
  // Host candidates: socket 0 at each local address (unless the caller
  // said which). Not for a rendezvous on loopback: that session never
  // leaves the host.
  static constexpr std::array<std::uint8_t, 16> kLoopback6{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  const auto* server = c.server.address.data();
  const bool local_only = c.server.address.is_v4() ? server[0] == 127
                                                   : std::equal(kLoopback6.begin(), kLoopback6.end(), server);
  if (machine.client.info.local_endpoints.empty() && !local_only) {
    for (const auto& a : local_addresses(c.server.address.is_v4(), rendezvous::kMaxLocalEndpoints))
      machine.client.info.local_endpoints.push_back(Endpoint{a, socket0_->bound_endpoint().port});
    // IPv6 host candidates beside an IPv4 registration: one IPv6 socket
    // (numbered after the strategy's sockets), at every global IPv6 address.
    if (c.server.address.is_v4())
      add_v6_socket(machine);
    else
      machine.v6_socket = 0;  // IPv6-only: socket 0 checks the peer's IPv6 candidates
    gather_ = true;
    host_ = machine.client.info.local_endpoints;
    next_address_poll_ = Clock::now() + kAddressPoll;
  }
  const TimePoint started = Clock::now();
  machine_ = std::make_unique<session::PeerSessionMachine>(std::move(machine), rendezvous::system_random_bytes(),
                                                           started);
  RegistrationLink::Hooks hooks;
  hooks.watch = [this](int fd) { driver_->watch_readable(fd); };
  hooks.unwatch = [this](int fd) { driver_->unwatch(fd); };
  hooks.opened = [this](TimePoint now, turn::Transport transport) {
    machine_->use_rendezvous_stream(now, std::string(turn::to_string(transport)));
  };
  hooks.refused = [this](TimePoint now, std::string message) {
    machine_->rendezvous_unreachable(now, std::move(message));
  };
  hooks.should_stop = [this] { return stop_requested(); };
  rendezvous_link_ = std::make_unique<RegistrationLink>(config_.fallback, std::move(hooks), started);
  std::unique_lock lock(mutex_);
  while (!established_ && !failed_) {
    if (config_.should_stop && config_.should_stop()) machine_->interrupt(Clock::now());
    turn(lock, kOpeningWait);
  }
  if (failed_) {
    Error e = *failed_;
    // The kernel's reason, when the server was never reached (no route, ...).
    if (e.kind == ErrorKind::kNoAnswer && driver_->first_error()) e.message += " (" + *driver_->first_error() + ")";
    // ... and why the streams did not help.
    if (e.kind == ErrorKind::kNoAnswer && !rendezvous_link_->transport())
      for (const auto& why : rendezvous_link_->errors()) e.message += "; " + why;
    return Unexpected{e};
  }
  return true;
}

void PeerSession::start() {
  opening_ = false;
  thread_ = std::thread([this] { loop(); });
}

void PeerSession::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) turn(lock, kOpenWait);
}

bool PeerSession::send(std::span<const std::uint8_t> payload) {
  {
    std::lock_guard lock(mutex_);
    if (closed_ || !machine_->send(Clock::now(), payload)) return false;
  }
  // The loop sends it (all socket work stays on its thread).
  const std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
  return true;
}

std::optional<std::vector<std::uint8_t>> PeerSession::receive(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  received_.wait_for(lock, timeout, [this] { return !inbox_.empty() || closed_; });
  if (inbox_.empty()) return std::nullopt;
  auto d = std::move(inbox_.front());
  inbox_.pop_front();
  return d;
}

SessionRoute PeerSession::route() const {
  std::lock_guard lock(mutex_);
  return machine_->stats().route;
}

SessionStats PeerSession::stats() const {
  std::lock_guard lock(mutex_);
  auto s = machine_->stats();
  s.queue_dropped = queue_dropped_;
  s.send_failed = driver_->stats().send_failed;
  return s;
}

void PeerSession::close() {
  close_requested_ = true;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = true;
    stopping_ = true;
  }
  received_.notify_all();
  if (wake_fd_ >= 0) {
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
  // Only this thread is left: tell the peer (both routes) and unregister.
  if (machine_ && driver_) {
    machine_->close(Clock::now());
    flush();  // the TURN allocation's release too
  }
  turn_links_.reset();
  if (wake_fd_ >= 0) ::close(wake_fd_);
  wake_fd_ = -1;
}

}  // namespace

Result<std::unique_ptr<Session>, Error> open_peer_session(PeerSessionConfig config) {
  if (sodium_init() < 0) return Unexpected{session_error(ErrorKind::kSocket, "libsodium failed to initialise")};
  auto session = std::make_unique<PeerSession>(std::move(config));
  auto established = session->establish();
  if (!established) return Unexpected{established.error()};
  session->start();
  return std::unique_ptr<Session>(std::move(session));
}

Error session_error(ErrorKind kind, std::string message) {
  Error e;
  e.kind = kind;
  e.message = std::move(message);
  return e;
}

}  // namespace natpunch::io

namespace natpunch {
const char* to_string(SessionRoute route) { return route == SessionRoute::kDirect ? "direct" : "relay"; }
std::string route_text(const SessionStats& stats) {
  if (stats.route == SessionRoute::kDirect) return "direct";
  return stats.relay.empty() ? "relay" : "relay (" + stats.relay + ")";
}
}  // namespace natpunch
