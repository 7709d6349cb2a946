#pragma once
// Several rendezvous nodes joined by an in-memory bus (what NATS does for
// the real ones: deliver a published message to one node or to all), and
// clients each talking to one node, in virtual time with zero-latency
// delivery. A node can be cut off the bus or killed (it vanishes without a
// Goodbye); a client can be moved to another node.
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "../support/event_log.hpp"
#include "core/rng.hpp"
#include "rendezvous/client.hpp"
#include "rendezvous/server.hpp"

namespace natpunch::rendezvous::testing {

// A client's address on the lab's public segment, and the two kinds of
// client the cluster tests use.
inline Endpoint peer_ep(std::uint8_t host, std::uint16_t port = 40000) {
  return Endpoint{IpAddress::v4({198, 51, 100, host}), port};
}
inline ClientConfig listener() {
  ClientConfig c;
  c.listening = true;
  c.accept_policy = accept_all();
  return c;
}
inline ClientConfig caller() {
  ClientConfig c;
  c.listening = false;
  return c;
}

inline ClusterKey test_cluster_key() {
  ClusterKey k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(0xc0 + i);
  return k;
}

class ClusterHarness {
 public:
  struct Node {
    std::unique_ptr<Server> server;
    Endpoint endpoint;
    bool on_bus = true;
    bool alive = true;
  };
  struct Peer {
    std::unique_ptr<Client> client;
    Endpoint endpoint;
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

  explicit ClusterHarness(std::size_t nodes, ServerConfig base = {}, std::uint64_t seed = 7) : rng_(seed) {
    base.rate_limit.reset();
    for (std::size_t i = 0; i < nodes; ++i) {
      ServerConfig c = base;
      ClusterConfig cluster;
      cluster.key = test_cluster_key();
      cluster.node_id = 0x1000 + i;
      c.cluster = cluster;
      c.identity = server_identity_;  // one key for the service: clients pin one
      auto node = std::make_unique<Node>();
      node->endpoint = Endpoint{IpAddress::v4({203, 0, 113, static_cast<std::uint8_t>(10 + i)}), 7000};
      node->server = std::make_unique<Server>(c, random(), now);
      nodes_.push_back(std::move(node));
    }
    // The first hellos: everyone knows everyone.
    advance(milliseconds(10));
  }

  RandomBytes random() {
    return [this](std::span<std::uint8_t> out) { rng_.fill(out); };
  }

  Server& node(std::size_t i) { return *nodes_.at(i)->server; }
  Node& node_state(std::size_t i) { return *nodes_.at(i); }
  std::size_t size() const { return nodes_.size(); }

  Peer& add_peer(std::size_t at, Endpoint endpoint, ClientConfig base = {}, std::optional<Identity> identity = {}) {
    base.server = nodes_.at(at)->endpoint;
    base.identity = identity ? *identity : Identity::generate(random());
    if (!base.accept_policy && base.listening) base.accept_policy = accept_all();
    auto peer = std::make_unique<Peer>();
    peer->client = std::make_unique<Client>(base, random());
    peer->endpoint = endpoint;
    peers_.push_back(std::move(peer));
    peers_.back()->client->start(now);
    pump();
    return *peers_.back();
  }

  // The node gone at once, no Goodbye (kill -9, power cut).
  void kill(std::size_t i) { nodes_.at(i)->alive = false; }

  void pump() {
    for (int rounds = 0; rounds < 10000; ++rounds) {
      bool any = false;
      for (auto& p : peers_) {
        while (auto t = p->client->poll_transmit(now)) {
          any = true;
          if (!p->online) continue;
          for (auto& n : nodes_)
            if (n->alive && n->endpoint == t->to) deliver_replies(*n, n->server->handle(now, t->bytes.span(), p->endpoint));
        }
        while (auto e = p->client->poll_event()) p->events.push_back(std::move(*e));
      }
      for (auto& n : nodes_) {
        if (!n->alive) continue;
        for (auto& m : n->server->poll_cluster()) {
          any = true;
          ++bus_messages;
          if (!n->on_bus) continue;
          if (tap) tap(m);
          for (auto& other : nodes_) {
            if (other.get() == n.get() || !other->alive || !other->on_bus) continue;
            if (m.to != 0 && m.to != other->server->node_id()) continue;
            deliver_replies(*other, other->server->handle_cluster(now, m.bytes));
          }
        }
      }
      if (!any) return;
    }
  }

  void advance(Duration d) {
    const TimePoint end = now + d;
    for (;;) {
      pump();
      std::optional<TimePoint> next;
      auto consider = [&](std::optional<TimePoint> t) {
        if (t && (!next || *t < *next)) next = t;
      };
      for (auto& n : nodes_)
        if (n->alive) consider(n->server->next_deadline());
      for (auto& p : peers_) consider(p->client->next_deadline());
      if (!next || *next > end) break;
      now = std::max(now, *next);
      for (auto& n : nodes_)
        if (n->alive) n->server->on_timer(now);
      for (auto& p : peers_) p->client->on_timer(now);
    }
    now = end;
    for (auto& n : nodes_)
      if (n->alive) n->server->on_timer(now);
    for (auto& p : peers_) p->client->on_timer(now);
    pump();
  }

  // Delivers a message as if published on the bus by someone (an attacker
  // with access to NATS, or a replay) to node i.
  std::vector<Transmit> inject(std::size_t i, std::span<const std::uint8_t> bytes) {
    auto replies = nodes_.at(i)->server->handle_cluster(now, bytes);
    deliver_replies(*nodes_.at(i), replies);
    pump();
    return replies;
  }

  // Sees every message published on the bus.
  std::function<void(const ClusterTransmit&)> tap;
  std::uint64_t bus_messages = 0;
  TimePoint now = kTimeZero + seconds(100000);
  Identity server_identity_ = Identity::from_seed(Key{1, 2, 3});

 private:
  void deliver_replies(Node& from, const std::vector<Transmit>& replies) {
    for (const auto& r : replies)
      for (auto& p : peers_)
        if (p->endpoint == r.to && p->online) p->client->on_datagram(now, 0, from.endpoint, r.bytes);
  }

  Rng rng_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<std::unique_ptr<Peer>> peers_;
};

}  // namespace natpunch::rendezvous::testing
