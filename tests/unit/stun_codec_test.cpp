// STUN codec: every DecodeError from crafted input, round trips through
// MessageBuilder for every attribute kind, builder limits, and robustness
// against truncation.
#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "stun/message.hpp"

namespace natpunch::stun {
namespace {

using Bytes = std::vector<std::uint8_t>;

constexpr TransactionId kId = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
constexpr std::uint32_t kClassicCookie = 0xdeadbeef;

std::span<const std::uint8_t> as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// One attribute as it appears on the wire: header, value, zero padding.
Bytes attribute(std::uint16_t type, const Bytes& value) {
  Bytes out = {static_cast<std::uint8_t>(type >> 8), static_cast<std::uint8_t>(type),
               static_cast<std::uint8_t>(value.size() >> 8), static_cast<std::uint8_t>(value.size())};
  out.insert(out.end(), value.begin(), value.end());
  out.resize((out.size() + 3) & ~std::size_t{3}, 0);
  return out;
}

// A Binding request with a correct header length around `attributes`.
Bytes message(std::initializer_list<Bytes> attributes, std::uint32_t cookie = kMagicCookie) {
  // Sized up front: GCC 12 at -O2 warns falsely (-Warray-bounds) about
  // inserting into a vector built from a short initializer list.
  Bytes out(kHeaderSize);
  const std::uint8_t head[8] = {0x00, 0x01, 0x00, 0x00, static_cast<std::uint8_t>(cookie >> 24),
                                static_cast<std::uint8_t>(cookie >> 16), static_cast<std::uint8_t>(cookie >> 8),
                                static_cast<std::uint8_t>(cookie)};
  std::copy(std::begin(head), std::end(head), out.begin());
  std::copy(kId.begin(), kId.end(), out.begin() + 8);
  for (const Bytes& a : attributes) out.insert(out.end(), a.begin(), a.end());
  const std::size_t body = out.size() - kHeaderSize;
  out[2] = static_cast<std::uint8_t>(body >> 8);
  out[3] = static_cast<std::uint8_t>(body);
  return out;
}

Bytes filled(std::size_t size, std::uint8_t byte = 'a') { return Bytes(size, byte); }

Bytes ipv4_address_value(std::uint8_t family = 1) { return {0, family, 0x0d, 0x96, 198, 51, 100, 7}; }

Bytes with_length_field(Bytes wire, std::uint16_t length) {
  wire[2] = static_cast<std::uint8_t>(length >> 8);
  wire[3] = static_cast<std::uint8_t>(length);
  return wire;
}

Bytes many_attributes(std::size_t count) {
  Bytes out = message({});
  for (std::size_t i = 0; i < count; ++i) {
    const Bytes a = attribute(0x8123, {});
    out.insert(out.end(), a.begin(), a.end());
  }
  return with_length_field(out, static_cast<std::uint16_t>(out.size() - kHeaderSize));
}

struct MalformedCase {
  std::string name;
  Bytes wire;
  DecodeError expected;
};

std::vector<MalformedCase> malformed_cases() {
  const Bytes header_only = message({});
  Bytes not_stun = header_only;
  not_stun[0] = 0x80;
  Bytes rtp_like = header_only;
  rtp_like[0] = 0x40;
  Bytes truncated_value = message({attribute(attr::kSoftware, filled(8))});
  truncated_value[kHeaderSize + 3] = 12;  // claims 12 bytes, 8 present
  Bytes fingerprint_wrong = message({attribute(attr::kFingerprint, {0, 0, 0, 0})});
  const Bytes max_text = filled(764);

  return {
      {"nineteen_bytes", Bytes(19, 0), DecodeError::kTooShort},
      {"empty", {}, DecodeError::kTooShort},
      {"first_bit_set", not_stun, DecodeError::kNotStun},
      {"second_bit_set", rtp_like, DecodeError::kNotStun},
      {"length_not_multiple_of_4", with_length_field(message({filled(2)}), 2), DecodeError::kLengthNotMultipleOf4},
      {"length_longer_than_datagram", with_length_field(header_only, 4), DecodeError::kLengthMismatch},
      {"length_shorter_than_datagram", with_length_field(message({attribute(0x8123, {})}), 0),
       DecodeError::kLengthMismatch},
      {"attribute_value_past_end", truncated_value, DecodeError::kAttributeTruncated},
      {"too_many_attributes", many_attributes(kMaxAttributes + 1), DecodeError::kTooManyAttributes},
      {"address_family_3", message({attribute(attr::kMappedAddress, ipv4_address_value(3))}),
       DecodeError::kBadAddressFamily},
      {"address_family_0", message({attribute(attr::kOtherAddress, ipv4_address_value(0))}),
       DecodeError::kBadAddressFamily},
      {"ipv4_address_with_ipv6_length", message({attribute(attr::kSourceAddress, [] {
                                                   Bytes v = ipv4_address_value();
                                                   v.resize(20, 0);
                                                   return v;
                                                 }())}),
       DecodeError::kBadAddressLength},
      {"ipv6_address_with_ipv4_length", message({attribute(attr::kXorMappedAddress, ipv4_address_value(2))}),
       DecodeError::kBadAddressLength},
      {"address_too_short_for_family", message({attribute(attr::kResponseOrigin, {0, 1})}),
       DecodeError::kBadAddressLength},
      {"change_request_8_bytes", message({attribute(attr::kChangeRequest, filled(8, 0))}),
       DecodeError::kBadChangeRequest},
      {"error_code_too_short", message({attribute(attr::kErrorCode, {0, 0, 4})}), DecodeError::kBadErrorCode},
      {"error_class_2", message({attribute(attr::kErrorCode, {0, 0, 2, 0})}), DecodeError::kBadErrorCode},
      {"error_class_7", message({attribute(attr::kErrorCode, {0, 0, 7, 0})}), DecodeError::kBadErrorCode},
      {"error_number_100", message({attribute(attr::kErrorCode, {0, 0, 4, 100})}), DecodeError::kBadErrorCode},
      {"unknown_attributes_odd", message({attribute(attr::kUnknownAttributes, {0, 1, 0})}),
       DecodeError::kBadUnknownAttributes},
      {"response_port_2_bytes", message({attribute(attr::kResponsePort, {0x12, 0x34})}),
       DecodeError::kBadResponsePort},
      {"integrity_16_bytes", message({attribute(attr::kMessageIntegrity, filled(16, 0))}),
       DecodeError::kBadIntegrityLength},
      {"integrity_sha256_12_bytes", message({attribute(attr::kMessageIntegritySha256, filled(12, 0))}),
       DecodeError::kBadIntegrityLength},
      {"integrity_sha256_36_bytes", message({attribute(attr::kMessageIntegritySha256, filled(36, 0))}),
       DecodeError::kBadIntegrityLength},
      {"integrity_sha256_18_bytes", message({attribute(attr::kMessageIntegritySha256, filled(18, 0))}),
       DecodeError::kBadIntegrityLength},
      {"fingerprint_8_bytes", message({attribute(attr::kFingerprint, filled(8, 0))}),
       DecodeError::kBadFingerprintLength},
      {"fingerprint_wrong_value", fingerprint_wrong, DecodeError::kFingerprintMismatch},
      {"fingerprint_not_last",
       message({attribute(attr::kFingerprint, {0, 0, 0, 0}), attribute(attr::kSoftware, filled(4))}),
       DecodeError::kFingerprintNotLast},
      {"username_514_bytes", message({attribute(attr::kUsername, filled(514))}), DecodeError::kValueTooLong},
      {"software_764_bytes", message({attribute(attr::kSoftware, max_text)}), DecodeError::kValueTooLong},
      {"realm_764_bytes", message({attribute(attr::kRealm, max_text)}), DecodeError::kValueTooLong},
      {"nonce_764_bytes", message({attribute(attr::kNonce, max_text)}), DecodeError::kValueTooLong},
      {"error_reason_764_bytes", message({attribute(attr::kErrorCode, [&] {
                                            Bytes v = {0, 0, 4, 1};
                                            v.insert(v.end(), max_text.begin(), max_text.end());
                                            return v;
                                          }())}),
       DecodeError::kValueTooLong},
      {"xor_mapped_without_cookie",
       message({attribute(attr::kXorMappedAddress, ipv4_address_value())}, kClassicCookie),
       DecodeError::kXorWithoutCookie},
  };
}

class StunMalformedInput : public testing::TestWithParam<MalformedCase> {};

TEST_P(StunMalformedInput, YieldsSpecificError) {
  const auto& c = GetParam();
  auto result = MessageView::decode(c.wire);
  ASSERT_FALSE(result.ok()) << "decoded although it should fail with " << to_string(c.expected);
  EXPECT_EQ(result.error(), c.expected) << "got: " << to_string(result.error());
}

INSTANTIATE_TEST_SUITE_P(Table, StunMalformedInput, testing::ValuesIn(malformed_cases()),
                         [](const auto& info) { return info.param.name; });

constexpr DecodeError kLastDecodeError = DecodeError::kXorWithoutCookie;

TEST(StunMalformedInputTable, EveryEnumeratorHasAtLeastOneRow) {
  std::set<DecodeError> covered;
  for (const auto& c : malformed_cases()) covered.insert(c.expected);
  for (int e = 0; e <= static_cast<int>(kLastDecodeError); ++e)
    EXPECT_TRUE(covered.count(static_cast<DecodeError>(e))) << to_string(static_cast<DecodeError>(e));
}

TEST(StunDecodeErrorText, DistinctAndNonEmpty) {
  std::set<std::string_view> texts;
  for (int e = 0; e <= static_cast<int>(kLastDecodeError); ++e) {
    const auto text = to_string(static_cast<DecodeError>(e));
    EXPECT_FALSE(text.empty());
    EXPECT_TRUE(texts.insert(text).second) << "duplicate text: " << text;
  }
}

TEST(StunDecode, BoundaryValuesAreAccepted) {
  EXPECT_TRUE(MessageView::decode(many_attributes(kMaxAttributes)).ok());
  EXPECT_TRUE(MessageView::decode(message({attribute(attr::kUsername, filled(513))})).ok());
  EXPECT_TRUE(MessageView::decode(message({attribute(attr::kNonce, filled(763))})).ok());
  EXPECT_TRUE(MessageView::decode(message({attribute(attr::kErrorCode, {0xff, 0xff, 0xfe, 99})})).ok())
      << "reserved bits above the class must be ignored";
  for (std::size_t size : {16u, 20u, 24u, 28u, 32u})
    EXPECT_TRUE(MessageView::decode(message({attribute(attr::kMessageIntegritySha256, filled(size, 0))})).ok())
        << size;
  // Unknown attributes of any length are opaque; padding need not be zero.
  Bytes nonzero_padding = message({attribute(0x7f00, filled(5)), attribute(attr::kPadding, filled(3, 0))});
  nonzero_padding[kHeaderSize + 4 + 5] = 0xff;
  EXPECT_TRUE(MessageView::decode(nonzero_padding).ok());
}

TEST(StunDecode, TypeMethodAndClassBits) {
  for (auto cls : {MessageClass::Request, MessageClass::Indication, MessageClass::SuccessResponse,
                   MessageClass::ErrorResponse}) {
    for (std::uint16_t method : {std::uint16_t{0x001}, std::uint16_t{0x003}, std::uint16_t{0xABC},
                                 std::uint16_t{0xFFF}}) {
      Bytes wire = message({});
      const std::uint16_t type = make_message_type(method, cls);
      wire[0] = static_cast<std::uint8_t>(type >> 8);
      wire[1] = static_cast<std::uint8_t>(type);
      auto m = MessageView::decode(wire);
      ASSERT_TRUE(m.ok());
      EXPECT_EQ(m->method_value(), method);
      EXPECT_EQ(m->message_class(), cls);
    }
  }
  EXPECT_EQ(make_message_type(0x001, MessageClass::Request), 0x0001);
  EXPECT_EQ(make_message_type(0x001, MessageClass::Indication), 0x0011);
  EXPECT_EQ(make_message_type(0x001, MessageClass::SuccessResponse), 0x0101);
  EXPECT_EQ(make_message_type(0x001, MessageClass::ErrorResponse), 0x0111);
}

TEST(StunLooksLikeStun, CheapHeaderCheck) {
  const Bytes valid = message({attribute(attr::kSoftware, filled(4))});
  EXPECT_TRUE(MessageView::looks_like_stun(valid));
  EXPECT_TRUE(MessageView::looks_like_stun(message({}, kClassicCookie)));
  EXPECT_FALSE(MessageView::looks_like_stun(std::span(valid).first(19)));
  EXPECT_FALSE(MessageView::looks_like_stun(std::span(valid).first(valid.size() - 4)));
  EXPECT_FALSE(MessageView::looks_like_stun(with_length_field(valid, 6)));
  Bytes rtp = valid;
  rtp[0] = 0x80;
  EXPECT_FALSE(MessageView::looks_like_stun(rtp));
}

// --- round trips through MessageBuilder --------------------------------------

Endpoint endpoint(std::string_view text) { return Endpoint::parse(text).value(); }

const Endpoint kV4 = endpoint("203.0.113.9:54321");
const Endpoint kV6 = endpoint("[2001:db8::17:ff]:3478");

struct Built {
  std::array<std::uint8_t, 2048> buffer{};
  std::size_t size = 0;
  std::span<const std::uint8_t> bytes() const { return {buffer.data(), size}; }
};

template <class Fill>
Built build(Fill fill, std::uint32_t cookie = kMagicCookie, MessageClass cls = MessageClass::SuccessResponse) {
  Built out;
  MessageBuilder builder(out.buffer, Method::Binding, cls, kId, cookie);
  fill(builder);
  EXPECT_TRUE(builder.ok());
  out.size = builder.size();
  return out;
}

class StunAddressRoundTrip : public testing::TestWithParam<Endpoint> {};

TEST_P(StunAddressRoundTrip, EveryAddressAttribute) {
  const Endpoint ep = GetParam();
  const Built built = build([&](MessageBuilder& b) {
    for (std::uint16_t type : {attr::kMappedAddress, attr::kResponseAddress, attr::kSourceAddress,
                               attr::kChangedAddress, attr::kReflectedFrom, attr::kAlternateServer,
                               attr::kResponseOrigin, attr::kOtherAddress})
      EXPECT_TRUE(b.add_address(type, ep));
    EXPECT_TRUE(b.add_xor_address(attr::kXorMappedAddress, ep));
  });
  auto m = MessageView::decode(built.bytes());
  ASSERT_TRUE(m.ok()) << to_string(m.error());
  EXPECT_EQ(m->xor_mapped_address(), ep);
  EXPECT_EQ(m->mapped_address(), ep);
  EXPECT_EQ(m->source_address(), ep);
  EXPECT_EQ(m->changed_address(), ep);
  EXPECT_EQ(m->response_origin(), ep);
  EXPECT_EQ(m->other_address(), ep);
  EXPECT_EQ(m->reflexive_address(), ep);
  EXPECT_EQ(m->alternate_address(), ep);
  // The XORed value must differ on the wire from the plain one.
  const auto* plain = m->find(attr::kMappedAddress);
  const auto* xored = m->find(attr::kXorMappedAddress);
  ASSERT_TRUE(plain && xored);
  EXPECT_FALSE(std::equal(plain->value.begin(), plain->value.end(), xored->value.begin()));
}

INSTANTIATE_TEST_SUITE_P(Families, StunAddressRoundTrip, testing::Values(kV4, kV6));

TEST(StunRoundTrip, FallbacksPickTheOlderAttribute) {
  const Built built = build([&](MessageBuilder& b) {
    b.add_address(attr::kMappedAddress, kV4);
    b.add_address(attr::kChangedAddress, kV6);
  });
  auto m = MessageView::decode(built.bytes());
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(m->xor_mapped_address());
  EXPECT_EQ(m->reflexive_address(), kV4);
  EXPECT_FALSE(m->other_address());
  EXPECT_EQ(m->alternate_address(), kV6);
}

TEST(StunRoundTrip, ClassicRfc3489MessageKeepsItsCookie) {
  const Built built = build(
      [&](MessageBuilder& b) {
        b.add_address(attr::kMappedAddress, kV4);
        b.add_address(attr::kSourceAddress, kV4);
        b.add_address(attr::kChangedAddress, kV4);
        b.add_change_request(true, false);
      },
      kClassicCookie);
  auto m = MessageView::decode(built.bytes());
  ASSERT_TRUE(m.ok()) << to_string(m.error());
  EXPECT_FALSE(m->has_magic_cookie());
  EXPECT_EQ(m->cookie(), kClassicCookie);
  EXPECT_EQ(m->transaction_id(), kId);
  EXPECT_EQ(m->reflexive_address(), kV4);

  // Answering with the same 128-bit id reproduces the header exactly.
  Built echo;
  MessageBuilder reply(echo.buffer, m->method(), m->message_class(), m->transaction_id(), m->cookie());
  EXPECT_TRUE(std::equal(built.buffer.begin() + 4, built.buffer.begin() + kHeaderSize, echo.buffer.begin() + 4));
}

TEST(StunRoundTrip, XorAddressNeedsTheMagicCookie) {
  std::array<std::uint8_t, 128> buffer{};
  MessageBuilder builder(buffer, Method::Binding, MessageClass::SuccessResponse, kId, kClassicCookie);
  EXPECT_FALSE(builder.add_xor_address(attr::kXorMappedAddress, kV4));
  EXPECT_FALSE(builder.ok());
}

TEST(StunRoundTrip, ErrorCode) {
  for (int code : {300, 400, 401, 420, 438, 487, 500, 699}) {
    const Built built = build([&](MessageBuilder& b) { b.add_error_code(code, "Some reason"); }, kMagicCookie,
                              MessageClass::ErrorResponse);
    auto m = MessageView::decode(built.bytes());
    ASSERT_TRUE(m.ok()) << code;
    ASSERT_TRUE(m->error_code());
    EXPECT_EQ(m->error_code()->code, code);
    EXPECT_EQ(m->error_code()->reason, "Some reason");
  }
  const Built empty_reason = build([&](MessageBuilder& b) { b.add_error_code(500, ""); });
  EXPECT_EQ(MessageView::decode(empty_reason.bytes())->error_code()->reason, "");

  for (int bad : {0, 299, 700, -1}) {
    std::array<std::uint8_t, 64> buffer{};
    MessageBuilder builder(buffer, Method::Binding, MessageClass::ErrorResponse, kId);
    EXPECT_FALSE(builder.add_error_code(bad, "x")) << bad;
    EXPECT_FALSE(builder.ok());
  }
}

TEST(StunRoundTrip, UnknownAttributes) {
  const std::array<std::uint16_t, 3> types = {0x0024, 0x7f01, 0x0030};
  const Built built = build([&](MessageBuilder& b) { b.add_unknown_attributes(types); });
  auto m = MessageView::decode(built.bytes());
  ASSERT_TRUE(m.ok());
  std::array<std::uint16_t, 8> out{};
  ASSERT_EQ(m->unknown_attributes(out), 3u);
  EXPECT_TRUE(std::equal(types.begin(), types.end(), out.begin()));
  std::array<std::uint16_t, 2> small{};
  EXPECT_EQ(m->unknown_attributes(small), 2u);
}

TEST(StunRoundTrip, ChangeRequestAllFlagCombinations) {
  for (bool ip : {false, true}) {
    for (bool port : {false, true}) {
      const Built built = build([&](MessageBuilder& b) { b.add_change_request(ip, port); });
      auto m = MessageView::decode(built.bytes());
      ASSERT_TRUE(m.ok());
      ASSERT_TRUE(m->change_request());
      EXPECT_EQ(m->change_request()->change_ip, ip);
      EXPECT_EQ(m->change_request()->change_port, port);
      const std::uint8_t flags = m->find(attr::kChangeRequest)->value[3];
      EXPECT_EQ(flags, (ip ? 0x4 : 0) | (port ? 0x2 : 0));
    }
  }
}

TEST(StunRoundTrip, ResponsePortAndPadding) {
  const Built built = build([&](MessageBuilder& b) {
    b.add_response_port(40000);
    b.add_padding(1400);
    b.add_padding(0);
  });
  auto m = MessageView::decode(built.bytes());
  ASSERT_TRUE(m.ok()) << to_string(m.error());
  EXPECT_EQ(m->response_port(), 40000);
  ASSERT_EQ(m->attributes().size(), 3u);
  EXPECT_EQ(m->attributes()[1].value.size(), 1400u);
  EXPECT_EQ(m->attributes()[2].value.size(), 0u);
  EXPECT_EQ(built.size, kHeaderSize + 8 + 4 + 1400 + 4);
}

TEST(StunRoundTrip, TextAttributesAndLimits) {
  const Built built = build([&](MessageBuilder& b) {
    b.add_string(attr::kUsername, "alice:bob");
    b.add_string(attr::kSoftware, "natpunch");
    b.add_string(attr::kRealm, "lab.example");
    b.add_string(attr::kNonce, "n0nce");
  });
  auto m = MessageView::decode(built.bytes());
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->username(), "alice:bob");
  EXPECT_EQ(m->software(), "natpunch");
  EXPECT_EQ(m->realm(), "lab.example");
  EXPECT_EQ(m->nonce(), "n0nce");

