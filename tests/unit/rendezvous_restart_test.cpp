// The rendezvous server restarts (issue 8), in virtual time: registered
// clients notice through any authenticated message (a refresh or a connect
// answered "not registered"), register again by themselves, and report the
// endpoint the new server observes -- which may have changed meanwhile.
#include <gtest/gtest.h>

#include "rendezvous_harness.hpp"

namespace natpunch::rendezvous {
namespace {

using testing::ep;
using testing::Harness;

TEST(RendezvousRestart, ClientReportsTheNewEndpointWhenTheNatRebindsAcrossARestart) {
  Harness h;
  auto& a = h.add_peer(ep(198, 51, 100, 10, 5000));
  ASSERT_EQ(a.all<client_event::Registered>().size(), 1u);
  h.restart_server();
  a.endpoint = ep(198, 51, 100, 10, 6123);  // the NAT's mapping expired meanwhile: a new port
  h.advance(h.server().config().refresh_interval + seconds(2));
  ASSERT_TRUE(a.client->registered());
  const auto registered = a.all<client_event::Registered>();
  ASSERT_EQ(registered.size(), 2u);
  EXPECT_EQ(registered.back().observed, a.endpoint);
  EXPECT_EQ(a.client->observed_endpoint(), a.endpoint);
  EXPECT_EQ(h.server().observed_endpoint(a.client->identity()), a.endpoint);
  EXPECT_EQ(a.client->counters().registrations, 2u);
}

TEST(RendezvousRestart, AConnectAfterARestartReRegistersAtOnceInsteadOfWaitingForTheRefresh) {
  Harness h;
  auto& a = h.add_peer(ep(198, 51, 100, 10, 5000));
  auto& b = h.add_peer(ep(198, 51, 100, 20, 6000));
  const Duration refresh = h.server().config().refresh_interval;
  h.advance(refresh - seconds(5));  // both refresh in 5 s
  h.restart_server();

  // A's connect is answered "not registered": A registers again at once and
  // resends it; B has not noticed the restart yet, so the server does not
  // know B -- an honest UnknownPeer, not a hang.
  const TimePoint restarted = h.now;
  a.client->connect(h.now, b.client->identity());
  h.advance(milliseconds(10));
  EXPECT_TRUE(a.client->registered());
  EXPECT_EQ(a.client->counters().registrations, 2u) << "registered again without waiting " << refresh.count();
  ASSERT_TRUE(a.last<client_event::ConnectFailed>());
  EXPECT_EQ(a.last<client_event::ConnectFailed>()->code, ErrorCode::UnknownPeer);
  EXPECT_LT(h.now - restarted, seconds(1));

  // B's next refresh brings it back; the application's retry then succeeds.
  h.advance(seconds(6));
  EXPECT_EQ(h.server().registration_count(), 2u);
  ASSERT_TRUE(b.last<client_event::RegistrationLost>());
  a.client->connect(h.now, b.client->identity());
  h.pump();
  auto sa = a.last<client_event::SessionReady>();
  auto sb = b.last<client_event::SessionReady>();
  ASSERT_TRUE(sa && sb);
  EXPECT_EQ(sa->session.session_id, sb->session.session_id);
  EXPECT_EQ(sa->session.peer_observed, b.endpoint);
}

TEST(RendezvousRestart, RepeatedRestartsAreEachFollowedByOneNewRegistration) {
  Harness h;
  auto& a = h.add_peer(ep(198, 51, 100, 10, 5000));
  for (int restart = 1; restart <= 3; ++restart) {
    h.restart_server();
    h.advance(h.server().config().refresh_interval + seconds(2));
    EXPECT_TRUE(a.client->registered()) << "restart " << restart;
    EXPECT_EQ(h.server().registration_count(), 1u);
    EXPECT_EQ(a.all<client_event::RegistrationLost>().size(), static_cast<std::size_t>(restart));
    EXPECT_EQ(a.client->counters().registrations, static_cast<std::uint64_t>(restart + 1));
  }
}

}  // namespace
}  // namespace natpunch::rendezvous
