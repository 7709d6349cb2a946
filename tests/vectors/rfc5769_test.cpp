// RFC 5769 "Test Vectors for STUN", every vector in §2, byte for byte.
// The bytes were typed from the RFC; that they are right is itself checked:
// each vector's FINGERPRINT and MESSAGE-INTEGRITY must validate.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "stun/message.hpp"

namespace natpunch::stun {
namespace {

using Bytes = std::vector<std::uint8_t>;

std::span<const std::uint8_t> as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// Short-term password shared by vectors 2.1-2.3.
constexpr std::string_view kShortTermPassword = "VOkJxbRl1RmTxUk/WvJxBt";

const TransactionId kVectorTransactionId = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};

// §2.1 Sample Request (short-term credentials, ICE attributes, FINGERPRINT).
const Bytes kSampleRequest = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae,                                                  // header
    0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,  // SOFTWARE
    0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74,                          // "STUN test client"
    0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,                          // PRIORITY
    0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36,  // ICE-CONTROLLED
    0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76,  // USERNAME "evtj:h6vY"
    0x59, 0x20, 0x20, 0x20,                                                  // (space padding)
    0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56,  // MESSAGE-INTEGRITY
    0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49, 0xc1, 0xb5, 0x71, 0xa2,  //
    0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,                          // FINGERPRINT
};

// §2.2 Sample IPv4 Response: 192.0.2.1:32853.
const Bytes kIpv4Response = {
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae,                                                  // header
    0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,  // SOFTWARE "test vector"
    0x74, 0x6f, 0x72, 0x20,                                                  // (space padding)
    0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,  // XOR-MAPPED-ADDRESS
    0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3,  // MESSAGE-INTEGRITY
    0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7,  //
    0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,                          // FINGERPRINT
};

// §2.3 Sample IPv6 Response: [2001:db8:1234:5678:11:2233:4455:6677]:32853.
const Bytes kIpv6Response = {
    0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae,                                                  // header
    0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,  // SOFTWARE "test vector"
    0x74, 0x6f, 0x72, 0x20,                                                  // (space padding)
    0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa,  // XOR-MAPPED-ADDRESS
    0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9,  //
    0x00, 0x08, 0x00, 0x14, 0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1,  // MESSAGE-INTEGRITY
    0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75, 0xbf, 0xe3, 0xed, 0x41,  //
    0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c,                          // FINGERPRINT
};

// §2.4 Sample Request with Long-Term Authentication (no FINGERPRINT).
const Bytes kLongTermRequest = {
    0x00, 0x01, 0x00, 0x60, 0x21, 0x12, 0xa4, 0x42, 0x78, 0xad, 0x34, 0x33, 0xc6, 0xad, 0x72, 0xc0,
    0x29, 0xda, 0x41, 0x2e,                                                  // header
    0x00, 0x06, 0x00, 0x12, 0xe3, 0x83, 0x9e, 0xe3, 0x83, 0x88, 0xe3, 0x83,  // USERNAME (18 bytes)
    0xaa, 0xe3, 0x83, 0x83, 0xe3, 0x82, 0xaf, 0xe3, 0x82, 0xb9, 0x00, 0x00,  //
    0x00, 0x15, 0x00, 0x1c, 0x66, 0x2f, 0x2f, 0x34, 0x39, 0x39, 0x6b, 0x39,  // NONCE
    0x35, 0x34, 0x64, 0x36, 0x4f, 0x4c, 0x33, 0x34, 0x6f, 0x4c, 0x39, 0x46,  //
    0x53, 0x54, 0x76, 0x79, 0x36, 0x34, 0x73, 0x41,                          //
    0x00, 0x14, 0x00, 0x0b, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e,  // REALM "example.org"
    0x6f, 0x72, 0x67, 0x00,                                                  //
    0x00, 0x08, 0x00, 0x14, 0xf6, 0x70, 0x24, 0x65, 0x6d, 0xd6, 0x4a, 0x3e,  // MESSAGE-INTEGRITY
    0x02, 0xb8, 0xe0, 0x71, 0x2e, 0x85, 0xc9, 0xa2, 0x8c, 0xa8, 0x96, 0x66,  //
};

// "マトリックス" (MA TO RI TU KU SU) in UTF-8, as in the RFC.
constexpr std::string_view kLongTermUsername = "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9";
// The RFC's password is "The<U+00AD>M<U+00AA>tr<U+2168>"; SASLprep maps it to this.
constexpr std::string_view kLongTermPassword = "TheMatrIX";

