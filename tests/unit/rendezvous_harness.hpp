#pragma once
// One rendezvous server and a few clients wired together in memory, in
// virtual time, with zero-latency delivery. Datagrams can be dropped by a
// filter, captured (for replay attacks) and injected from any source.
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "../support/event_log.hpp"
#include "core/rng.hpp"
#include "rendezvous/client.hpp"
#include "rendezvous/server.hpp"

namespace natpunch::rendezvous::testing {

struct Captured {
  Endpoint from;
  Endpoint to;
  std::vector<std::uint8_t> bytes;
};

inline Endpoint ep(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d, std::uint16_t port) {
  return Endpoint{IpAddress::v4({a, b, c, d}), port};
}

inline ServerConfig test_server_config() {
  ServerConfig c;
  c.rate_limit.reset();
  return c;
}

class Harness {
 public:
  struct Peer {
    std::unique_ptr<Client> client;
    Endpoint endpoint;
    std::uint64_t stream = 0;  // reaches the server over this stream (TCP/TLS), 0: UDP
    std::vector<ClientEvent> events;
    bool online = true;

    template <class T>
    std::vector<T> all() const {
      return test_support::all_events<T>(events);
    }
    template <class T>
    std::optional<T> last() const {
      return test_support::last_event<T>(events);
    }
  };

  explicit Harness(ServerConfig config = test_server_config(), std::uint64_t seed = 1)
      : rng_(seed), config_(std::move(config)) {
    server_ = std::make_unique<Server>(config_, random(), now);
  }

  RandomBytes random() {
    return [this](std::span<std::uint8_t> out) { rng_.fill(out); };
  }

  Peer& add_peer(Endpoint endpoint, AcceptPolicy policy = accept_all(), NatInfo info = {},
                 ClientConfig base = {}) {
    base.info = std::move(info);
    base.accept_policy = std::move(policy);
    return add_client(Identity::generate(random()), endpoint, std::move(base));
  }

  // A client with a given identity and config (several registrations of
  // one identity: each its own Client and endpoint).
  Peer& add_client(const Identity& identity, Endpoint endpoint, ClientConfig base = {}, std::uint64_t stream = 0) {
    base.server = server_endpoint;
    base.identity = identity;
    auto peer = std::make_unique<Peer>();
    peer->client = std::make_unique<Client>(base, random());
    peer->endpoint = endpoint;
    peer->stream = stream;
    peers_.push_back(std::move(peer));
    peers_.back()->client->start(now);
    pump();
    return *peers_.back();
  }

  Server& server() { return *server_; }
  void restart_server() { server_ = std::make_unique<Server>(config_, random(), now); }

  // Delivers everything in flight (replies may cause more) until quiet.
  void pump() {
    for (int rounds = 0; rounds < 1000; ++rounds) {
      bool any = false;
      for (auto& p : peers_) {
        while (auto t = p->client->poll_transmit(now)) {
          any = true;
          deliver_to_server(p->endpoint, Transmit{t->to, t->bytes.to_vector()}, p->online, p->stream);
        }
        while (auto e = p->client->poll_event()) p->events.push_back(std::move(*e));
      }
      if (!any) return;
    }
  }

  // Sends `bytes` to the server as if from `from` (a spoofer can pick any).
  void inject(const Endpoint& from, std::vector<std::uint8_t> bytes) {
    deliver_to_server(from, Transmit{server_endpoint, std::move(bytes)}, true);
    pump();
  }

  void advance(Duration d) {
    const TimePoint end = now + d;
    for (;;) {
      pump();
      std::optional<TimePoint> next = server_->next_deadline();
      for (auto& p : peers_)
        if (auto t = p->client->next_deadline(); t && (!next || *t < *next)) next = *t;
      if (!next || *next > end) break;
      now = std::max(now, *next);
      server_->on_timer(now);
      for (auto& p : peers_) p->client->on_timer(now);
    }
    now = end;
    server_->on_timer(now);
    for (auto& p : peers_) p->client->on_timer(now);
    pump();
  }

