#pragma once
// Test-only network in virtual time: one inside host behind a FakeNat, real
// stun::Server logic listening on all of its sockets outside, a fixed
// one-way latency, and a driver loop that runs any sans-IO client state
// machine (poll_transmit / next_deadline / on_timer / on_datagram / done)
// to completion without a clock or a socket.
#include <array>
#include <functional>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "core/time.hpp"
#include "fake_nat.hpp"
#include "stun/server.hpp"

namespace natpunch::fake {

class FakeNetwork {
 public:
  FakeNetwork(FakeNat& nat, Duration one_way = milliseconds(10)) : nat_(nat), one_way_(one_way) {}

  // Registers every socket the server has (one, or four with an alternate).
  void add_server(stun::Server& server) {
    const int sockets = server.has_alternate() ? 4 : 1;
    for (int i = 0; i < sockets; ++i) {
      const auto index = static_cast<stun::SocketIndex>(i);
      listeners_[server.socket_endpoint(index)] = {&server, index};
    }
  }

  // Called with every datagram the inside host sends, before translation.
  // Tests use it to observe requests and to inject() forgeries.
  std::function<void(TimePoint, const Datagram&)> on_client_send;

  void client_send(TimePoint now, Datagram d) {
    if (on_client_send) on_client_send(now, d);
    auto [route, out] = nat_.outbound(std::move(d));
    if (route == FakeNat::Route::Outside) schedule(now + one_way_, std::move(out), false);
    if (route == FakeNat::Route::Inside) schedule(now, std::move(out), true);
  }

  // Puts a datagram on the outside network, arriving at `at` (an attacker).
  void inject(TimePoint at, Datagram d) { schedule(at, std::move(d), false); }

  std::optional<TimePoint> next_event() const {
    if (events_.empty()) return std::nullopt;
    return events_.begin()->first.first;
  }

  // Delivers everything due by `now`; returns what reached the inside host.
  std::vector<Datagram> deliver_due(TimePoint now) {
    std::vector<Datagram> inside;
    while (!events_.empty() && events_.begin()->first.first <= now) {
      auto node = events_.extract(events_.begin());
      Event& e = node.mapped();
      if (e.inside) {
        inside.push_back(std::move(e.datagram));
      } else if (auto listener = listeners_.find(e.datagram.to); listener != listeners_.end()) {
        serve(now, *listener->second.first, listener->second.second, e.datagram);
      } else if (auto in = nat_.inbound(std::move(e.datagram))) {
        inside.push_back(std::move(*in));
      }
    }
    return inside;
  }

 private:
  struct Event {
    Datagram datagram;
    bool inside = false;  // already addressed to the inside host
  };

  void schedule(TimePoint at, Datagram d, bool inside) {
    events_.emplace(std::make_pair(at, seq_++), Event{std::move(d), inside});
  }

  void serve(TimePoint now, stun::Server& server, stun::SocketIndex index, const Datagram& d) {
    std::array<std::uint8_t, 2048> out{};
    if (auto reply = server.handle(now, d.bytes, d.from, index, out))
      schedule(now + one_way_,
               Datagram{server.socket_endpoint(reply->socket), reply->to, {out.begin(), out.begin() + reply->length}},
               false);
  }

  FakeNat& nat_;
  Duration one_way_;
  std::uint64_t seq_ = 0;  // keeps same-time deliveries in send order
  std::map<std::pair<TimePoint, std::uint64_t>, Event> events_;
  std::map<Endpoint, std::pair<stun::Server*, stun::SocketIndex>> listeners_;
};

struct RunLog {
  std::vector<std::pair<TimePoint, Endpoint>> sends;  // time and destination of every client datagram
  TimePoint finished_at{};
  bool finished = false;
};

// Drives `machine` (sending from `local`) until done() or `limit`.
template <class Machine>
RunLog run_to_completion(Machine& machine, FakeNetwork& net, const Endpoint& local,
                         TimePoint limit = kTimeZero + std::chrono::minutes(30)) {
  RunLog log;
  TimePoint now = kTimeZero;
  while (!machine.done()) {
    while (auto t = machine.poll_transmit(now)) {
      log.sends.emplace_back(now, t->to);
      net.client_send(now, Datagram{local, t->to, t->bytes.to_vector()});
    }
    std::optional<TimePoint> next = machine.next_deadline();
    if (auto e = net.next_event(); e && (!next || *e < *next)) next = e;
    if (!next || *next > limit) break;
    now = std::max(now, *next);
    for (auto& d : net.deliver_due(now)) machine.on_datagram(now, 0, d.from, d.bytes);
    machine.on_timer(now);
  }
  log.finished = machine.done();
  log.finished_at = now;
  return log;
}

}  // namespace natpunch::fake