Endpoint endpoint(std::string_view text) {
  auto parsed = Endpoint::parse(text);
  EXPECT_TRUE(parsed.has_value()) << text;
  return parsed.value_or(Endpoint{});
}

TEST(Rfc5769, SampleRequestDecodesAndVerifies) {
  auto message = MessageView::decode(kSampleRequest);
  ASSERT_TRUE(message.ok()) << to_string(message.error());
  EXPECT_EQ(message->method(), Method::Binding);
  EXPECT_EQ(message->message_class(), MessageClass::Request);
  EXPECT_TRUE(message->has_magic_cookie());
  EXPECT_EQ(message->transaction_id(), kVectorTransactionId);
  EXPECT_EQ(message->attributes().size(), 6u);
  EXPECT_EQ(message->software(), "STUN test client");
  EXPECT_EQ(message->username(), "evtj:h6vY");
  EXPECT_TRUE(message->has_fingerprint());
  EXPECT_TRUE(message->has_message_integrity());
  EXPECT_FALSE(message->has_message_integrity_sha256());
  EXPECT_TRUE(message->verify_message_integrity(as_bytes(kShortTermPassword)));
  EXPECT_FALSE(message->verify_message_integrity(as_bytes("VOkJxbRl1RmTxUk/WvJxBT")));
  EXPECT_FALSE(message->verify_message_integrity_sha256(as_bytes(kShortTermPassword)));

  // PRIORITY (0x0024) is an ICE attribute: comprehension-required and not
  // ours, so a plain STUN server would answer 420 naming it.
  std::array<std::uint16_t, 4> unknown{};
  ASSERT_EQ(message->unknown_comprehension_required(unknown), 1u);
  EXPECT_EQ(unknown[0], 0x0024);
}

TEST(Rfc5769, Ipv4ResponseDecodesAndVerifies) {
  auto message = MessageView::decode(kIpv4Response);
  ASSERT_TRUE(message.ok()) << to_string(message.error());
  EXPECT_EQ(message->message_class(), MessageClass::SuccessResponse);
  EXPECT_EQ(message->software(), "test vector");
  EXPECT_EQ(message->xor_mapped_address(), endpoint("192.0.2.1:32853"));
  EXPECT_EQ(message->reflexive_address(), endpoint("192.0.2.1:32853"));
  EXPECT_FALSE(message->mapped_address().has_value());
  EXPECT_TRUE(message->has_fingerprint());
  EXPECT_TRUE(message->verify_message_integrity(as_bytes(kShortTermPassword)));
  EXPECT_FALSE(message->verify_message_integrity(as_bytes("wrong password")));
}

TEST(Rfc5769, Ipv6ResponseDecodesAndVerifies) {
  auto message = MessageView::decode(kIpv6Response);
  ASSERT_TRUE(message.ok()) << to_string(message.error());
  EXPECT_EQ(message->software(), "test vector");
  EXPECT_EQ(message->xor_mapped_address(), endpoint("[2001:db8:1234:5678:11:2233:4455:6677]:32853"));
  EXPECT_TRUE(message->has_fingerprint());
  EXPECT_TRUE(message->verify_message_integrity(as_bytes(kShortTermPassword)));
  EXPECT_FALSE(message->verify_message_integrity(as_bytes("")));
}

TEST(Rfc5769, LongTermRequestDecodesAndVerifies) {
  auto message = MessageView::decode(kLongTermRequest);
  ASSERT_TRUE(message.ok()) << to_string(message.error());
  EXPECT_EQ(message->username(), kLongTermUsername);
  EXPECT_EQ(message->nonce(), "f//499k954d6OL34oL9FSTvy64sA");
  EXPECT_EQ(message->realm(), "example.org");
  EXPECT_FALSE(message->has_fingerprint());

  const auto key = long_term_key(kLongTermUsername, "example.org", kLongTermPassword);
  // MD5("マトリックス:example.org:TheMatrIX"), checked independently.
  const std::array<std::uint8_t, 16> expected_key = {0xe8, 0xca, 0x7a, 0xd5, 0x9d, 0x5e, 0xb0, 0x51,
                                                     0x8e, 0x31, 0x29, 0x11, 0xd2, 0xda, 0xb2, 0xa9};
  EXPECT_EQ(key, expected_key);
  EXPECT_TRUE(message->verify_message_integrity(key));
  EXPECT_FALSE(message->verify_message_integrity(long_term_key(kLongTermUsername, "example.org", "TheMatrix")));
  // The short-term interpretation (the password itself as key) must not pass.
  EXPECT_FALSE(message->verify_message_integrity(as_bytes(kLongTermPassword)));
}

