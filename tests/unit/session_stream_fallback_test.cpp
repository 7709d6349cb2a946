// The session machine's side of registering over TCP/TLS when UDP gets no
// answer (the driver, io/peer_session.cpp, moves the bytes): after
// use_rendezvous_stream() it registers again at once, says which transport
// it uses, and relays only -- the peer learns it and does not punch at a
// side whose UDP is blocked. Virtual time (session_net.hpp); the "stream"
// is the net's datagrams, unblocked at the moment the driver would switch.
#include <gtest/gtest.h>

#include <string>

#include "session/peer_session_machine.hpp"
#include "session_net.hpp"

namespace natpunch::session {
namespace {

using testing::SessionNet;

const IpAddress kAddressA = IpAddress::v4({198, 51, 100, 1});
const IpAddress kAddressB = IpAddress::v4({198, 51, 100, 2});

TEST(SessionStreamFallback, AfterTheSwitchBothSidesRelayAndNobodyPunches) {
  SessionNet net;
  bool udp_blocked = true;
  net.drop = [&](const Endpoint& from, const Endpoint&, std::span<const std::uint8_t>) {
    return udp_blocked && from.address == kAddressA;
  };
  const auto id_a = net.identity(), id_b = net.identity();
  auto& b = net.add(net.config(false, id_b), kAddressB);
  auto ca = net.config(true, id_a);
  ca.peer = id_b.public_key;
  auto& a = net.add(ca, kAddressA);
  net.run_for(seconds(2));
  ASSERT_EQ(a.machine->phase(), Phase::Registering) << "nothing of a's got through";
  udp_blocked = false;
  a.machine->use_rendezvous_stream(net.now, "tls");
  const TimePoint switched = net.now;
  net.run_for(seconds(10), [&] { return net.both_open(); });
  ASSERT_TRUE(net.both_open());
  EXPECT_LT(net.now - switched, seconds(2)) << "registers at once over the stream, no backoff left from UDP";
  EXPECT_EQ(a.machine->info().rendezvous_transport, "tls");
  EXPECT_EQ(b.machine->info().rendezvous_transport, "udp");
  for (const auto* p : {&a, &b}) {
    EXPECT_EQ(p->machine->stats().route, SessionRoute::kRelay);
    EXPECT_EQ(p->machine->info().probes_sent, 0u) << "nobody punches at a side whose UDP is blocked";
  }
  EXPECT_EQ(b.machine->info().stop_reason, "the peer forced relay");
  bool warned = false, registered_over_tls = false;
  for (const auto& p : a.all<session_event::Progress>()) {
    warned = warned || p.progress.message.find("no answer over UDP from 203.0.113.10:7000: registering over tls") !=
                           std::string::npos;
    registered_over_tls = registered_over_tls || p.progress.message.find("registered at 203.0.113.10:7000 over tls") !=
                                                     std::string::npos;
  }
  EXPECT_TRUE(warned);
  EXPECT_TRUE(registered_over_tls);
  // Data crosses the relay both ways.
  const std::vector<std::uint8_t> hello{'h', 'i'};
  ASSERT_TRUE(net.send(a, hello));
  ASSERT_TRUE(net.send(b, hello));
  net.run_for(seconds(1));
  ASSERT_EQ(a.received.size(), 1u);
  ASSERT_EQ(b.received.size(), 1u);
}

TEST(SessionStreamFallback, AnUnreachableServerFailsAtOnceWithTheDriversReason) {
  SessionNet net;
  net.drop = [](const Endpoint&, const Endpoint&, std::span<const std::uint8_t>) { return true; };
  auto& a = net.add(net.config(false, net.identity()), kAddressA);
  net.run_for(seconds(2));
  a.machine->rendezvous_unreachable(net.now, "TLS with rendezvous server 203.0.113.10:443 over tls: certificate not accepted");
  net.flush_all();
  const auto failed = a.last<session_event::Failed>();
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->error.kind, ErrorKind::kNoAnswer);
  EXPECT_NE(failed->error.message.find("certificate not accepted"), std::string::npos) << failed->error.message;
}

}  // namespace
}  // namespace natpunch::session
