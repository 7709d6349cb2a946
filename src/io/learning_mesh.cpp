#include "io/learning_mesh.hpp"

#include <algorithm>
#include <memory>
#include <mutex>
#include <thread>

namespace natpunch::io {

namespace {

std::string describe(const SessionProgress& p) {
  switch (p.kind) {
    case SessionProgress::Kind::kRegistered: return p.message;
    case SessionProgress::Kind::kSessionReady: return "session ready, peer at " + p.endpoint;
    case SessionProgress::Kind::kStrategyStarted: return "punching: " + p.strategy + " (" + p.message + ")";
    case SessionProgress::Kind::kStrategyFinished: return p.message;
    case SessionProgress::Kind::kWarning: return p.message;
    case SessionProgress::Kind::kWaitingForPeer: return p.message;
    default: return {};
  }
}

}  // namespace

std::vector<MeshLink> open_learning_mesh(const learn::PeerGroup& group, const SessionOptions& options,
                                         const MeshProgress& progress) {
  std::vector<MeshLink> links;
  for (std::size_t p = 0; p < group.size(); ++p)
    if (p != group.self) links.push_back(MeshLink{p, group.role_towards(p), nullptr, {}, {}});
  const auto started = std::chrono::steady_clock::now();
  const auto since_start = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  };
  auto link_of = [&](std::size_t peer) -> MeshLink& {
    return *std::find_if(links.begin(), links.end(), [peer](const MeshLink& l) { return l.peer == peer; });
  };
  std::mutex mutex;  // the links, filled in from several threads
  // Progress may come from a session's own thread: the sink owns what it needs.
  struct Sink {
    std::mutex mutex;
    MeshProgress progress;
  };
  auto sink = std::make_shared<Sink>();
  sink->progress = progress;
  const auto report = [sink](std::size_t peer, const std::string& line) {
    if (!sink->progress || line.empty()) return;
    std::lock_guard lock(sink->mutex);
    sink->progress(peer, line);
  };

  std::vector<std::thread> threads;
  // Outgoing: one connect() per higher key, all at once (each its own caller-only registration).
  for (auto callee : group.callees())
    threads.emplace_back([&, callee] {
      SessionOptions o = options;
      o.on_progress = [report, callee](const SessionProgress& p) { report(callee, describe(p)); };
      auto session = connect(o, group.keys[callee]);
      std::lock_guard lock(mutex);
      auto& link = link_of(callee);
      link.open_time = since_start();
      if (session) link.session = std::move(session.value());
      else link.error = session.error().message;
    });

  // Incoming: one Listener that takes exactly the lower keys, each once.
  const auto callers = group.callers();
  if (!callers.empty()) {
    std::vector<std::string> allowed;
    for (auto p : callers) allowed.push_back(group.keys[p]);
    SessionOptions o = options;
    o.on_progress = [report, self = group.self](const SessionProgress& p) {
      if (auto line = describe(p); !line.empty()) report(self, "listening: " + line);
    };
    ListenerOptions listener_options;
    listener_options.spare_registrations = static_cast<unsigned>(std::min<std::size_t>(callers.size(), 4));
    auto listener = open_listener(o, allowed, listener_options);
    std::size_t missing = callers.size();
    if (!listener) {
      std::lock_guard lock(mutex);
      for (auto p : callers) link_of(p).error = listener.error().message;
    } else {
      const auto deadline = started + options.wait;
      while (missing > 0 && std::chrono::steady_clock::now() < deadline) {
        if (options.should_stop && options.should_stop()) break;
        auto accepted = (*listener)->accept(std::chrono::milliseconds(200));
        if (!accepted) {
          std::lock_guard lock(mutex);
          for (auto p : callers)
            if (!link_of(p).session) link_of(p).error = accepted.error().message;
          break;
        }
        if (!*accepted) continue;
        std::unique_ptr<Session> session = std::move(accepted.value());
        const auto it = std::find(group.keys.begin(), group.keys.end(), session->info().peer);
        std::lock_guard lock(mutex);
        if (it == group.keys.end()) continue;  // not ours (the listener's allow-list should have stopped it)
        auto& link = link_of(static_cast<std::size_t>(it - group.keys.begin()));
        if (link.session) continue;  // a second session from the same caller: keep the first
        link.session = std::move(session);
        link.error.clear();
        link.open_time = since_start();
        --missing;
      }
      (*listener)->close();
      std::lock_guard lock(mutex);
      for (auto p : callers)
        if (!link_of(p).session && link_of(p).error.empty())
          link_of(p).error = "the peer did not connect within --wait (is it running with the same --peers list?)";
    }
  }
  for (auto& t : threads) t.join();
  return links;
}

}  // namespace natpunch::io
