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

const ProbeKey kKey{key_from(1)};
const ProbeMessage kAck{ProbeKind::Ack, 0xdeadbeefcafef00dULL, 0x01020304, 0x0a0b0c0d, 0x1111222233334444ULL,
                        0x5555666677778888ULL};

TEST(ProbeWireTest, RoundTripsEveryKindInNetworkByteOrder) {
  for (ProbeKind kind : {ProbeKind::Probe, ProbeKind::Ack, ProbeKind::Confirm}) {
    ProbeMessage m = kAck;
    m.kind = kind;
    const auto bytes = encode(m, kKey);
    EXPECT_EQ(bytes.size(), kProbeSize);
    const auto decoded = decode_probe(bytes, kKey);
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
  const auto error_of = [&](std::span<const std::uint8_t> b) { return decode_probe(b, kKey).error(); };
  EXPECT_EQ(error_of(std::span<const std::uint8_t>(bytes.data(), kProbeSize - 1)), ProbeError::WrongSize);
  EXPECT_EQ(error_of({}), ProbeError::WrongSize);
  auto bad = bytes;
  bad[0] = 'X';
  EXPECT_EQ(error_of(bad), ProbeError::BadMagic);
  bad = bytes;
  bad[2] = 1;  // the unauthenticated v1 format
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
      const auto decoded = decode_probe(bad, kKey);
      ASSERT_FALSE(decoded) << "byte " << i << " bit " << bit;
      EXPECT_EQ(decoded.error(), ProbeError::BadMac);
    }
  }
  EXPECT_EQ(decode_probe(bytes, ProbeKey(key_from(2))).error(), ProbeError::BadMac);
}

TEST(ProbeWireTest, RestampChangesSequenceAndNonceAndStaysValid) {
  auto bytes = encode(ProbeMessage{ProbeKind::Probe, 9, 0, 0, 0, 0}, kKey);
  restamp(bytes, 12345, 0xabcdefULL, kKey);
  const auto decoded = decode_probe(bytes, kKey);
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

// Interop: MAC key = BLAKE2b-128(key = session key, "natpunch probe mac
// v2"), MAC = SipHash-2-4-128 of the header. Vector computed independently
// in Python (hashlib.blake2b + a SipHash-128 checked against the reference
// vectors), so another implementation can check itself against it.
TEST(ProbeWireTest, MacIsSipHash128UnderTheDerivedKey) {
  SessionKey key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(i);
  const auto bytes = encode(ProbeMessage{ProbeKind::Probe, 42, 7, 0, 0x55, 0}, ProbeKey(key));
  const std::uint8_t expected[16] = {0x13, 0x69, 0x69, 0xaf, 0x87, 0x26, 0x37, 0x40,
                                     0x15, 0x65, 0x12, 0x3f, 0x7e, 0xa0, 0xb1, 0x3f};
  EXPECT_TRUE(std::equal(std::begin(expected), std::end(expected), bytes.begin() + kProbeHeaderSize));
}

}  // namespace
}  // namespace natpunch::wire
