// Authenticated session data on the direct path (wire/session_datagram.hpp).
#include "wire/session_datagram.hpp"

#include <gtest/gtest.h>

#include <sodium.h>

namespace natpunch::wire {
namespace {

SessionKey key_from(std::uint8_t seed) {
  SessionKey key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(seed + 5 * i);
  return key;
}

class SessionDatagramTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ASSERT_GE(sodium_init(), 0); }
  // One session seen from each end: the caller seals (`key`), the callee opens (`peer`).
  const SessionDatagramKeys key{key_from(9), SessionRole::Caller};
  const SessionDatagramKeys peer{key_from(9), SessionRole::Callee};
  const SessionDatagram sample{kFlagGotYours, 0x0102030405060708ULL, 0x1112131415161718ULL, {'h', 'i', '!'}};
};

TEST_F(SessionDatagramTest, RoundTripsInNetworkByteOrder) {
  const auto bytes = encode(sample, key);
  ASSERT_EQ(bytes.size(), kSessionHeaderSize + 3 + kSessionMacSize);
  EXPECT_EQ(bytes[0], 'N');
  EXPECT_EQ(bytes[1], 'D');
  EXPECT_EQ(bytes[2], kSessionVersion);
  EXPECT_EQ(bytes[3], kFlagGotYours);
  EXPECT_EQ(bytes[4], 0x01);
  EXPECT_EQ(bytes[11], 0x08);
  EXPECT_EQ(bytes[12], 0x11);
  EXPECT_EQ(bytes[23], 3);  // payload length, low byte
  EXPECT_TRUE(looks_like_session_datagram(bytes));
  auto decoded = decode_session_datagram(bytes, sample.session_id, peer);
  ASSERT_TRUE(decoded) << to_string(decoded.error());
  EXPECT_EQ(*decoded, sample);
}

TEST_F(SessionDatagramTest, EmptyAndMaximalPayloadsRoundTripAndLongerOnesAreCut) {
  for (std::size_t length : {std::size_t{0}, kMaxSessionPayload, kMaxSessionPayload + 100}) {
    SessionDatagram d = sample;
    d.payload.assign(length, 0xab);
    auto decoded = decode_session_datagram(encode(d, key), d.session_id, peer);
    ASSERT_TRUE(decoded) << length;
    EXPECT_EQ(decoded->payload.size(), std::min(length, kMaxSessionPayload));
  }
}

TEST_F(SessionDatagramTest, EachDefectHasItsOwnError) {
  const auto good = encode(sample, key);
  struct Case {
    const char* name;
    std::vector<std::uint8_t> bytes;
    std::uint64_t session;
    SessionDatagramKeys key;
    SessionDatagramError expected;
  };
  auto with = [&](std::size_t at, std::uint8_t value) {
    auto b = good;
    b[at] = value;
    return b;
  };
  auto shorter = good;
  shorter.pop_back();
  const Case cases[] = {
      {"empty", {}, sample.session_id, peer, SessionDatagramError::TooShort},
      {"header only", {good.begin(), good.begin() + kSessionHeaderSize}, sample.session_id, peer,
       SessionDatagramError::TooShort},
      {"probe magic", with(1, 'P'), sample.session_id, peer, SessionDatagramError::BadMagic},
      {"version 1", with(2, 1), sample.session_id, peer, SessionDatagramError::BadVersion},
      {"length too large", with(23, 4), sample.session_id, peer, SessionDatagramError::BadLength},
      {"truncated", shorter, sample.session_id, peer, SessionDatagramError::BadLength},
      {"huge length", with(20, 0xff), sample.session_id, peer, SessionDatagramError::BadLength},
      {"other session", good, sample.session_id + 1, peer, SessionDatagramError::WrongSession},
      {"other key", good, sample.session_id, {key_from(10), SessionRole::Callee}, SessionDatagramError::BadMac},
      // Issue 23: bounced back to its sender, a datagram does not open there.
      {"own datagram", good, sample.session_id, key, SessionDatagramError::BadMac},
      {"flipped payload", with(kSessionHeaderSize, 'H'), sample.session_id, peer, SessionDatagramError::BadMac},
      {"flipped flags", with(3, kFlagEnd), sample.session_id, peer, SessionDatagramError::BadMac},
      {"flipped sequence", with(19, 0), sample.session_id, peer, SessionDatagramError::BadMac},
      {"flipped mac", with(good.size() - 1, static_cast<std::uint8_t>(good.back() ^ 1)), sample.session_id, peer,
       SessionDatagramError::BadMac},
  };
  for (const auto& c : cases) {
    auto decoded = decode_session_datagram(c.bytes, c.session, c.key);
    ASSERT_FALSE(decoded) << c.name;
    EXPECT_EQ(decoded.error(), c.expected) << c.name << ": " << to_string(decoded.error());
  }
}

TEST_F(SessionDatagramTest, EachDirectionHasItsOwnKey) {
  EXPECT_NE(key.sending(), key.receiving());
  EXPECT_EQ(key.sending(), peer.receiving());
  EXPECT_EQ(key.receiving(), peer.sending());
  const auto from_callee = encode(sample, peer);
  ASSERT_TRUE(decode_session_datagram(from_callee, sample.session_id, key));
  EXPECT_EQ(decode_session_datagram(from_callee, sample.session_id, peer).error(), SessionDatagramError::BadMac);
  // The derivation, for other implementations: BLAKE2b-256 keyed with the
  // session key over the label.
  SessionKey expected{};
  const std::string label = "natpunch data v2 caller->callee";
  const SessionKey session = key_from(9);
  crypto_generichash(expected.data(), expected.size(), reinterpret_cast<const unsigned char*>(label.data()),
                     label.size(), session.data(), session.size());
  EXPECT_EQ(key.sending(), expected);
}

