// rendezvous::FailoverClient in virtual time: the client machine that moves
// across a rendezvous service's addresses (a cluster's nodes) when its
// server stops answering, run against real rendezvous::Server machines with
// zero-latency delivery; a server that is "down" swallows everything.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <vector>

#include "../support/event_log.hpp"
#include "core/rng.hpp"
#include "rendezvous/failover_client.hpp"
#include "rendezvous/server.hpp"

namespace natpunch::rendezvous {
namespace {

Endpoint ep(std::uint8_t last, std::uint16_t port) { return Endpoint{IpAddress::v4({203, 0, 113, last}), port}; }

struct Service {
  Rng rng{7};
  RandomBytes random() {
    return [this](std::span<std::uint8_t> out) { rng.fill(out); };
  }
  std::map<Endpoint, std::unique_ptr<Server>> servers;
  std::map<Endpoint, bool> up;
  Endpoint client_at = ep(99, 40000);
  TimePoint now = kTimeZero;
  std::vector<ClientEvent> events;

  Service(const std::vector<Endpoint>& addresses) {
    for (const auto& a : addresses) {
      ServerConfig c;
      c.rate_limit.reset();
      servers[a] = std::make_unique<Server>(c, random(), now);
      up[a] = true;
    }
  }

  // Delivers the client's datagrams (and the answers) until quiet, then
  // moves time to the next deadline, until `until`.
  void run(FailoverClient& client, TimePoint until) {
    for (;;) {
      while (auto t = client.poll_transmit(now)) {
        auto it = servers.find(t->to);
        if (it == servers.end() || !up[t->to]) continue;
        for (auto& reply : it->second->handle(now, t->bytes.span(), client_at))
          if (reply.to == client_at) client.on_datagram(now, 0, t->to, reply.bytes);
      }
      while (auto e = client.poll_event()) events.push_back(std::move(*e));
      auto next = client.next_deadline();
      if (!next || *next > until) break;
      now = std::max(now, *next);
      client.on_timer(now);
    }
    now = until;
  }
};

ClientConfig config(const Endpoint& server, std::vector<Endpoint> alternates, RandomBytes random) {
  ClientConfig c;
  c.server = server;
  c.alternate_servers = std::move(alternates);
  c.identity = Identity::generate(random);
  c.listening = false;
  return c;
}

TEST(FailoverClient, SilentServerMovesToTheNextAddressAfterTheFailoverTime) {
  const auto dead = ep(1, 7000), live = ep(2, 7000);
  Service service({dead, live});
  service.up[dead] = false;
  FailoverClient client(config(dead, {live}, service.random()), service.random());
  client.start(service.now);
  service.run(client, kTimeZero + FailoverClient::kFailoverAfter - milliseconds(1));
  EXPECT_FALSE(client.client().registered());
  EXPECT_EQ(client.server(), dead);
  service.run(client, kTimeZero + FailoverClient::kFailoverAfter + milliseconds(1));
  EXPECT_EQ(client.failovers(), 1u);
  EXPECT_EQ(client.server(), live);
  EXPECT_TRUE(client.client().registered()) << "registered at the next address at once";
  EXPECT_TRUE(test_support::last_event<client_event::Registered>(service.events));
}

TEST(FailoverClient, WithoutAlternatesItStaysAndKeepsTrying) {
  const auto dead = ep(1, 7000);
  Service service({dead});
  service.up[dead] = false;
  FailoverClient client(config(dead, {}, service.random()), service.random());
  client.start(service.now);
  service.run(client, kTimeZero + seconds(20));
  EXPECT_EQ(client.failovers(), 0u);
  EXPECT_EQ(client.server(), dead);
  EXPECT_FALSE(client.client().registered());
  ASSERT_TRUE(client.next_deadline()) << "still retransmitting";
}

TEST(FailoverClient, ServerThatDiesAfterRegisteringIsLeftWhenRefreshesGoUnanswered) {
  const auto first = ep(1, 7000), second = ep(2, 7000);
  Service service({first, second});
  FailoverClient client(config(first, {second}, service.random()), service.random());
  client.start(service.now);
  service.run(client, kTimeZero + seconds(1));
  ASSERT_TRUE(client.client().registered());
  EXPECT_EQ(client.server(), first);
  service.up[first] = false;
  service.run(client, kTimeZero + seconds(120));
  EXPECT_EQ(client.failovers(), 1u);
  EXPECT_EQ(client.server(), second);
  EXPECT_TRUE(client.client().registered());
  const auto lost = test_support::all_events<client_event::RegistrationLost>(service.events);
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_FALSE(lost[0].reason) << "refreshes unanswered, not a refusal";
}

}  // namespace
}  // namespace natpunch::rendezvous
