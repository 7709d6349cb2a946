// The rendezvous hands registered peers TURN relays with credentials in the
// TURN REST API form coturn's use-auth-secret accepts: minted per identity
// from the relay's secret, with the server's idea of Unix time, encrypted
// on the wire, re-offered as they age.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "rendezvous_harness.hpp"
#include "turn/rest_credentials.hpp"

namespace natpunch::rendezvous {
namespace {

using testing::ep;
using testing::Harness;
namespace ev = client_event;

constexpr std::int64_t kUnixAtStart = 1'700'000'000;

ServerConfig with_turn(std::size_t relays = 2) {
  ServerConfig c = testing::test_server_config();
  for (std::size_t i = 0; i < relays; ++i)
    c.turn.relays.push_back(TurnRelayConfig{ep(203, 0, 113, static_cast<std::uint8_t>(10 + i), 3478),
                                            static_cast<std::uint8_t>(kTurnUdp | kTurnTcp | (i == 0 ? kTurnTls : 0)),
                                            static_cast<std::uint16_t>(i == 0 ? 443 : 0),
                                            i == 0 ? "turn.example.org" : "", "secret-" + std::to_string(i)});
  c.turn.credential_lifetime = std::chrono::seconds(600);
  c.turn.reoffer_interval = seconds(150);
  c.turn.unix_at_start = kUnixAtStart;
  return c;
}

TEST(RendezvousTurnOffer, RegisteredPeersGetCredentialsTheRelaysAccept) {
  ServerConfig config = with_turn();
  // Unix time kUnixAtStart is the harness's first instant.
  config.turn.start = Harness::kStart;
  Harness harness(config);
  harness.advance(seconds(7));
  auto& peer = harness.add_peer(ep(198, 51, 100, 7, 4000));
  const auto offer = peer.last<ev::TurnServersOffered>();
  ASSERT_TRUE(offer);
  ASSERT_EQ(offer->servers.size(), 2u);
  const std::string id = to_hex(std::span(peer.client->identity()).first(8));
  for (std::size_t i = 0; i < 2; ++i) {
    const TurnServer& s = offer->servers[i];
    EXPECT_EQ(s.address, config.turn.relays[i].address);
    EXPECT_EQ(s.transports, config.turn.relays[i].transports);
    EXPECT_EQ(s.tls_port, config.turn.relays[i].tls_port);
    EXPECT_EQ(s.name, config.turn.relays[i].name);
    // EXPIRY = Unix time now + lifetime; 7 s passed since the server started.
    EXPECT_EQ(s.username, std::to_string(kUnixAtStart + 7 + 600) + ":" + id);
    EXPECT_EQ(s.password, turn::rest_password("secret-" + std::to_string(i), s.username)) << "relay " << i;
  }
  EXPECT_EQ(offer->expires, harness.now + seconds(600));
  EXPECT_EQ(peer.client->turn_offer()->servers, offer->servers);
}

TEST(RendezvousTurnOffer, PasswordsNeverCrossTheWireInTheClear) {
  Harness h(with_turn());
  auto& peer = h.add_peer(ep(198, 51, 100, 7, 4000));
  const auto offer = peer.last<ev::TurnServersOffered>();
  ASSERT_TRUE(offer);
  std::size_t turn_messages = 0;
  for (const auto& c : h.wire) {
    auto decoded = decode(c.bytes);
    if (!decoded || !std::holds_alternative<TurnServers>(*decoded)) continue;
    ++turn_messages;
    for (const TurnServer& s : std::get<TurnServers>(*decoded).servers) EXPECT_NE(s.password, offer->servers[0].password);
    for (const TurnServer& s : offer->servers) {
      const std::string wire(c.bytes.begin(), c.bytes.end());
      EXPECT_EQ(wire.find(s.password), std::string::npos);
      EXPECT_NE(wire.find(s.username), std::string::npos);  // usernames are not secret
    }
  }
  EXPECT_EQ(turn_messages, 1u);
}

TEST(RendezvousTurnOffer, ReofferedOnRefreshOnlyOnceTheOfferAged) {
  Harness h(with_turn(1));
  auto& peer = h.add_peer(ep(198, 51, 100, 7, 4000));
  ASSERT_EQ(peer.all<ev::TurnServersOffered>().size(), 1u);
  // Refreshes every 30 s; the offer is repeated from 150 s on.
  h.advance(seconds(140));
  EXPECT_EQ(peer.all<ev::TurnServersOffered>().size(), 1u);
  h.advance(seconds(40));
  ASSERT_EQ(peer.all<ev::TurnServersOffered>().size(), 2u);
  const auto first = peer.all<ev::TurnServersOffered>()[0];
  const auto second = peer.all<ev::TurnServersOffered>()[1];
  EXPECT_GT(second.expires, first.expires);
  EXPECT_NE(second.servers[0].username, first.servers[0].username);  // a later EXPIRY
  EXPECT_EQ(second.servers[0].password, turn::rest_password("secret-0", second.servers[0].username));
}

TEST(RendezvousTurnOffer, LostOfferComesBackWithTheNextAgedRefresh) {
  Harness h(with_turn(1));
  bool dropped = false;
  h.drop = [&](const testing::Captured& c) {
    auto decoded = decode(c.bytes);
    if (dropped || !decoded || !std::holds_alternative<TurnServers>(*decoded)) return false;
    dropped = true;
    return true;
  };
  auto& peer = h.add_peer(ep(198, 51, 100, 7, 4000));
  EXPECT_TRUE(dropped);
  EXPECT_FALSE(peer.client->turn_offer());
  h.advance(seconds(181));
  EXPECT_TRUE(peer.client->turn_offer());
}

// Credentials that live shorter than the re-offer interval: offered again
// at half their lifetime, so what a registered peer holds (for a new TURN
// allocation when one is lost) has never expired.
TEST(RendezvousTurnOffer, ShortLivedCredentialsAreReofferedBeforeTheyExpire) {
  ServerConfig config = with_turn(1);
  config.turn.credential_lifetime = std::chrono::seconds(60);
  config.turn.reoffer_interval = seconds(300);
  Harness h(config);
  auto& peer = h.add_peer(ep(198, 51, 100, 7, 4000));
  ASSERT_TRUE(peer.client->turn_offer());
  for (int second = 0; second < 400; ++second) {
    h.advance(seconds(1));
    ASSERT_GT(peer.client->turn_offer()->expires, h.now) << "expired at " << second << " s";
  }
  EXPECT_GE(peer.all<ev::TurnServersOffered>().size(), 10u);
}

TEST(RendezvousTurnOffer, NoRelaysNoOffer) {
  Harness h;
  auto& peer = h.add_peer(ep(198, 51, 100, 7, 4000));
  h.advance(seconds(400));
  EXPECT_TRUE(peer.client->registered());
  EXPECT_TRUE(peer.all<ev::TurnServersOffered>().empty());
  for (const auto& c : h.wire) {
    auto decoded = decode(c.bytes);
    EXPECT_FALSE(decoded && std::holds_alternative<TurnServers>(*decoded));
  }
}

TEST(RendezvousTurnOffer, ServerIgnoresTurnServersFromClients) {
  Harness h(with_turn(1));
  auto& peer = h.add_peer(ep(198, 51, 100, 7, 4000));
  const auto before = h.server().counters().dropped_wrong_direction;
  TurnServers forged;
  forged.servers = {TurnServer{ep(203, 0, 113, 66, 3478), kTurnUdp, 0, "", "u", "p"}};
  h.inject(peer.endpoint, encode(forged));
  EXPECT_EQ(h.server().counters().dropped_wrong_direction, before + 1);
}

}  // namespace
}  // namespace natpunch::rendezvous