TEST(Rfc5769, FingerprintAndIntegrityDetectTampering) {
  for (const Bytes* vector : {&kSampleRequest, &kIpv4Response, &kIpv6Response}) {
    Bytes tampered = *vector;
    tampered[tampered.size() - 1] ^= 0x01;  // the CRC itself
    EXPECT_EQ(MessageView::decode(tampered).error(), DecodeError::kFingerprintMismatch);
    tampered = *vector;
    tampered[24] ^= 0x01;  // first byte of the first attribute's value
    EXPECT_EQ(MessageView::decode(tampered).error(), DecodeError::kFingerprintMismatch);
  }
  Bytes tampered = kLongTermRequest;
  tampered[25] ^= 0x01;  // in USERNAME; no FINGERPRINT here, so only the HMAC notices
  auto message = MessageView::decode(tampered);
  ASSERT_TRUE(message.ok());
  EXPECT_FALSE(message->verify_message_integrity(long_term_key(kLongTermUsername, "example.org", kLongTermPassword)));
}

// The RFC pads SOFTWARE (and USERNAME in §2.1) with 0x20 where MessageBuilder
// pads with zeros, and padding is covered by HMAC and CRC. Because the builder
// hashes whatever sits in its (caller-owned) buffer, the test writes the
// RFC's padding byte into the buffer right after SOFTWARE and before the
// integrity attributes are added; the result must then equal the RFC bytes
// exactly, integrity and fingerprint included.
Bytes rebuild_response(const Endpoint& mapped) {
  std::array<std::uint8_t, 256> buffer{};
  MessageBuilder builder(buffer, Method::Binding, MessageClass::SuccessResponse, kVectorTransactionId);
  EXPECT_TRUE(builder.add_string(attr::kSoftware, "test vector"));
  buffer[builder.size() - 1] = 0x20;  // the one padding byte of the 11-byte SOFTWARE value
  EXPECT_TRUE(builder.add_xor_address(attr::kXorMappedAddress, mapped));
  EXPECT_TRUE(builder.add_message_integrity(as_bytes(kShortTermPassword)));
  EXPECT_TRUE(builder.add_fingerprint());
  EXPECT_TRUE(builder.ok());
  return {builder.bytes().begin(), builder.bytes().end()};
}

TEST(Rfc5769, BuilderReproducesIpv4Response) {
  EXPECT_EQ(rebuild_response(endpoint("192.0.2.1:32853")), kIpv4Response);
}

TEST(Rfc5769, BuilderReproducesIpv6Response) {
  EXPECT_EQ(rebuild_response(endpoint("[2001:db8:1234:5678:11:2233:4455:6677]:32853")), kIpv6Response);
}

TEST(Rfc5769, BuilderReproducesSampleRequest) {
  std::array<std::uint8_t, 256> buffer{};
  MessageBuilder builder(buffer, Method::Binding, MessageClass::Request, kVectorTransactionId);
  ASSERT_TRUE(builder.add_string(attr::kSoftware, "STUN test client"));
  const std::array<std::uint8_t, 4> priority = {0x6e, 0x00, 0x01, 0xff};
  ASSERT_TRUE(builder.add_raw(0x0024, priority));
  const std::array<std::uint8_t, 8> tie_breaker = {0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36};
  ASSERT_TRUE(builder.add_raw(0x8029, tie_breaker));
  ASSERT_TRUE(builder.add_string(attr::kUsername, "evtj:h6vY"));
  // As above: the RFC pads the 9-byte USERNAME with three spaces.
  for (std::size_t i = 1; i <= 3; ++i) buffer[builder.size() - i] = 0x20;
  ASSERT_TRUE(builder.add_message_integrity(as_bytes(kShortTermPassword)));
  ASSERT_TRUE(builder.add_fingerprint());
  EXPECT_EQ(Bytes(builder.bytes().begin(), builder.bytes().end()), kSampleRequest);
}

TEST(Rfc5769, BuilderReproducesLongTermRequest) {
  const TransactionId id = {0x78, 0xad, 0x34, 0x33, 0xc6, 0xad, 0x72, 0xc0, 0x29, 0xda, 0x41, 0x2e};
  std::array<std::uint8_t, 256> buffer{};
  MessageBuilder builder(buffer, Method::Binding, MessageClass::Request, id);
  // This vector pads with zeros, so no patching is needed.
  ASSERT_TRUE(builder.add_string(attr::kUsername, kLongTermUsername));
  ASSERT_TRUE(builder.add_string(attr::kNonce, "f//499k954d6OL34oL9FSTvy64sA"));
  ASSERT_TRUE(builder.add_string(attr::kRealm, "example.org"));
  ASSERT_TRUE(builder.add_message_integrity(long_term_key(kLongTermUsername, "example.org", kLongTermPassword)));
  EXPECT_EQ(Bytes(builder.bytes().begin(), builder.bytes().end()), kLongTermRequest);
}

