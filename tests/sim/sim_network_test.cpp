// The network's plumbing with a trivial app: timing of a path, replies
// through a NAT, hairpinning between two inside hosts, unroutable and lost
// packets, and NAT drops counted by reason.
#include "sim/network.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace natpunch::sim {
namespace {

// Sends one datagram at `start` if given a destination; echoes whatever it
// receives if `echo`; records every arrival.
class ScriptedApp final : public HostApp {
 public:
  ScriptedApp(Endpoint local, std::optional<Endpoint> send_to, bool echo, TimePoint start = kTimeZero)
      : local_(local), send_to_(send_to), echo_(echo), start_(start) {}

  std::optional<TimePoint> next_deadline() const override {
    return send_to_ && !sent_ ? std::optional<TimePoint>(start_) : std::nullopt;
  }
  void on_timer(TimePoint now, Outbox& out) override {
    if (!send_to_ || sent_ || now < start_) return;
    const std::uint8_t hello[] = {'h', 'i'};
    out.send(local_, *send_to_, hello);
    sent_ = true;
  }
  void on_datagram(TimePoint now, const Packet& packet, Outbox& out) override {
    arrivals.push_back({now, packet.from, packet.to});
    if (echo_) out.send(packet.to, packet.from, packet.payload());
  }

  struct Arrival {
    TimePoint at;
    Endpoint from;
    Endpoint to;
  };
  std::vector<Arrival> arrivals;