TEST_F(SessionDatagramTest, ProbesAreNotSessionDatagrams) {
  ProbeBytes probe{};
  probe[0] = 'N';
  probe[1] = 'P';
  EXPECT_FALSE(looks_like_session_datagram(probe));
  EXPECT_FALSE(looks_like_session_datagram(std::vector<std::uint8_t>{'N'}));
}

}  // namespace
}  // namespace natpunch::wire

namespace natpunch::wire {
namespace {

const Endpoint kV4 = *Endpoint::parse("203.0.113.101:40123");
const Endpoint kV6 = *Endpoint::parse("[2001:db8::7]:3478");

TEST(SessionControlTest, EachTypeRoundTripsAndEachDefectHasItsOwnError) {
  for (const SessionControl& c : {SessionControl{ControlType::Keepalive, 0x0102030405060708ULL, 0, 0, std::nullopt},
                                  SessionControl{ControlType::KeepaliveReply, 42, 0, 0, std::nullopt},
                                  SessionControl{ControlType::Repunch, 0, 7, 500, std::nullopt},
                                  SessionControl{ControlType::Repunch, 0, 7, 500, kV4},
                                  SessionControl{ControlType::Repunch, 0, 0xffffffffu, 0, kV6},
                                  SessionControl{ControlType::RepunchAck, 0, 7, 0, std::nullopt},
                                  SessionControl{ControlType::RepunchAck, 0, 7, 0, kV4},
                                  SessionControl{ControlType::RepunchAck, 0, 8, 0, kV6},
                                  SessionControl{ControlType::Close, 0, 0, 0, std::nullopt},
                                  SessionControl{ControlType::PathChallenge, 0xfedcba9876543210ULL, 0, 0, std::nullopt},
                                  SessionControl{ControlType::PathResponse, 1, 0, 0, std::nullopt}}) {
    auto decoded = decode_session_control(encode(c));
    ASSERT_TRUE(decoded.ok()) << static_cast<int>(c.type);
    EXPECT_EQ(*decoded, c);
  }
  // Without an endpoint: the version-1 form from before endpoints.
  EXPECT_EQ(encode(SessionControl{ControlType::Repunch, 0, 7, 500, std::nullopt}),
            (std::vector<std::uint8_t>{3, 0, 0, 0, 7, 0, 0, 1, 0xf4}));
  EXPECT_EQ(encode(SessionControl{ControlType::Repunch, 0, 7, 500, kV4}),
            (std::vector<std::uint8_t>{3, 0, 0, 0, 7, 0, 0, 1, 0xf4, 4, 203, 0, 113, 101, 0x9c, 0xbb}));
  EXPECT_EQ(encode(SessionControl{ControlType::RepunchAck, 0, 2, 0, kV4}),
            (std::vector<std::uint8_t>{5, 0, 0, 0, 2, 4, 203, 0, 113, 101, 0x9c, 0xbb}));
  struct Case {
    std::vector<std::uint8_t> bytes;
    SessionControlError error;
  } cases[] = {
      {{}, SessionControlError::Empty},
      {{9}, SessionControlError::UnknownType},
      {{8}, SessionControlError::UnknownType},
      {{0}, SessionControlError::UnknownType},
      {{1, 0, 0}, SessionControlError::BadLength},
      {{6, 0, 0, 0, 0, 0, 0, 0}, SessionControlError::BadLength},  // challenge cut short
      {{7, 0, 0, 0, 0, 0, 0, 0, 0, 0}, SessionControlError::BadLength},
      {{3, 0, 0, 0, 1, 0, 0, 0, 1, 0}, SessionControlError::BadLength},
      {{3, 0, 0, 0, 1, 0, 0, 0}, SessionControlError::BadLength},  // repunch cut short
      {{4, 0}, SessionControlError::BadLength},
      {{5, 0, 0, 1}, SessionControlError::BadLength},  // ack cut short
      // An endpoint of a length no family has.
      {{3, 0, 0, 0, 1, 0, 0, 0, 1, 4, 1, 2, 3, 4, 0}, SessionControlError::BadLength},
      {{5, 0, 0, 0, 1, 4, 1, 2, 3, 4, 0, 1, 0}, SessionControlError::BadLength},
      // A family that is not 4 or 6, or that disagrees with the size.
      {{3, 0, 0, 0, 1, 0, 0, 0, 1, 5, 1, 2, 3, 4, 0, 1}, SessionControlError::BadEndpoint},
      {{3, 0, 0, 0, 1, 0, 0, 0, 1, 6, 1, 2, 3, 4, 0, 1}, SessionControlError::BadEndpoint},
      {{5, 0, 0, 0, 1, 0, 1, 2, 3, 4, 0, 1}, SessionControlError::BadEndpoint},
      {{5, 0, 0, 0, 1, 4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0, 1},
       SessionControlError::BadEndpoint},
  };
  for (const auto& c : cases) {
    auto r = decode_session_control(c.bytes);
    ASSERT_FALSE(r.ok()) << testing::PrintToString(c.bytes);
    EXPECT_EQ(r.error(), c.error) << to_string(c.error) << " for " << testing::PrintToString(c.bytes);
  }
}

}  // namespace
}  // namespace natpunch::wire