  std::array<std::uint8_t, 2048> buffer{};
  MessageBuilder builder(buffer, Method::Binding, MessageClass::Request, kId);
  EXPECT_FALSE(builder.add_string(attr::kUsername, std::string(514, 'u')));
  EXPECT_FALSE(builder.ok());
}

TEST(StunRoundTrip, AbsentAttributesAreNullopt) {
  const Built built = build([](MessageBuilder&) {});
  auto m = MessageView::decode(built.bytes());
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(m->reflexive_address() || m->alternate_address() || m->source_address() || m->response_origin());
  EXPECT_FALSE(m->change_request() || m->response_port() || m->error_code());
  EXPECT_FALSE(m->username() || m->software() || m->realm() || m->nonce());
  std::array<std::uint16_t, 4> out{};
  EXPECT_EQ(m->unknown_attributes(out), 0u);
  EXPECT_EQ(m->unknown_comprehension_required(out), 0u);
  EXPECT_FALSE(m->has_fingerprint() || m->has_message_integrity() || m->has_message_integrity_sha256());
  EXPECT_FALSE(m->verify_message_integrity(as_bytes("key")));
  EXPECT_FALSE(m->verify_message_integrity_sha256(as_bytes("key")));
}

TEST(StunIntegrity, AttributesAfterIntegrityAreIgnored) {
  const Built built = build([&](MessageBuilder& b) {
    b.add_string(attr::kSoftware, "protected");
    b.add_message_integrity(as_bytes("pw"));
    b.add_message_integrity_sha256(as_bytes("pw"));  // allowed after MI
    b.add_string(attr::kUsername, "unprotected");
    b.add_raw(0x0031, {});  // unknown comprehension-required, but unprotected
    b.add_fingerprint();
  });
  auto m = MessageView::decode(built.bytes());
  ASSERT_TRUE(m.ok()) << to_string(m.error());
  EXPECT_EQ(m->attributes().size(), 6u);
  EXPECT_EQ(m->software(), "protected");
  EXPECT_FALSE(m->username());
  EXPECT_TRUE(m->has_fingerprint());
  EXPECT_TRUE(m->verify_message_integrity(as_bytes("pw")));
  EXPECT_TRUE(m->verify_message_integrity_sha256(as_bytes("pw")));
  std::array<std::uint16_t, 4> unknown{};
  EXPECT_EQ(m->unknown_comprehension_required(unknown), 0u);
}

TEST(StunIntegrity, EmptyKeyWorks) {
  const Built built = build([&](MessageBuilder& b) { b.add_message_integrity({}); });
  auto m = MessageView::decode(built.bytes());
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->verify_message_integrity({}));
  EXPECT_FALSE(m->verify_message_integrity(as_bytes("x")));
}

