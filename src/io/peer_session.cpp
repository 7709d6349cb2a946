#include "io/peer_session.hpp"

#include <poll.h>
#include <sodium.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <iomanip>
#include <mutex>
#include <sstream>
#include <thread>

#include "core/rng.hpp"
#include "io/os_random.hpp"
#include "io/punch_driver.hpp"
#include "io/rendezvous_client_runner.hpp"
#include "punch/repunch_aim.hpp"
#include "punch/session_channel.hpp"
#include "punch/side_knowledge.hpp"
#include "punch/strategies.hpp"
#include "punch/strategy_selection.hpp"

namespace natpunch::io {

namespace {

namespace ev = rendezvous::client_event;

static_assert(kMaxSessionPayload + wire::kSessionHeaderSize + wire::kSessionMacSize <= rendezvous::kMaxRelayPayload,
              "a sealed session datagram must fit the relay");

// Received datagrams waiting for receive(): ~9 MB at most.
constexpr std::size_t kMaxQueued = 8192;
constexpr std::size_t kMaxEarly = 256;

double to_ms(Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

std::string fixed(double value, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << value;
  return s.str();
}

// One stage of the punching plan: both sides derive the same plan from the
// same pair of NatInfos, so their stages start together.
struct Stage {
  punch::StrategyKind kind = punch::StrategyKind::RelayOnly;
  std::string why;
  punch::SideKnowledge local;
  punch::SideKnowledge peer;
  TimePoint start{};
  std::optional<Duration> time_budget;
  std::uint64_t probe_budget = 0;
};

// Unknown NATs first get a short hole punch that assumes endpoint-
// independent mapping (the common case, and nearly free), then whatever
// the real knowledge calls for. `punch_timeout` caps the whole plan.
std::vector<Stage> plan_stages(const punch::SideKnowledge& local, const punch::SideKnowledge& peer, TimePoint start,
                               const PunchPlan& o) {
  std::vector<Stage> stages;
  // Zero: no cap (a plain Duration: GCC 12 misreads an optional here).
  const Duration total = o.punch_timeout;
  const bool capped = o.punch_timeout > Duration::zero();
  TimePoint at = start;
  const bool unknown = local.mapping == nat::MappingBehavior::Unknown || peer.mapping == nat::MappingBehavior::Unknown;
  if (unknown) {
    auto optimistic = [](punch::SideKnowledge k) {
      if (k.mapping == nat::MappingBehavior::Unknown) k.mapping = nat::MappingBehavior::EndpointIndependent;
      return k;
    };
    Stage s;
    s.local = optimistic(local);
    s.peer = optimistic(peer);
    s.start = at;
    const auto choice = punch::choose_strategy(s.local, s.peer);
    s.kind = choice.kind;
    s.why = std::string(choice.why) + " (NAT behaviour unknown: assumed endpoint-independent first)";
    Duration budget = o.hole_punch;
    if (capped && total < budget) budget = total;
    s.time_budget = budget;
    s.probe_budget = o.probe_budget;
    stages.push_back(s);
    at += budget;
  }
  Stage s;
  s.local = local;
  s.peer = peer;
  s.start = at;
  const auto choice = punch::choose_strategy(local, peer);
  s.kind = choice.kind;
  s.why = std::string(choice.why);
  if (capped) {
    const Duration left = start + total - at;
    if (left <= Duration::zero()) return stages;
    s.time_budget = left;
  }
  s.probe_budget = o.probe_budget;
  // An unknown pair already tried the hole punch; repeating it is only
  // worth it without a cap (it then runs until the probe budget).
  if (!stages.empty() && s.kind == stages.front().kind && capped) return stages;
  stages.push_back(s);
  return stages;
}

class PeerSession final : public Session {
 public:
  explicit PeerSession(PeerSessionConfig config) : config_(std::move(config)), rng_(os_random_seed()) {}
  ~PeerSession() override { close(); }

  Result<bool, SessionError> establish();
  void start();

  bool send(std::span<const std::uint8_t> payload) override;
  std::optional<std::vector<std::uint8_t>> receive(std::chrono::milliseconds timeout) override;
  SessionRoute route() const override;
  SessionStats stats() const override;
  const SessionInfo& info() const override { return info_; }
  void close() override;

 private:
  void progress(SessionProgress::Kind kind, std::string message, std::string strategy = {}, std::string endpoint = {});
  bool stop_requested() { return config_.should_stop && config_.should_stop(); }
  void flush_client();
  void loop();
  void service(TimePoint now);
  void dispatch(TimePoint now, const PunchDriver::Received& d);
  void on_session_datagram(TimePoint now, std::uint32_t socket, const Endpoint& from,
                           std::span<const std::uint8_t> bytes);
  void run_repunch(TimePoint now);
  void flush_channel();
  std::unique_ptr<punch::PunchStrategy> make_repunch_strategy(TimePoint start);

  PeerSessionConfig config_;
  Rng rng_;
  SessionInfo info_;
  std::unique_ptr<RendezvousClientRunner> runner_;
  std::unique_ptr<PunchDriver> driver_;
  rendezvous::ClientSession session_;
  Endpoint server_;
  Endpoint peer_endpoint_;
  std::uint32_t socket_ = 0;
  std::optional<Stage> connected_stage_;  // the stage that punched (re-punches repeat it)
  struct EarlyDatagram {
    std::uint32_t socket = 0;
    Endpoint from;
    std::vector<std::uint8_t> bytes;
  };
  std::vector<EarlyDatagram> early_;  // session data that beat our handshake

  // Everything below is shared with the background thread: under mutex_.
  mutable std::mutex mutex_;
  std::condition_variable received_;
  std::unique_ptr<punch::SessionChannel> channel_;
  std::unique_ptr<punch::PunchStrategy> strategy_;  // the running re-punch, else the last one (late handshakes)
  std::optional<punch::RepunchOrder> order_;        // waiting for its start
  std::optional<std::uint32_t> punching_epoch_;
  std::uint64_t repunch_probes_ = 0;
  std::uint64_t observations_seen_ = 0;  // the rendezvous client's, last handed to the channel
  std::uint64_t probes_rejected_ = 0;    // by punches that ended (the current strategy_ counts its own)
  std::uint64_t path_switches_ = 0;  // the listener moved to the caller's path
  std::uint64_t queue_dropped_ = 0;
  std::deque<std::vector<std::uint8_t>> inbox_;
  bool stopping_ = false;
  bool closed_ = false;
  int wake_fd_ = -1;
  std::thread thread_;
};

void PeerSession::progress(SessionProgress::Kind kind, std::string message, std::string strategy,
                           std::string endpoint) {
  if (!config_.on_progress) return;
  SessionProgress p;
  p.kind = kind;
  p.message = std::move(message);
  p.strategy = std::move(strategy);
  p.endpoint = std::move(endpoint);
  config_.on_progress(p);
}

void PeerSession::flush_client() {
  auto& client = runner_->client();
  for (const auto& t : client.poll_transmit(Clock::now())) {
    std::string ignored;
    runner_->socket().send(t.to, t.bytes, ignored);
  }
}

Result<bool, SessionError> PeerSession::establish() {
  const auto& c = config_.client;
  server_ = c.server;
  info_.server = server_.to_string();
  info_.identity = rendezvous::to_hex(c.identity.public_key);
  progress(SessionProgress::Kind::kIdentity, info_.identity);
  // The relay must reach us through our NAT too: with a known idle timeout
  // (and keepalives wanted) the registration gets keepalives of its own.
  auto client_config = c;
  if (config_.keepalive_enabled && c.info.idle_timeout_ms > 0 && client_config.keepalive_interval == Duration::zero())
    client_config.keepalive_interval = std::max<Duration>(
        seconds(1), std::chrono::duration_cast<Duration>(milliseconds(c.info.idle_timeout_ms) * config_.keepalive.safety));
  const Endpoint bind{c.server.address.is_v4() ? IpAddress::v4({0, 0, 0, 0}) : IpAddress::v6({}), 0};
  auto opened = RendezvousClientRunner::open(bind, client_config);
  if (!opened) return Unexpected{session_error(SessionErrorKind::kSocket, opened.error())};
  runner_ = std::move(opened.value());
  auto observed = runner_->wait_registered(std::min<Duration>(config_.wait, seconds(10)), [this] { return stop_requested(); });
  if (!observed) {
    const auto kind = runner_->interrupted()            ? SessionErrorKind::kInterrupted
                      : runner_->server_key_mismatch() ? SessionErrorKind::kServerKeyMismatch
                                                        : SessionErrorKind::kNoServer;
    return Unexpected{session_error(kind, observed.error() + " at " + server_.to_string())};
  }
  info_.observed = observed->to_string();
  progress(SessionProgress::Kind::kRegistered, "registered at " + server_.to_string() + ", seen as " + info_.observed,
           {}, info_.observed);
  const auto notice = [this](const std::string& line) { progress(SessionProgress::Kind::kWaitingForPeer, line); };
  const auto stop = [this] { return stop_requested(); };
  auto session = config_.role == PeerRole::Connect ? runner_->connect(*config_.peer, config_.wait, notice, stop)
                                                    : runner_->wait_for_session(config_.wait, stop);
  if (!session)
    return Unexpected{session_error(runner_->interrupted() ? SessionErrorKind::kInterrupted : SessionErrorKind::kNoSession,
                            session.error())};
  session_ = *session;
  info_.session_id = session_.session_id;
  info_.peer = rendezvous::to_hex(session_.peer);
  info_.peer_observed = session_.peer_observed.to_string();
  progress(SessionProgress::Kind::kSessionReady,
           "session " + std::to_string(session_.session_id) + " with " + info_.peer.substr(0, 16) + " at " +
               info_.peer_observed,
           {}, info_.peer_observed);

  // --- punch, stage by stage
  const auto local = punch::side_knowledge(c.info, observed->port);
  const auto peer = punch::side_knowledge(session_.peer_info, session_.peer_observed.port);
  std::vector<Stage> stages;
  if (!config_.plan.force_relay) stages = plan_stages(local, peer, session_.start_at, config_.plan);
  PunchDriverOptions driver_options;
  driver_options.should_stop = [this] { return stop_requested(); };
  driver_options.intercept = [this](std::uint32_t socket, const Endpoint& from, std::span<const std::uint8_t> bytes) {
    if (socket == 0 && from == runner_->server() && runner_->client().on_datagram(Clock::now(), bytes, from)) return true;
    // The peer may finish its handshake first and send data while we still
    // punch: keep it for the session instead of losing it.
    if (wire::looks_like_session_datagram(bytes)) {
      if (early_.size() < kMaxEarly) early_.push_back({socket, from, {bytes.begin(), bytes.end()}});
      return true;
    }
    return false;
  };
  // The registration must outlive a long birthday attack: run the
  // rendezvous client's timers (refresh, keepalive) while punching.
  driver_options.on_wake = [this] {
    auto& client = runner_->client();
    const auto now = Clock::now();
    if (auto due = client.next_deadline(); due && *due <= now) client.on_timer(now);
    flush_client();
  };
  std::string current = "relay";
  driver_options.on_progress = [this, &current](const PunchProgress& p) {
    if (p.elapsed < Duration::zero() || !config_.on_progress) return;  // still waiting for the common start
    SessionProgress s;
    s.kind = SessionProgress::Kind::kPunching;
    s.strategy = current;
    s.elapsed = std::chrono::duration_cast<std::chrono::microseconds>(p.elapsed);
    s.probes_sent = p.probes_sent;
    s.sockets_open = p.sockets_open;
    s.message = "punch: " + current + " " + fixed(to_ms(p.elapsed) / 1000, 1) + " s, " +
                std::to_string(p.probes_sent) + " probes, " + std::to_string(p.sockets_open) + " socket(s)";
    config_.on_progress(s);
  };
  driver_ = std::make_unique<PunchDriver>(runner_->socket(), driver_options);
  punch::PunchResult last;
  std::uint64_t probes_total = 0;
  std::string stop_reason = config_.plan.force_relay ? "forced relay" : "no direct strategy";
  for (const auto& stage : stages) {
    current = std::string(punch::to_string(stage.kind));
    progress(SessionProgress::Kind::kStrategyStarted, "strategy: " + current + ": " + stage.why, current);
    punch::StrategyParams params;
    params.peer_address = session_.peer_observed.address;
    params.session_id = session_.session_id;
    params.key = session_.session_key;
    params.probe_budget = stage.probe_budget;
    params.time_budget = stage.time_budget;
    params.send_interval = config_.plan.send_interval;
    params.many_sockets = config_.plan.sockets;
    if (strategy_) probes_rejected_ += strategy_->result().rejected;  // the previous stage's
    strategy_ = punch::make_strategy(stage.kind, stage.local, stage.peer, params, rng_, stage.start);
    auto run = driver_->run(*strategy_, stage.start);
    probes_total += run.result.probes_sent;
    last = run.result;
    if (run.first_error) progress(SessionProgress::Kind::kWarning, "warning: " + *run.first_error, current);
    if (run.interrupted) {
      SessionError e = session_error(SessionErrorKind::kInterrupted,
                             "interrupted while punching (" + std::to_string(probes_total) + " probes sent)");
      e.session_id = session_.session_id;
      e.strategy = current;
      e.probes_sent = probes_total;
      return Unexpected{e};
    }
    progress(SessionProgress::Kind::kStrategyFinished,
             "punch: " + current + " " +
                 (last.outcome == punch::PunchOutcome::Connected
                      ? "connected to " + last.peer.to_string()
                      : std::string("stopped: ") + punch::to_string(last.stop_reason)) +
                 " after " + fixed(to_ms(since_start(Clock::now(), stage.start)), 1) + " ms, " +
                 std::to_string(last.probes_sent) + " probes",
             current);
    if (last.outcome == punch::PunchOutcome::Connected) {
      connected_stage_ = stage;
      break;
    }
    stop_reason = punch::to_string(last.stop_reason);
  }
  const auto decided_at = Clock::now();
  const bool direct = last.outcome == punch::PunchOutcome::Connected;
  if (direct) {
    socket_ = last.socket;
    peer_endpoint_ = last.peer;
  }
  info_.strategy = current;
  info_.stop_reason = direct ? std::string() : stop_reason;
  info_.probes_sent = probes_total;
  // Counted from the common start, whichever stage connected. A forced
  // relay is ready before the start: never negative.
  const Duration to_connect = (direct ? last.connected_at : decided_at) - session_.start_at;
  info_.time_to_connect =
      std::max(std::chrono::microseconds(0), std::chrono::duration_cast<std::chrono::microseconds>(to_connect));

  punch::SessionChannelConfig cc;
  cc.session_id = session_.session_id;
  cc.key = session_.session_key;
  cc.direct = direct;
  cc.caller = config_.role == PeerRole::Connect;
  cc.keepalive = config_.keepalive_enabled;
  cc.keepalive_config = config_.keepalive;
  // The path lives as long as the shorter-lived of the two NAT mappings.
  std::uint32_t idle_ms = 0;
  for (std::uint32_t ms : {c.info.idle_timeout_ms, session_.peer_info.idle_timeout_ms})
    if (ms > 0 && (idle_ms == 0 || ms < idle_ms)) idle_ms = ms;
  if (idle_ms > 0) cc.keepalive_config.idle_timeout = milliseconds(idle_ms);
  cc.repunch = config_.repunch && connected_stage_.has_value();
  cc.repunch_lead = milliseconds(500);
  // A refresh is one round trip to the server: well within the lead.
  cc.observe_wait = seconds(1);
  if (direct) cc.peer_endpoint = last.peer;
  cc.max_payload = kMaxSessionPayload;
  channel_ = std::make_unique<punch::SessionChannel>(cc, Clock::now());
  observations_seen_ = runner_->client().observations();
  if (auto o = runner_->client().observed_endpoint()) channel_->on_observed(Clock::now(), *o);
  for (const auto& e : early_)
    if (direct) on_session_datagram(Clock::now(), e.socket, e.from, e.bytes);
  early_.clear();
  return true;
}

void PeerSession::start() {
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  thread_ = std::thread([this] { loop(); });
}

std::unique_ptr<punch::PunchStrategy> PeerSession::make_repunch_strategy(TimePoint start) {
  // The stage that worked before, aimed at where the peer says it is now
  // (its NAT may have rebound), bounded like the first hole punch.
  const Stage& s = *connected_stage_;
  std::optional<Endpoint> last_seen;
  if (peer_endpoint_.port != 0) last_seen = peer_endpoint_;
  const auto aim = punch::aim_repunch(s.local, s.peer, runner_->client().observed_endpoint(),
                                      channel_->peer_reported_endpoint(), last_seen, session_.peer_observed.address);
  punch::StrategyParams params;
  params.peer_address = aim.peer_address;
  params.session_id = session_.session_id;
  params.key = session_.session_key;
  params.probe_budget = config_.plan.probe_budget;
  params.time_budget = std::max<Duration>(config_.plan.hole_punch, seconds(2));
  params.send_interval = config_.plan.send_interval;
  params.many_sockets = config_.plan.sockets;
  params.linger = milliseconds(500);
  return punch::make_strategy(s.kind, aim.local, aim.peer, params, rng_, start);
}

// When several probes hit at once, the two sides can complete their
// handshakes on different paths (A keeps B:x while B keeps A:y); every
// punched path works, but each side would send on its own. The session
// key authenticates a datagram whatever path it took, so both accept data
// from any of them, and the caller's choice is the session's: the listener
// moves to the path the caller's authentic datagrams arrive on (following
// only the caller means the two never chase each other).
void PeerSession::on_session_datagram(TimePoint now, std::uint32_t socket, const Endpoint& from,
                                      std::span<const std::uint8_t> bytes) {
  if (!channel_ || peer_endpoint_.port == 0) return;  // no direct path was punched: relay only
  if (!channel_->on_direct(now, bytes)) return;
  if (config_.role == PeerRole::Listen && (socket != socket_ || from != peer_endpoint_)) {
    socket_ = socket;
    peer_endpoint_ = from;
    ++path_switches_;
  }
}

void PeerSession::dispatch(TimePoint now, const PunchDriver::Received& d) {
  if (d.socket == 0 && d.from == runner_->server()) {
    runner_->client().on_datagram(now, d.bytes, d.from);
    return;
  }
  if (wire::looks_like_session_datagram(d.bytes)) {
    on_session_datagram(now, d.socket, d.from, d.bytes);
    return;
  }
  if (strategy_) driver_->pump(*strategy_, d.socket, d.from, d.bytes);
}

void PeerSession::flush_channel() {
  while (auto t = channel_->poll_transmit()) {
    if (t->path == punch::ChannelPath::Direct) {
      if (peer_endpoint_.port != 0) driver_->send(socket_, peer_endpoint_, t->bytes);
    } else {
      runner_->client().send_relay(Clock::now(), session_.session_id, t->bytes);
    }
  }
  flush_client();
}

void PeerSession::run_repunch(TimePoint now) {
  if (!punching_epoch_) {
    if (auto o = channel_->poll_repunch()) order_ = o;
    if (!order_ || now < order_->start) return;
    if (strategy_) probes_rejected_ += strategy_->result().rejected;
    strategy_ = make_repunch_strategy(order_->start);
    punching_epoch_ = order_->epoch;
    order_.reset();
  }
  driver_->flush(*strategy_);
  if (auto due = strategy_->next_deadline(); due && *due <= now) {
    strategy_->on_timer(now);
    driver_->flush(*strategy_);
  }
  if (!strategy_->done()) return;
  const auto& r = strategy_->result();
  repunch_probes_ += r.probes_sent;
  const bool connected = r.outcome == punch::PunchOutcome::Connected;
  if (connected) {
    socket_ = r.socket;
    peer_endpoint_ = r.peer;
  }
  channel_->on_repunch_finished(now, *punching_epoch_, connected);
  punching_epoch_.reset();
}

void PeerSession::service(TimePoint now) {
  // Bounded, so a flood cannot starve the timers.
  for (int i = 0; i < 1024; ++i) {
    auto d = driver_->receive_until(TimePoint{});
    if (!d) break;
    dispatch(now, *d);
  }
  auto& client = runner_->client();
  if (auto due = client.next_deadline(); due && *due <= now) client.on_timer(now);
  while (auto e = client.poll_event()) {
    if (auto* r = std::get_if<ev::RelayReceived>(&*e); r && r->session_id == session_.session_id)
      channel_->on_relay(now, r->payload);
  }
  // The server answered a registration or refresh: where it sees us now.
  if (client.observations() != observations_seen_) {
    observations_seen_ = client.observations();
    if (auto o = client.observed_endpoint()) channel_->on_observed(now, *o);
  }
  if (auto due = channel_->next_deadline(); due && *due <= now) channel_->on_timer(now);
  if (channel_->poll_refresh_request()) client.refresh_now(now);
  run_repunch(now);
  flush_channel();
  bool any = false;
  while (auto p = channel_->poll_received()) {
    // An application that stops reading must not grow us without bound.
    if (inbox_.size() >= kMaxQueued) {
      ++queue_dropped_;
      continue;
    }
    inbox_.push_back(std::move(*p));
    any = true;
  }
  if (any) received_.notify_all();
}

void PeerSession::loop() {
  std::unique_lock lock(mutex_);
  std::vector<pollfd> fds;
  while (!stopping_) {
    const auto now = Clock::now();
    service(now);
    TimePoint wake = now + milliseconds(200);
    auto consider = [&wake](std::optional<TimePoint> t) {
      if (t && *t < wake) wake = *t;
    };
    consider(runner_->client().next_deadline());
    consider(channel_->next_deadline());
    if (order_) consider(order_->start);
    if (punching_epoch_) consider(strategy_->next_deadline().value_or(now + milliseconds(10)));
    fds.clear();
    for (std::uint32_t i = 0; i < driver_->sockets_open(); ++i)
      fds.push_back(pollfd{driver_->socket(i).native_handle(), POLLIN, 0});
    fds.push_back(pollfd{wake_fd_, POLLIN, 0});
    const auto wait = std::max<long long>(0, std::chrono::ceil<milliseconds>(wake - Clock::now()).count());
    lock.unlock();
    ::poll(fds.data(), fds.size(), static_cast<int>(wait));
    if (fds.back().revents & POLLIN) {
      std::uint64_t drained = 0;
      [[maybe_unused]] auto n = ::read(wake_fd_, &drained, sizeof drained);
    }
    lock.lock();
  }
}

bool PeerSession::send(std::span<const std::uint8_t> payload) {
  std::lock_guard lock(mutex_);
  if (closed_ || !channel_) return false;
  if (!channel_->send(Clock::now(), payload)) return false;
  flush_channel();
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
  return channel_ && channel_->route() == punch::Route::Direct ? SessionRoute::kDirect : SessionRoute::kRelay;
}

SessionStats PeerSession::stats() const {
  std::lock_guard lock(mutex_);
  SessionStats s;
  if (!channel_) return s;
  const auto& c = channel_->counters();
  s.route = channel_->route() == punch::Route::Direct ? SessionRoute::kDirect : SessionRoute::kRelay;
  if (s.route == SessionRoute::kDirect) {
    s.peer_endpoint = peer_endpoint_.to_string();
    s.local_socket = socket_;
  }
  s.datagrams_sent = c.datagrams_sent;
  s.bytes_sent = c.bytes_sent;
  s.datagrams_received = c.datagrams_received;
  s.bytes_received = c.bytes_received;
  s.sent_direct = c.sent_direct;
  s.sent_relay = c.sent_relay;
  s.received_direct = c.received_direct;
  s.received_relay = c.received_relay;
  s.sent_lost = c.sent_lost;
  s.received_lost = c.received_lost;
  s.duplicates_dropped = c.duplicates_dropped;
  s.keepalives_sent = c.keepalives_sent;
  s.path_switches = path_switches_;
  s.rejected = c.rejected;
  s.probes_rejected = probes_rejected_ + (strategy_ ? strategy_->result().rejected : 0);
  s.peer_endpoint_changes = c.peer_endpoint_changes;
  s.peer_endpoints_ignored = c.endpoints_ignored;
  s.keepalive_replies = c.keepalive_replies;
  s.keepalive_interval = std::chrono::duration_cast<std::chrono::milliseconds>(channel_->keepalive_interval());
  if (c.rtt) s.rtt = std::chrono::duration_cast<std::chrono::microseconds>(*c.rtt);
  s.path_deaths = c.path_deaths;
  s.repunches = c.repunches;
  s.repunches_succeeded = c.repunches_succeeded;
  s.repunch_probes = repunch_probes_;
  s.queue_dropped = queue_dropped_;
  s.peer_closed = c.peer_closed;
  return s;
}

void PeerSession::close() {
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = true;
    if (channel_ && runner_) {
      channel_->close(Clock::now());
      flush_channel();
    }
    stopping_ = true;
  }
  received_.notify_all();
  if (wake_fd_ >= 0) {
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
  if (wake_fd_ >= 0) ::close(wake_fd_);
  wake_fd_ = -1;
}

}  // namespace

Result<std::unique_ptr<Session>, SessionError> open_peer_session(PeerSessionConfig config) {
  if (sodium_init() < 0) return Unexpected{session_error(SessionErrorKind::kSocket, "libsodium failed to initialise")};
  auto session = std::make_unique<PeerSession>(std::move(config));
  auto established = session->establish();
  if (!established) return Unexpected{established.error()};
  session->start();
  return std::unique_ptr<Session>(std::move(session));
}

SessionError session_error(SessionErrorKind kind, std::string message) {
  SessionError e;
  e.kind = kind;
  e.message = std::move(message);
  return e;
}

}  // namespace natpunch::io

namespace natpunch {
const char* to_string(SessionRoute route) { return route == SessionRoute::kDirect ? "direct" : "relay"; }
}  // namespace natpunch