// RFC 5769 predates MESSAGE-INTEGRITY-SHA256, so there is no published
// vector; check our own round trip and that tampering is caught.
TEST(StunMessageIntegritySha256, BuildDecodeVerifyRoundTrip) {
  std::array<std::uint8_t, 256> buffer{};
  MessageBuilder builder(buffer, Method::Binding, MessageClass::Request, kVectorTransactionId);
  ASSERT_TRUE(builder.add_string(attr::kUsername, "evtj:h6vY"));
  ASSERT_TRUE(builder.add_message_integrity_sha256(as_bytes(kShortTermPassword)));
  ASSERT_TRUE(builder.add_fingerprint());
  Bytes wire(builder.bytes().begin(), builder.bytes().end());

  auto message = MessageView::decode(wire);
  ASSERT_TRUE(message.ok()) << to_string(message.error());
  EXPECT_TRUE(message->has_message_integrity_sha256());
  EXPECT_FALSE(message->has_message_integrity());
  ASSERT_EQ(message->find(attr::kMessageIntegritySha256)->value.size(), 32u);
  EXPECT_TRUE(message->verify_message_integrity_sha256(as_bytes(kShortTermPassword)));
  EXPECT_FALSE(message->verify_message_integrity_sha256(as_bytes("VOkJxbRl1RmTxUk/WvJxBT")));
  EXPECT_FALSE(message->verify_message_integrity(as_bytes(kShortTermPassword)));

  // Flipping a protected byte breaks the FINGERPRINT first...
  Bytes tampered = wire;
  tampered[kHeaderSize + 4] ^= 0x20;
  EXPECT_EQ(MessageView::decode(tampered).error(), DecodeError::kFingerprintMismatch);

  // ...and without FINGERPRINT the HMAC still catches it.
  Bytes unfingerprinted(wire.begin(), wire.end() - 8);
  unfingerprinted[3] = static_cast<std::uint8_t>(unfingerprinted.size() - kHeaderSize);
  ASSERT_TRUE(MessageView::decode(unfingerprinted)->verify_message_integrity_sha256(as_bytes(kShortTermPassword)));
  unfingerprinted[kHeaderSize + 4] ^= 0x20;
  auto altered = MessageView::decode(unfingerprinted);
  ASSERT_TRUE(altered.ok());
  EXPECT_EQ(altered->username(), "Evtj:h6vY");
  EXPECT_FALSE(altered->verify_message_integrity_sha256(as_bytes(kShortTermPassword)));
}

TEST(StunMessageIntegritySha256, TruncatedValueVerifies) {
  // RFC 8489 §14.6 lets a sender truncate the HMAC to 16..32 bytes. Sign a
  // 16-byte one independently with libcrypto's one-shot HMAC (the hashed
  // length field must end after the 16-byte attribute) and check that the
  // decoder accepts it.
  constexpr std::size_t kTruncatedSize = 16;
  std::array<std::uint8_t, 256> buffer{};
  MessageBuilder builder(buffer, Method::Binding, MessageClass::Request, kVectorTransactionId);
  ASSERT_TRUE(builder.add_string(attr::kSoftware, "sha256 truncation"));
  Bytes signed_prefix(builder.bytes().begin(), builder.bytes().end());
  signed_prefix[3] = static_cast<std::uint8_t>(signed_prefix.size() + 4 + kTruncatedSize - kHeaderSize);
  std::array<std::uint8_t, 32> mac{};
  unsigned int mac_size = 0;
  ASSERT_NE(HMAC(EVP_sha256(), kShortTermPassword.data(), static_cast<int>(kShortTermPassword.size()),
                 signed_prefix.data(), signed_prefix.size(), mac.data(), &mac_size),
            nullptr);
  ASSERT_TRUE(builder.add_raw(attr::kMessageIntegritySha256, std::span(mac).first(kTruncatedSize)));

  auto message = MessageView::decode(builder.bytes());
  ASSERT_TRUE(message.ok()) << to_string(message.error());
  EXPECT_TRUE(message->verify_message_integrity_sha256(as_bytes(kShortTermPassword)));
  EXPECT_FALSE(message->verify_message_integrity_sha256(as_bytes("another password")));
}

}  // namespace
}  // namespace natpunch::stun
