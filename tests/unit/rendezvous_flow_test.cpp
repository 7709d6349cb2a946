// Rendezvous server + clients in virtual time: registration, connect,
// accept/reject, expiry, server restart, loss.
#include <gtest/gtest.h>

#include "rendezvous_harness.hpp"

namespace natpunch::rendezvous {
namespace {

using testing::ep;
using testing::Harness;
using Kind = client_event::IncomingRequest;

NatInfo sample_info() {
  NatInfo info;
  info.mapping = nat::MappingBehavior::AddressAndPortDependent;
  info.filtering = nat::FilteringBehavior::AddressAndPortDependent;
  info.carrier_profile = "kpn-nl";
  info.pending_timeout_ms = 120000;
  info.idle_timeout_ms = 239000;
  info.local_endpoints = {ep(100, 64, 1, 2, 40000)};
  return info;
}

TEST(RendezvousFlow, BothRegisterAndSeeTheirObservedEndpoint) {
  Harness h;
  auto& a = h.add_peer(ep(198, 51, 100, 10, 5000));
  auto& b = h.add_peer(ep(198, 51, 100, 20, 6000));
  ASSERT_TRUE(a.client->registered());
  ASSERT_TRUE(b.client->registered());
  EXPECT_EQ(a.client->observed_endpoint(), a.endpoint);
  EXPECT_EQ(a.last<client_event::Registered>()->observed, a.endpoint);
  EXPECT_EQ(h.server().registration_count(), 2u);
}

TEST(RendezvousFlow, ConnectGivesBothSidesMatchingSessionInfo) {
  Harness h;
  auto& a = h.add_peer(ep(198, 51, 100, 10, 5000), accept_all(), sample_info());
  NatInfo b_info;
  b_info.mapping = nat::MappingBehavior::EndpointIndependent;
  b_info.filtering = nat::FilteringBehavior::AddressDependent;
  auto& b = h.add_peer(ep(198, 51, 100, 20, 6000), accept_all(), b_info);
  const auto request = a.client->connect(h.now, b.client->identity());
  h.pump();

  auto sa = a.last<client_event::SessionReady>();
  auto sb = b.last<client_event::SessionReady>();
  ASSERT_TRUE(sa && sb);
  EXPECT_EQ(sa->session.session_id, sb->session.session_id);
  EXPECT_EQ(sa->session.session_key, sb->session.session_key);
  EXPECT_NE(sa->session.session_key, Key{});
  EXPECT_EQ(sa->session.start_at, sb->session.start_at);
  EXPECT_EQ(sa->session.start_at, h.now + h.server().config().start_delay);
  EXPECT_EQ(sa->session.role, Role::Caller);
  EXPECT_EQ(sb->session.role, Role::Callee);
  EXPECT_EQ(sa->session.correlation_id, request);
  EXPECT_EQ(sa->session.peer, b.client->identity());
  EXPECT_EQ(sb->session.peer, a.client->identity());
  EXPECT_EQ(sa->session.peer_observed, b.endpoint);
  EXPECT_EQ(sb->session.peer_observed, a.endpoint);
  EXPECT_EQ(sb->session.peer_info, sample_info());
  EXPECT_EQ(sa->session.peer_info, b_info);
  ASSERT_EQ(b.all<Kind>().size(), 1u);
  EXPECT_EQ(b.all<Kind>()[0].caller, a.client->identity());
  EXPECT_EQ(h.server().session_count(), 1u);
}

TEST(RendezvousFlow, TwoSessionsGetDifferentIdsAndKeys) {
  Harness h;
  auto& a = h.add_peer(ep(198, 51, 100, 10, 5000));
  auto& b = h.add_peer(ep(198, 51, 100, 20, 6000));
  auto& c = h.add_peer(ep(198, 51, 100, 30, 7000));
  a.client->connect(h.now, b.client->identity());
  a.client->connect(h.now, c.client->identity());
  h.pump();
  auto sessions = a.all<client_event::SessionReady>();
  ASSERT_EQ(sessions.size(), 2u);
  EXPECT_NE(sessions[0].session.session_id, sessions[1].session.session_id);
  EXPECT_NE(sessions[0].session.session_key, sessions[1].session.session_key);
}

struct AnswerCase {
  const char* name;
  bool policy_accepts;
  bool use_allow_list;
  bool expect_session;
};

class RendezvousAnswer : public ::testing::TestWithParam<AnswerCase> {};

TEST_P(RendezvousAnswer, PolicyDecidesAndNobodyLearnsEndpointsOnReject) {
  const auto& tc = GetParam();
  Harness h;
  auto& a = h.add_peer(ep(198, 51, 100, 10, 5000));
  AcceptPolicy policy;
  if (tc.use_allow_list)
    policy = accept_from(tc.policy_accepts ? std::vector<PublicKey>{a.client->identity()} : std::vector<PublicKey>{});
  else
    policy = [accepts = tc.policy_accepts](const PublicKey&) { return accepts; };
  auto& b = h.add_peer(ep(198, 51, 100, 20, 6000), policy);
  const auto request = a.client->connect(h.now, b.client->identity());
  h.pump();
  EXPECT_EQ(a.last<client_event::SessionReady>().has_value(), tc.expect_session);
  EXPECT_EQ(b.last<client_event::SessionReady>().has_value(), tc.expect_session);
  ASSERT_TRUE(b.last<Kind>());
  EXPECT_EQ(b.last<Kind>()->accepted, tc.policy_accepts);
  if (!tc.expect_session) {
    auto failed = a.last<client_event::ConnectFailed>();
    ASSERT_TRUE(failed);
    EXPECT_EQ(failed->request_id, request);
    EXPECT_EQ(failed->code, ErrorCode::Rejected);
    EXPECT_EQ(h.server().session_count(), 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(Table, RendezvousAnswer,
                         ::testing::Values(AnswerCase{"CallbackAccepts", true, false, true},
                                           AnswerCase{"CallbackRejects", false, false, false},
                                           AnswerCase{"AllowListed", true, true, true},
                                           AnswerCase{"NotAllowListed", false, true, false}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(RendezvousFlow, ManualAcceptWaitsForTheApplication) {
  Harness h;
  auto& a = h.add_peer(ep(198, 51, 100, 10, 5000));
  auto& b = h.add_peer(ep(198, 51, 100, 20, 6000), AcceptPolicy{});
  a.client->connect(h.now, b.client->identity());
  h.advance(milliseconds(600));  // the caller retransmits meanwhile
  auto incoming = b.all<Kind>();
  ASSERT_EQ(incoming.size(), 1u) << "a retransmitted request is reported once";
  EXPECT_FALSE(incoming[0].accepted.has_value());
  // Before the callee accepts, neither side has anything about the other's endpoints.
  EXPECT_FALSE(a.last<client_event::SessionReady>());
  EXPECT_FALSE(b.last<client_event::SessionReady>());
  b.client->accept(h.now, incoming[0].invitation_id);
  h.pump();
  EXPECT_TRUE(a.last<client_event::SessionReady>());
  EXPECT_TRUE(b.last<client_event::SessionReady>());
}

TEST(RendezvousFlow, UnknownPeerFailsAtOnce) {
  Harness h;
  auto& a = h.add_peer(ep(198, 51, 100, 10, 5000));
  PublicKey nobody{};
  nobody.fill(7);
  const auto request = a.client->connect(h.now, nobody);
  h.pump();
  auto failed = a.last<client_event::ConnectFailed>();
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->request_id, request);
  EXPECT_EQ(failed->code, ErrorCode::UnknownPeer);
}

TEST(RendezvousFlow, SilentCalleeTimesOut) {
  Harness h;
  auto& a = h.add_peer(ep(198, 51, 100, 10, 5000));
  auto& b = h.add_peer(ep(198, 51, 100, 20, 6000));
  b.online = false;
  a.client->connect(h.now, b.client->identity());
  h.advance(seconds(11));
  auto failed = a.last<client_event::ConnectFailed>();
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->code, ErrorCode::Timeout);
}

TEST(RendezvousFlow, RegistrationExpiresWhenThePeerGoesAway) {
  Harness h;
  auto& a = h.add_peer(ep(198, 51, 100, 10, 5000));
  auto& b = h.add_peer(ep(198, 51, 100, 20, 6000));
  b.online = false;
  h.advance(h.server().config().registration_lifetime + seconds(2));
  EXPECT_EQ(h.server().registration_count(), 1u) << "A kept itself alive with refreshes, B expired";
  EXPECT_TRUE(a.client->registered());
  a.client->connect(h.now, b.client->identity());
  h.pump();
  ASSERT_TRUE(a.last<client_event::ConnectFailed>());
  EXPECT_EQ(a.last<client_event::ConnectFailed>()->code, ErrorCode::UnknownPeer);
}

TEST(RendezvousFlow, ClientsReRegisterByThemselvesAfterAServerRestart) {
  Harness h;
  auto& a = h.add_peer(ep(198, 51, 100, 10, 5000));
  auto& b = h.add_peer(ep(198, 51, 100, 20, 6000));
  h.restart_server();
  EXPECT_EQ(h.server().registration_count(), 0u);
  // The next refresh is answered "not registered"; both register again.
  h.advance(h.server().config().refresh_interval + seconds(2));
  EXPECT_EQ(h.server().registration_count(), 2u);
  ASSERT_TRUE(a.last<client_event::RegistrationLost>());
  EXPECT_EQ(a.last<client_event::RegistrationLost>()->reason, ErrorCode::NotRegistered);
  EXPECT_EQ(a.all<client_event::Registered>().size(), 2u);
  a.client->connect(h.now, b.client->identity());
  h.pump();
  EXPECT_TRUE(b.last<client_event::SessionReady>());
}

TEST(RendezvousFlow, ClientsReRegisterWhenTheServerWasDownForAWhile) {
  Harness h;
  auto& a = h.add_peer(ep(198, 51, 100, 10, 5000));
  // The server is unreachable for 3 minutes (refreshes go unanswered), then
  // comes back empty.
  h.drop = [](const testing::Captured&) { return true; };
  h.advance(seconds(180));
  EXPECT_FALSE(a.client->registered());
  h.restart_server();
  h.drop = nullptr;
  h.advance(seconds(10));
  EXPECT_TRUE(a.client->registered());
  EXPECT_EQ(h.server().registration_count(), 1u);
}

TEST(RendezvousFlow, RegistrationAndConnectSurviveHeavyLoss) {
  Harness h;
  Rng loss(7);
  h.drop = [&loss](const testing::Captured&) { return loss.uniform(0, 99) < 30; };  // 30 % of all datagrams lost
  auto& a = h.add_peer(ep(198, 51, 100, 10, 5000));
  auto& b = h.add_peer(ep(198, 51, 100, 20, 6000));
  h.advance(seconds(20));
  ASSERT_TRUE(a.client->registered());
  ASSERT_TRUE(b.client->registered());
  a.client->connect(h.now, b.client->identity());
  h.advance(seconds(9));
  auto sa = a.last<client_event::SessionReady>();
  auto sb = b.last<client_event::SessionReady>();
  ASSERT_TRUE(sa && sb);
  EXPECT_EQ(sa->session.session_id, sb->session.session_id);
  EXPECT_EQ(sa->session.session_key, sb->session.session_key);
  EXPECT_EQ(a.all<client_event::SessionReady>().size(), 1u) << "duplicates are not reported twice";
}

TEST(RendezvousFlow, ObservedEndpointFollowsANatRebinding) {
  Harness h;
  auto& a = h.add_peer(ep(198, 51, 100, 10, 5000));
  a.endpoint = ep(198, 51, 100, 10, 5999);  // the NAT gave A a new port
  h.advance(h.server().config().refresh_interval + seconds(1));
  EXPECT_EQ(h.server().observed_endpoint(a.client->identity()), a.endpoint);
  EXPECT_EQ(a.client->observed_endpoint(), a.endpoint);
}

TEST(RendezvousFlow, PendingRequestsPerIdentityAreCapped) {
  auto config = testing::test_server_config();
  config.limits.max_pending_per_identity = 2;
  Harness h(config);
  auto& a = h.add_peer(ep(198, 51, 100, 10, 5000));
  auto& b = h.add_peer(ep(198, 51, 100, 20, 6000), AcceptPolicy{});
  for (int i = 0; i < 3; ++i) a.client->connect(h.now, b.client->identity());
  h.pump();
  auto failed = a.all<client_event::ConnectFailed>();
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].code, ErrorCode::TooManyPending);
  EXPECT_EQ(h.server().pending_count(), 2u);
}

TEST(RendezvousFlow, RegistrationTableIsCapped) {
  auto config = testing::test_server_config();
  config.limits.max_registrations = 2;
  Harness h(config);
  h.add_peer(ep(198, 51, 100, 10, 5000));
  h.add_peer(ep(198, 51, 100, 20, 6000));
  auto& c = h.add_peer(ep(198, 51, 100, 30, 7000));
  h.advance(seconds(2));
  EXPECT_FALSE(c.client->registered());
  EXPECT_EQ(h.server().registration_count(), 2u);
}

}  // namespace
}  // namespace natpunch::rendezvous