  // Datagrams addressed to endpoints no peer owns (an attacker's).
  std::vector<Captured> stray;
  // Every datagram seen on the wire, both directions.
  std::vector<Captured> wire;
  // Off for floods: `wire` and `stray` would grow without bound.
  bool record = true;
  // Return true to drop a datagram.
  std::function<bool(const Captured&)> drop;
  // Sees every datagram the server sends, recorded or not (floods count
  // what reaches a victim here).
  std::function<void(const Captured&)> observe;
  Endpoint server_endpoint = ep(203, 0, 113, 1, 3478);
  static constexpr TimePoint kStart = kTimeZero + seconds(100000);
  TimePoint now = kStart;

 private:
  void deliver_to_server(const Endpoint& from, Transmit t, bool online, std::uint64_t stream = 0) {
    Captured c{from, server_endpoint, t.bytes};
    if (!online || (drop && drop(c))) return;
    if (record) wire.push_back(c);
    for (auto& reply : server_->handle(now, c.bytes, from, stream)) {
      Captured r{server_endpoint, reply.to, reply.bytes};
      if (observe) observe(r);
      if (record) wire.push_back(r);
      if (drop && drop(r)) continue;
      Peer* target = nullptr;
      for (auto& p : peers_)
        if (p->endpoint == reply.to && p->stream == reply.stream) target = p.get();
      if (target == nullptr) {
        if (record) stray.push_back(r);
      } else if (target->online) {
        target->client->on_datagram(now, 0, server_endpoint, reply.bytes);
      }
    }
  }

  Rng rng_;
  ServerConfig config_;
  std::unique_ptr<Server> server_;
  std::vector<std::unique_ptr<Peer>> peers_;
};

// An attacker speaking the protocol by hand: it can register its own key,
// then send anything it likes under that registration.
struct RawPeer {
  Identity identity;
  Endpoint endpoint;
  RegistrationKeys keys;
  std::uint64_t registration_id = 0;
  std::uint64_t sequence = 0;
  std::uint64_t puzzle_hashes = 0;  // work spent on the server's puzzles

  bool register_with(Harness& h) {
    Register r;
    r.identity = identity.public_key;
    r.client_nonce.fill(9);
    const auto before = h.stray.size();
    h.inject(endpoint, encode(r));
    if (h.stray.size() != before + 1) return false;
    auto challenge = decode(h.stray.back().bytes);
    if (!challenge || !std::holds_alternative<Challenge>(*challenge)) return false;
    const auto& c = std::get<Challenge>(*challenge);
    const KeyShare share = KeyShare::from_secret(identity.seed);
    keys = *derive_client_keys(identity, share, c);
    Prove p;
    p.key_share = share.public_key;
    p.identity = identity.public_key;
    p.client_nonce = r.client_nonce;
    p.issued_at_ms = c.issued_at_ms;
    p.cookie = c.cookie;
    p.puzzle_bits = c.puzzle_bits;
    const auto solved = solve_puzzle(c.cookie, identity.public_key, c.puzzle_bits);
    p.puzzle_solution = solved.solution;
    puzzle_hashes += solved.hashes;
    auto bytes = encode(p);
    sign_prove(bytes, identity, c.server_key);
    h.inject(endpoint, bytes);
    auto reply = decode(h.stray.back().bytes);
    if (!reply || !std::holds_alternative<Registered>(*reply)) return false;
    registration_id = std::get<Registered>(*reply).auth.registration_id;
    return verify_tag(h.stray.back().bytes, keys.server_to_client);
  }

  template <class T>
  std::vector<std::uint8_t> sealed(T m) {
    m.auth.registration_id = registration_id;
    m.auth.sequence = ++sequence;
    auto bytes = encode(m);
    seal(bytes, keys.client_to_server);
    return bytes;
  }

  std::vector<Message> received(const Harness& h) const {
    std::vector<Message> out;
    for (const auto& s : h.stray)
      if (s.to == endpoint)
        if (auto m = decode(s.bytes)) out.push_back(*m);
    return out;
  }
};

inline RawPeer make_raw(Harness& h, Endpoint endpoint) {
  return RawPeer{Identity::generate(h.random()), endpoint, {}, 0, 0, 0};
}

}  // namespace natpunch::rendezvous::testing