 private:
  Endpoint local_;
  std::optional<Endpoint> send_to_;
  bool echo_;
  TimePoint start_;
  bool sent_ = false;
};

const IpAddress kNatIp = IpAddress::v4({203, 0, 113, 1});
const Endpoint kServer{IpAddress::v4({198, 51, 100, 10}), 7};
const Endpoint kInside{IpAddress::v4({100, 64, 0, 2}), 4000};
const Endpoint kInside2{IpAddress::v4({100, 64, 0, 3}), 4000};

nat::NatConfig port_restricted(bool hairpinning = false) {
  nat::NatConfig c;
  c.mapping = nat::MappingBehavior::EndpointIndependent;
  c.filtering = nat::FilteringBehavior::AddressAndPortDependent;
  c.allocator = nat::SequentialSpec{30000, 30100};
  c.hairpinning = hairpinning;
  c.public_addresses = {kNatIp};
  return c;
}

TEST(NetworkTest, ReplyReturnsThroughTheNatAfterTheSumOfLatencies) {
  Network network(1);
  auto nat = network.add_nat(port_restricted(), LinkConfig{milliseconds(5)});
  ASSERT_TRUE(nat);
  ScriptedApp server(kServer, std::nullopt, true);
  network.add_public_host(kServer.address, LinkConfig{milliseconds(20)}, server);
  ScriptedApp client(kInside, kServer, false);
  network.add_inside_host(*nat, kInside.address, LinkConfig{milliseconds(10)}, client);
  network.run(kTimeZero + seconds(10), [] { return false; });

  ASSERT_EQ(server.arrivals.size(), 1u);
  EXPECT_EQ(server.arrivals[0].at, kTimeZero + milliseconds(35));  // access 10 + NAT uplink 5 + server 20
  EXPECT_EQ(server.arrivals[0].from, (Endpoint{kNatIp, 30000}));
  ASSERT_EQ(client.arrivals.size(), 1u);
  EXPECT_EQ(client.arrivals[0].at, kTimeZero + milliseconds(70));
  EXPECT_EQ(client.arrivals[0].from, kServer);
  EXPECT_EQ(client.arrivals[0].to, kInside);
  EXPECT_EQ(network.now(), kTimeZero + milliseconds(70));
}

TEST(NetworkTest, UnsolicitedPacketsAreDroppedAndCountedByReason) {
  Network network(2);
  auto nat = network.add_nat(port_restricted(), LinkConfig{milliseconds(5)});
  ASSERT_TRUE(nat);
  ScriptedApp inside(kInside, kServer, false);
  network.add_inside_host(*nat, kInside.address, LinkConfig{milliseconds(10)}, inside);
  ScriptedApp server(kServer, std::nullopt, false);
  network.add_public_host(kServer.address, LinkConfig{milliseconds(5)}, server);
  // A stranger aims at the mapping (filtered) and at a never-mapped port.
  const Endpoint stranger{IpAddress::v4({198, 51, 100, 66}), 9};
  ScriptedApp at_mapping(stranger, Endpoint{kNatIp, 30000}, false, kTimeZero + seconds(1));
  network.add_public_host(stranger.address, LinkConfig{milliseconds(5)}, at_mapping);
  const Endpoint stranger2{IpAddress::v4({198, 51, 100, 67}), 9};
  ScriptedApp at_nothing(stranger2, Endpoint{kNatIp, 30050}, false, kTimeZero + seconds(1));
  network.add_public_host(stranger2.address, LinkConfig{milliseconds(5)}, at_nothing);
  const Endpoint stranger3{IpAddress::v4({198, 51, 100, 68}), 9};
  ScriptedApp to_nowhere(stranger3, Endpoint{IpAddress::v4({192, 0, 2, 1}), 9}, false);
  network.add_public_host(stranger3.address, LinkConfig{milliseconds(5)}, to_nowhere);
  network.run(kTimeZero + seconds(10), [] { return false; });

  EXPECT_EQ(server.arrivals.size(), 1u);
  EXPECT_TRUE(inside.arrivals.empty());
  EXPECT_EQ(network.nat(*nat).drops(nat::Drop::Filtered), 1u);
  EXPECT_EQ(network.nat(*nat).drops(nat::Drop::NoMapping), 1u);
  EXPECT_EQ(network.counters().unroutable, 1u);
}

TEST(NetworkTest, HairpinningDeliversInsideWithTheSendersExternalEndpoint) {
  Network network(3);
  auto nat_config = port_restricted(true);
  nat_config.filtering = nat::FilteringBehavior::EndpointIndependent;
  auto nat = network.add_nat(nat_config, LinkConfig{milliseconds(5)});
  ASSERT_TRUE(nat);
  ScriptedApp receiver(kInside2, Endpoint{kServer}, false);  // opens 30000 first
  network.add_inside_host(*nat, kInside2.address, LinkConfig{milliseconds(10)}, receiver);
  ScriptedApp server(kServer, std::nullopt, false);
  network.add_public_host(kServer.address, LinkConfig{milliseconds(5)}, server);
  ScriptedApp sender(kInside, Endpoint{kNatIp, 30000}, false, kTimeZero + seconds(1));
  network.add_inside_host(*nat, kInside.address, LinkConfig{milliseconds(10)}, sender);
  network.run(kTimeZero + seconds(10), [] { return false; });

  ASSERT_EQ(receiver.arrivals.size(), 1u);
  EXPECT_EQ(receiver.arrivals[0].from, (Endpoint{kNatIp, 30001}));  // the sender's own mapping
  EXPECT_EQ(receiver.arrivals[0].to, kInside2);
  EXPECT_EQ(receiver.arrivals[0].at, kTimeZero + seconds(1) + milliseconds(20));  // up and down the access links
}

TEST(NetworkTest, LossyPathLosesAboutItsShare) {
  Network network(4);
  std::vector<std::unique_ptr<ScriptedApp>> senders;
  ScriptedApp server(kServer, std::nullopt, false);
  network.add_public_host(kServer.address, LinkConfig{milliseconds(5), {}, 0.2}, server);
  // 2000 independent senders, one datagram each; the server's 20 % loss
  // applies to every path into it.
  for (std::uint32_t i = 0; i < 2000; ++i) {
    const Endpoint local{IpAddress::v4(0x64400000U + 1000 + i), 1};  // 100.64.x.y: never a real address
    senders.push_back(std::make_unique<ScriptedApp>(local, kServer, false));
    network.add_public_host(local.address, LinkConfig{milliseconds(1)}, *senders.back());
  }
  network.run(kTimeZero + seconds(10), [] { return false; });
  EXPECT_NEAR(static_cast<double>(server.arrivals.size()) / 2000.0, 0.8, 0.045);  // 5 standard errors
}

}  // namespace
}  // namespace natpunch::sim
