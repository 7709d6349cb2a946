// The authenticated PROBE/ACK/CONFIRM format (wire/probe.hpp).
#include "wire/probe.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>
#include <set>

namespace natpunch::wire {
namespace {

SessionKey key_from(std::uint8_t seed) {
  SessionKey key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(seed + 3 * i);
  return key;
}

// One session, seen from each end: what the caller seals, the callee opens.
const ProbeKey kKey{key_from(1), SessionRole::Caller};
const ProbeKey kPeer{key_from(1), SessionRole::Callee};
const ProbeMessage kAck{ProbeKind::Ack, 0xdeadbeefcafef00dULL, 0x01020304, 0x0a0b0c0d, 0x1111222233334444ULL,
                        0x5555666677778888ULL};

TEST(ProbeWireTest, RoundTripsEveryKindInNetworkByteOrder) {
  for (ProbeKind kind : {ProbeKind::Probe, ProbeKind::Ack, ProbeKind::Confirm}) {
    ProbeMessage m = kAck;
    m.kind = kind;
    const auto bytes = encode(m, kKey);
    EXPECT_EQ(bytes.size(), kProbeSize);
    const auto decoded = decode_probe(bytes, kPeer);
    ASSERT_TRUE(decoded);
    EXPECT_EQ(*decoded, m);
  }
  const auto bytes = encode(kAck, kKey);
  EXPECT_EQ(bytes[0], 'N');
  EXPECT_EQ(bytes[2], kProbeVersion);
  EXPECT_EQ(bytes[4], 0xde);
  EXPECT_EQ(bytes[15], 0x04);
  EXPECT_EQ(bytes[16], 0x0a);
  EXPECT_EQ(bytes[20], 0x11);
  EXPECT_EQ(bytes[35], 0x88);
}

TEST(ProbeWireTest, EachMalformationHasItsOwnError) {
  const auto bytes = encode(kAck, kKey);
  const auto error_of = [&](std::span<const std::uint8_t> b) { return decode_probe(b, kPeer).error(); };
  EXPECT_EQ(error_of(std::span<const std::uint8_t>(bytes.data(), kProbeSize - 1)), ProbeError::WrongSize);
  EXPECT_EQ(error_of({}), ProbeError::WrongSize);
  auto bad = bytes;
  bad[0] = 'X';
  EXPECT_EQ(error_of(bad), ProbeError::BadMagic);
  bad = bytes;
  bad[2] = 2;  // v2: one MAC key for both directions
  EXPECT_EQ(error_of(bad), ProbeError::BadVersion);
  bad = bytes;
  bad[3] = 4;
  EXPECT_EQ(error_of(bad), ProbeError::BadKind);
  bad = bytes;
  bad[3] = 0;
  EXPECT_EQ(error_of(bad), ProbeError::BadKind);
  EXPECT_STREQ(to_string(ProbeError::BadMac), "MAC does not verify");
}

TEST(ProbeWireTest, AnyFlippedBitOrAnotherKeyFailsTheMac) {
  const auto bytes = encode(kAck, kKey);
  for (std::size_t i = 4; i < kProbeSize; ++i) {  // past magic/version/kind, which fail earlier
    for (int bit = 0; bit < 8; ++bit) {
      auto bad = bytes;
      bad[i] = static_cast<std::uint8_t>(bad[i] ^ (1 << bit));
      const auto decoded = decode_probe(bad, kPeer);
      ASSERT_FALSE(decoded) << "byte " << i << " bit " << bit;
      EXPECT_EQ(decoded.error(), ProbeError::BadMac);
    }
  }
  EXPECT_EQ(decode_probe(bytes, ProbeKey(key_from(2), SessionRole::Callee)).error(), ProbeError::BadMac);
}

// Issue 23: a message bounced back to its sender never opens there, in
// either direction, and the two directions never share a MAC.
TEST(ProbeWireTest, OwnMessagesDoNotOpenAtTheSenderAndDirectionsDiffer) {
  for (ProbeKind kind : {ProbeKind::Probe, ProbeKind::Ack, ProbeKind::Confirm}) {
    ProbeMessage m = kAck;
    m.kind = kind;
    const auto from_caller = encode(m, kKey);
    const auto from_callee = encode(m, kPeer);
    EXPECT_EQ(decode_probe(from_caller, kKey).error(), ProbeError::BadMac);
    EXPECT_EQ(decode_probe(from_callee, kPeer).error(), ProbeError::BadMac);
    EXPECT_TRUE(decode_probe(from_caller, kPeer));
    EXPECT_TRUE(decode_probe(from_callee, kKey));
    EXPECT_FALSE(std::equal(from_caller.begin() + kProbeHeaderSize, from_caller.end(),
                            from_callee.begin() + kProbeHeaderSize));
  }
  EXPECT_EQ(kKey.own(), SessionRole::Caller);
  EXPECT_EQ(other(SessionRole::Caller), SessionRole::Callee);
  EXPECT_STREQ(to_string(SessionRole::Callee), "callee");
}

TEST(ProbeWireTest, RestampChangesSequenceAndNonceAndStaysValid) {
  auto bytes = encode(ProbeMessage{ProbeKind::Probe, 9, 0, 0, 0, 0}, kKey);
  restamp(bytes, 12345, 0xabcdefULL, kKey);
  const auto decoded = decode_probe(bytes, kPeer);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->sequence, 12345u);
  EXPECT_EQ(decoded->nonce, 0xabcdefULL);
  EXPECT_EQ(decoded->session_id, 9u);
}

TEST(ProbeWireTest, NoncesDependOnKindSequencePortAndSecret) {
  const NonceKey a({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16});
  const NonceKey b({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17});
  std::set<std::uint64_t> seen{a.nonce(ProbeKind::Probe, 1, 1000), a.nonce(ProbeKind::Ack, 1, 1000),
                               a.nonce(ProbeKind::Probe, 2, 1000), a.nonce(ProbeKind::Probe, 1, 1001),
                               b.nonce(ProbeKind::Probe, 1, 1000)};
  EXPECT_EQ(seen.size(), 5u);
  EXPECT_EQ(a.nonce(ProbeKind::Probe, 1, 1000), a.nonce(ProbeKind::Probe, 1, 1000));
}

}  // namespace
}  // namespace natpunch::wire

