#include "io/peer_listener.hpp"

#include <algorithm>
#include <atomic>
#include <functional>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace natpunch::io {

namespace {

// The first registration must succeed within this (like open_peer_session).
constexpr Duration kFirstRegistration = seconds(12);
// An acceptor waits this long for a caller before it registers afresh.
constexpr Duration kAcceptorWait = seconds(600);
constexpr Duration kRetryAfterFailure = seconds(1);

// What the sessions' callbacks reach: shared, so a Session that outlives
// its Listener never calls into a destroyed one.
struct Hooks {
  std::atomic<bool> closed{false};
  std::atomic<bool> registered{false};
  std::mutex progress_mutex;  // the application's on_progress, one call at a time
  std::function<void(const SessionProgress&)> user_progress;
  std::function<bool()> user_stop;

  void progress(const SessionProgress& p) {
    if (p.kind == SessionProgress::Kind::kRegistered) registered = true;
    if (!user_progress) return;
    std::lock_guard lock(progress_mutex);
    user_progress(p);
  }
  bool stop() { return closed.load() || (user_stop && user_stop()); }
};

class PeerListener final : public Listener {
 public:
  PeerListener(PeerSessionConfig config, unsigned spare, std::size_t max_ready)
      : config_(std::move(config)), spare_(spare), max_ready_(max_ready),
        identity_(rendezvous::to_hex(config_.client.identity.public_key)) {
    config_.role = PeerRole::Listen;
    config_.client.listening = true;
    config_.client.single_session = true;
    config_.wait = kAcceptorWait;
    hooks_->user_progress = std::move(config_.on_progress);
    hooks_->user_stop = std::move(config_.should_stop);
    config_.on_progress = [hooks = hooks_](const SessionProgress& p) { hooks->progress(p); };
    config_.should_stop = [hooks = hooks_] { return hooks->stop(); };
  }
  ~PeerListener() override { close(); }

  // Starts the acceptors; an error when the first registration fails.
  Result<bool, Error> start() {
    for (unsigned i = 0; i < spare_; ++i) threads_.emplace_back([this] { run(); });
    const auto deadline = Clock::now() + kFirstRegistration;
    std::unique_lock lock(mutex_);
    while (!hooks_->registered && !fatal_ && !closed_ && Clock::now() < deadline)
      changed_.wait_for(lock, milliseconds(20));
    if (hooks_->registered) return true;
    Error e = fatal_                                      ? *fatal_
                     : hooks_->user_stop && hooks_->user_stop() ? session_error(ErrorKind::kInterrupted,
                                                                                  "interrupted before the first registration")
                                                                : session_error(ErrorKind::kNoAnswer,
                                                                                "no answer from the rendezvous server");
    lock.unlock();
    close();
    return Unexpected{e};
  }

  Result<std::unique_ptr<Session>, Error> accept(std::chrono::milliseconds timeout) override {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, timeout, [this] { return !ready_.empty() || closed_ || (fatal_ && !hooks_->registered); });
    if (!ready_.empty()) {
      auto s = std::move(ready_.front());
      ready_.pop_front();
      ++accepted_;
      changed_.notify_all();  // an acceptor may wait for room
      return s;
    }
    if (closed_) return Unexpected{session_error(ErrorKind::kInterrupted, "the listener is closed")};
    if (fatal_ && !hooks_->registered) return Unexpected{*fatal_};
    return std::unique_ptr<Session>{};
  }

  const std::string& identity() const override { return identity_; }
  std::uint64_t accepted() const override {
    std::lock_guard lock(mutex_);
    return accepted_;
  }

  void close() override {
    {
      std::lock_guard lock(mutex_);
      if (closed_ && threads_.empty()) return;
      closed_ = true;
      hooks_->closed = true;
    }
    changed_.notify_all();
    for (auto& t : threads_)
      if (t.joinable()) t.join();
    threads_.clear();
    std::deque<std::unique_ptr<Session>> left;
    {
      std::lock_guard lock(mutex_);
      left.swap(ready_);
    }
    for (auto& s : left) s->close();  // never handed out: tell those peers
  }

 private:
  void run() {
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [this] { return closed_ || ready_.size() < max_ready_; });
        if (closed_) return;
      }
      auto opened = open_peer_session(config_);
      if (opened) {
        std::unique_lock lock(mutex_);
        if (closed_) {
          lock.unlock();
          (*opened)->close();
          return;
        }
        ready_.push_back(std::move(opened.value()));
        changed_.notify_all();
        continue;
      }
      const Error& e = opened.error();
      std::unique_lock lock(mutex_);
      if (closed_) return;
      if (e.kind == ErrorKind::kInterrupted) {
        // The application's should_stop: the listener stops taking callers.
        closed_ = true;
        hooks_->closed = true;
        changed_.notify_all();
        return;
      }
      if (e.kind == ErrorKind::kNoSession) continue;  // no caller in time, or a punch that failed
      // kNoAnswer / kSocket: fatal before the first registration, else
      // retried (a restarting rendezvous).
      if (!hooks_->registered) {
        fatal_ = e;
        changed_.notify_all();
        return;
      }
      changed_.wait_for(lock, kRetryAfterFailure, [this] { return closed_; });
    }
  }

  PeerSessionConfig config_;
  const unsigned spare_;
  const std::size_t max_ready_;
  const std::string identity_;
  std::shared_ptr<Hooks> hooks_ = std::make_shared<Hooks>();

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::unique_ptr<Session>> ready_;
  std::optional<Error> fatal_;
  bool closed_ = false;
  std::uint64_t accepted_ = 0;
  std::vector<std::thread> threads_;
};

}  // namespace

Result<std::unique_ptr<Listener>, Error> open_peer_listener(PeerSessionConfig config, unsigned spare,
                                                                   std::size_t max_ready) {
  auto listener = std::make_unique<PeerListener>(std::move(config), std::max(1u, spare), std::max<std::size_t>(1, max_ready));
  auto started = listener->start();
  if (!started) return Unexpected{started.error()};
  return std::unique_ptr<Listener>(std::move(listener));
}

}  // namespace natpunch::io