TEST(StunUnknownComprehensionRequired, ListsEachTypeOnce) {
  auto m = MessageView::decode(message({attribute(0x0031, {}), attribute(0x8031, {}), attribute(0x0031, {}),
                                        attribute(0x0032, filled(3)), attribute(attr::kSoftware, filled(1))}));
  ASSERT_TRUE(m.ok());
  std::array<std::uint16_t, 4> out{};
  ASSERT_EQ(m->unknown_comprehension_required(out), 2u);
  EXPECT_EQ(out[0], 0x0031);
  EXPECT_EQ(out[1], 0x0032);
  std::array<std::uint16_t, 1> one{};
  EXPECT_EQ(m->unknown_comprehension_required(one), 1u);
}

TEST(StunKnownAttributes, IsKnown) {
  for (std::uint16_t type : {attr::kMappedAddress, attr::kXorMappedAddress, attr::kFingerprint, attr::kPadding,
                             attr::kResponsePort, attr::kOtherAddress, attr::kMessageIntegritySha256})
    EXPECT_TRUE(attr::is_known(type)) << type;
  for (std::uint16_t type : {std::uint16_t{0x0000}, std::uint16_t{0x0024}, std::uint16_t{0x8029}, attr::kPassword})
    EXPECT_FALSE(attr::is_known(type)) << type;
}

