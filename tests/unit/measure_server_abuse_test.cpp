// Attacks on the measurement server (issue 23, findings 9 and 10), sans-IO
// in virtual time with forged sources: filling the shared delayed-reply
// queue, piling scheduled packets onto one victim at one instant, and an
// abuser sharing an honest client's address.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include "measure/server.hpp"

namespace natpunch::measure {
namespace {

const TimePoint kT0 = kTimeZero + seconds(100);

template <std::size_t N>
std::span<const std::uint8_t> view(const std::array<std::uint8_t, N>& a) {
  return {a.data(), a.size()};
}

Endpoint at(std::uint32_t address, std::uint16_t port) { return Endpoint{IpAddress::v4(address), port}; }

Server make_server(ServerConfig config = {}) {
  config.socket_count = 3;
  config.cookie_secret.fill(0x42);
  return Server(config, {3479, 40000, 40001}, nullptr);
}

// What a client does first: ask for a cookie (proof that it receives at
// its address) on some socket.
std::optional<wire::MeasureCookie> cookie_for(Server& server, TimePoint now, const Endpoint& from) {
  auto reply = server.handle(now, view(wire::encode(wire::CookieRequest{1})), from, 0);
  if (!reply) return std::nullopt;
  auto decoded = wire::decode_measure(reply->payload());
  if (!decoded) return std::nullopt;
  const auto* grant = std::get_if<wire::CookieGrant>(&*decoded);
  if (grant == nullptr) return std::nullopt;
  return grant->cookie;
}

// --- finding 9: the shared delayed-reply queue ------------------------------

struct QueueFill {
  const char* name;
  std::uint32_t first_address;
  std::uint32_t address_step;  // 1: one /24; 256: one address per /24
  int addresses;
};
void PrintTo(const QueueFill& c, std::ostream* os) { *os << c.name; }

class MeasureQueueFill : public ::testing::TestWithParam<QueueFill> {};

// 165 addresses, each with its own cookie, ask for hour-long delayed
// replies as fast as the server takes them for 2 s; then an honest client
// elsewhere asks for a 5 s delayed reply.
TEST_P(MeasureQueueFill, HonestDelayedReplyStillScheduled) {
  const auto& c = GetParam();
  auto server = make_server();
  std::size_t attacker_queued = 0;
  TimePoint now = kT0;
  std::vector<std::pair<Endpoint, wire::MeasureCookie>> attackers;
  for (int i = 0; i < c.addresses; ++i) {
    const Endpoint e = at(c.first_address + static_cast<std::uint32_t>(i) * c.address_step, 7000);
    auto cookie = cookie_for(server, now, e);
    ASSERT_TRUE(cookie);
    attackers.emplace_back(e, *cookie);
  }
  std::uint32_t id = 1;
  for (int step = 0; step < 200; ++step, now += milliseconds(10))  // 2 s
    for (const auto& [e, cookie] : attackers)
      for (int k = 0; k < 3; ++k)
        server.handle(now, view(wire::encode(wire::DelayedReflectRequest{id++, 3'600'000, cookie})), e, 0);
  attacker_queued = server.pending();

  const Endpoint honest = *Endpoint::parse("198.51.100.7:40123");
  auto cookie = cookie_for(server, now, honest);
  ASSERT_TRUE(cookie);
  server.handle(now, view(wire::encode(wire::DelayedReflectRequest{424242, 5000, *cookie})), honest, 0);
  bool delivered = false;
  for (const auto& out : server.take_due(now + seconds(5)))
    if (out.to == honest) delivered = true;
  std::printf("[measure-queue-fill] %s: %d attacker addresses queued %zu delayed replies (cap %zu); honest delayed "
              "reply %s\n",
              c.name, c.addresses, attacker_queued, ServerConfig{}.max_pending, delivered ? "delivered" : "lost");
  EXPECT_TRUE(delivered);
}

INSTANTIATE_TEST_SUITE_P(Attackers, MeasureQueueFill,
                         ::testing::Values(QueueFill{"one_address", 0x64400901u, 0, 1},
                                           QueueFill{"165_addresses_one_24", 0x64400901u, 1, 165}),
                         [](const ::testing::TestParamInfo<QueueFill>& info) { return std::string(info.param.name); });

// The measured attack: 3,011 forged ScheduleProbe requests over 26 s, each
// delay chosen so that every probe leaves at the same instant, all with the
// victim's address as source. None is scheduled: the forger cannot get a
// cookie for an address it does not receive at (it tries its own).
TEST(MeasureAbuse, ForgedRequestsScheduleNothingForTheVictim) {
  auto server = make_server();
  const Endpoint victim = *Endpoint::parse("198.51.100.99:53");
  const Endpoint attacker = *Endpoint::parse("203.0.113.66:4444");
  const auto own_cookie = cookie_for(server, kT0, attacker);
  ASSERT_TRUE(own_cookie);
  const TimePoint instant = kT0 + seconds(60);
  std::size_t refusals_to_victim = 0;
  std::uint32_t id = 1;
  for (int i = 0; i < 3011; ++i) {
    const TimePoint now = kT0 + milliseconds(i * 26'000 / 3011);
    const auto delay = static_cast<std::uint32_t>(std::chrono::duration_cast<milliseconds>(instant - now).count());
    const wire::MeasureCookie cookie = (i % 2 == 0) ? *own_cookie : wire::MeasureCookie{};
    auto reply = server.handle(now, view(wire::encode(wire::ScheduleProbeRequest{id++, delay, false, cookie})),
                               Endpoint{victim.address, static_cast<std::uint16_t>(1024 + i)}, 0);
    if (reply) {
      EXPECT_LE(reply->length, wire::kRequestSize);
      ++refusals_to_victim;
    }
  }
  std::size_t at_instant = 0;
  for (const auto& out : server.take_due(instant + seconds(1)))
    if (out.to.address == victim.address) ++at_instant;
  std::printf("[measure-forged-schedule] 3,011 forged ScheduleProbes over 26 s: %zu packets to the victim at the "
              "chosen instant, %zu small refusals\n",
              at_instant, refusals_to_victim);
  EXPECT_EQ(at_instant, 0u);
}

// With a valid cookie for its own address, an abuser still cannot pile its
// deliveries onto one instant: at most max_due_per_second per address.
TEST(MeasureAbuse, DeliveriesToOneAddressAreNotPiledOntoOneInstant) {
  ServerConfig config;
  auto server = make_server(config);
  const IpAddress own = IpAddress::v4({203, 0, 113, 66});
  const TimePoint instant = kT0 + seconds(60);
  std::uint32_t id = 1;
  for (int i = 0; i < 3011; ++i) {
    const TimePoint now = kT0 + milliseconds(i * 26'000 / 3011);
    const Endpoint from{own, static_cast<std::uint16_t>(2000 + i % 500)};
    const auto cookie = cookie_for(server, now, from);
    ASSERT_TRUE(cookie);
    const auto delay = static_cast<std::uint32_t>(std::chrono::duration_cast<milliseconds>(instant - now).count());
    server.handle(now, view(wire::encode(wire::ScheduleProbeRequest{id++, delay, false, *cookie})), from, 0);
  }
  std::size_t within_one_second = 0;
  for (const auto& out : server.take_due(instant + milliseconds(999)))
    if (out.to.address == own) ++within_one_second;
  std::printf("[measure-piling] 3,011 ScheduleProbes aimed at one instant with valid cookies: %zu delivered within "
              "1 s (limit %zu)\n",
              within_one_second, config.max_due_per_second);
  EXPECT_LE(within_one_second, config.max_due_per_second);
}

// --- finding 10: one abuser behind a carrier address --------------------------

struct SharedAddress {
  const char* name;
  double per_second;
  enum class Ports { One, New, Many } ports;
};
void PrintTo(const SharedAddress& c, std::ostream* os) { *os << c.name; }

class MeasureSharedAddress : public ::testing::TestWithParam<SharedAddress> {};

// An honest client behind a carrier NAT (a Reflect every 100 ms on its
// control socket, and a parallel delayed-reply search from ten fresh
// sockets) while someone on the same public address floods Reflects.
TEST_P(MeasureSharedAddress, HonestClientKeepsItsAnswers) {
  const auto& c = GetParam();
  auto server = make_server();  // the defaults `measure-server` runs with
  const IpAddress carrier = IpAddress::v4({100, 64, 7, 9});
  const Endpoint control{carrier, 40000};
  TimePoint now = kT0;
  for (int i = 0; i < 20; ++i, now += milliseconds(100))
    server.handle(now, view(wire::encode(wire::ReflectRequest{1})), control, 0);
  const auto cookie = cookie_for(server, now, control);
  ASSERT_TRUE(cookie);
  for (int p = 0; p < 1000; ++p)
    for (int k = 0; k < 2; ++k)
      server.handle(now, view(wire::encode(wire::ReflectRequest{1})), Endpoint{carrier, static_cast<std::uint16_t>(20000 + p)},
                    0);

  double owed = 0;
  std::uint16_t next_port = 1024;
  int sent = 0, answered = 0, delayed_scheduled = 0;
  std::uint32_t id = 100;
  for (int step = 0; step < 1000; ++step) {  // 10 s
    now += milliseconds(10);
    for (owed += c.per_second / 100; owed >= 1; owed -= 1) {
      Endpoint from{carrier, 55555};
      if (c.ports == SharedAddress::Ports::New) {
        from.port = next_port++;
        if (next_port < 1024 || next_port == control.port) next_port = 1024;
      } else if (c.ports == SharedAddress::Ports::Many) {
        from.port = static_cast<std::uint16_t>(20000 + next_port++ % 1000);
      }
      server.handle(now, view(wire::encode(wire::ReflectRequest{7})), from, 0);
    }
    if (step % 10 == 0) {
      ++sent;
      if (server.handle(now, view(wire::encode(wire::ReflectRequest{id++})), control, 0)) ++answered;
    }
    if (step == 500)
      for (std::uint16_t s = 0; s < 10; ++s) {
        const std::size_t before = server.pending();
        server.handle(now, view(wire::encode(wire::DelayedReflectRequest{id++, 2000, *cookie})),
                      Endpoint{carrier, static_cast<std::uint16_t>(41000 + s)}, 0);
        if (server.pending() > before) ++delayed_scheduled;
      }
  }
  std::printf("[measure-shared-address] %s: honest Reflects %d/%d answered, delayed replies scheduled %d/10\n",
              c.name, answered, sent, delayed_scheduled);
  EXPECT_GE(answered, sent * 99 / 100);
  EXPECT_EQ(delayed_scheduled, 10);
}

INSTANTIATE_TEST_SUITE_P(
    Attacks, MeasureSharedAddress,
    ::testing::Values(SharedAddress{"one_port_4000", 4000, SharedAddress::Ports::One},
                      SharedAddress{"new_ports_4000", 4000, SharedAddress::Ports::New},
                      SharedAddress{"new_ports_40000", 40000, SharedAddress::Ports::New},
                      SharedAddress{"many_ports_40000", 40000, SharedAddress::Ports::Many}),
    [](const ::testing::TestParamInfo<SharedAddress>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace natpunch::measure