namespace natpunch::wire {
namespace {

// Interop: MAC key = BLAKE2b-128(key = session key, "natpunch probe mac v3
// caller->callee" / "... callee->caller"), MAC = SipHash-2-4-128 of the
// header. Vectors computed independently in Python (hashlib.blake2b + a
// SipHash-128 that reproduces the v2 vector of libsodium), so another
// implementation can check itself against them.
TEST(ProbeWireTest, MacIsSipHash128UnderTheDirectionsDerivedKey) {
  SessionKey key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(i);
  const ProbeMessage m{ProbeKind::Probe, 42, 7, 0, 0x55, 0};
  const auto from_caller = encode(m, ProbeKey(key, SessionRole::Caller));
  const auto from_callee = encode(m, ProbeKey(key, SessionRole::Callee));
  const std::uint8_t caller[16] = {0x28, 0x90, 0xce, 0xd6, 0xa3, 0x9d, 0xdb, 0x15,
                                   0xbf, 0x7c, 0xfd, 0x3a, 0x02, 0xc5, 0x90, 0x4c};
  const std::uint8_t callee[16] = {0x66, 0x06, 0xcc, 0xfc, 0x4e, 0x1b, 0x7f, 0x45,
                                   0x20, 0x4d, 0xe2, 0xd4, 0xe1, 0xf1, 0x5c, 0x25};
  EXPECT_TRUE(std::equal(std::begin(caller), std::end(caller), from_caller.begin() + kProbeHeaderSize));
  EXPECT_TRUE(std::equal(std::begin(callee), std::end(callee), from_callee.begin() + kProbeHeaderSize));
}

}  // namespace
}  // namespace natpunch::wire