// --- builder limits ------------------------------------------------------------

TEST(StunBuilder, HeaderLengthIsCurrentAfterEveryAdd) {
  std::array<std::uint8_t, 256> buffer{};
  MessageBuilder b(buffer, Method::Binding, MessageClass::Request, kId);
  auto check = [&] {
    ASSERT_TRUE(b.ok());
    EXPECT_EQ((std::size_t{buffer[2]} << 8 | buffer[3]), b.size() - kHeaderSize);
    EXPECT_TRUE(MessageView::decode(b.bytes()).ok());
  };
  check();
  b.add_string(attr::kSoftware, "abc");
  check();
  b.add_change_request(false, true);
  check();
  b.add_message_integrity(as_bytes("k"));
  check();
  b.add_fingerprint();
  check();
}

TEST(StunBuilder, OverflowFailsAndStaysFailed) {
  std::array<std::uint8_t, 32> buffer{};
  MessageBuilder b(buffer, Method::Binding, MessageClass::Request, kId);
  EXPECT_TRUE(b.add_change_request(true, true));  // 28 bytes
  EXPECT_FALSE(b.add_string(attr::kSoftware, "four"));  // would need 36
  EXPECT_FALSE(b.ok());
  EXPECT_FALSE(b.add_fingerprint());  // fits in 32 bytes, but the builder is failed
  EXPECT_EQ(b.size(), 28u);
  EXPECT_TRUE(MessageView::decode(b.bytes()).ok()) << "what was written stays a valid message";
}

TEST(StunBuilder, BufferSmallerThanHeader) {
  std::array<std::uint8_t, 19> buffer{};
  MessageBuilder b(buffer, Method::Binding, MessageClass::Request, kId);
  EXPECT_FALSE(b.ok());
  EXPECT_EQ(b.size(), 0u);
  EXPECT_FALSE(b.add_fingerprint());
}

TEST(StunBuilder, BodyCannotExceedTheLengthField) {
  std::vector<std::uint8_t> buffer(70000);
  MessageBuilder b(buffer, Method::Binding, MessageClass::Request, kId);
  EXPECT_TRUE(b.add_padding(65000));
  EXPECT_FALSE(b.add_padding(600));
  EXPECT_FALSE(b.ok());
  EXPECT_TRUE(MessageView::decode(b.bytes()).ok());
}

// --- robustness ----------------------------------------------------------------

TEST(StunRobustness, EveryPrefixOfAValidMessageFailsCleanly) {
  const Built built = build([&](MessageBuilder& b) {
    b.add_string(attr::kSoftware, "prefix test");
    b.add_xor_address(attr::kXorMappedAddress, kV6);
    b.add_error_code(487, "Role Conflict");
    b.add_message_integrity(as_bytes("pw"));
    b.add_fingerprint();
  });
  const auto full = built.bytes();
  ASSERT_TRUE(MessageView::decode(full).ok());
  for (std::size_t n = 0; n < full.size(); ++n) {
    // Copy so that AddressSanitizer sees the exact end of each prefix.
    const Bytes prefix(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
    auto m = MessageView::decode(prefix);
    EXPECT_FALSE(m.ok()) << n;
    // With the length field fixed up the walk reaches the cut attribute:
    // it must be reported (or, on an attribute boundary, simply be absent).
    if (n >= kHeaderSize && n % 4 == 0) {
      auto fixed = MessageView::decode(with_length_field(prefix, static_cast<std::uint16_t>(n - kHeaderSize)));
      if (fixed.ok()) {
        EXPECT_FALSE(fixed->has_fingerprint()) << n;
      }
    }
  }
}

}  // namespace
}  // namespace natpunch::stun
