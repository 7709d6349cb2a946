// The STUN codec's TURN methods and attributes (RFC 8656 §18) and RFC 8489
// §9.2's PASSWORD-ALGORITHM(S), USERHASH and nonce cookie: every new
// DecodeError from crafted input, round trips, and the typed readers.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <vector>

#include "stun/message.hpp"
#include "stun/password_algorithms.hpp"
#include "stun/turn_attributes.hpp"

namespace natpunch::stun {
namespace {

using Bytes = std::vector<std::uint8_t>;
constexpr TransactionId kId = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

Bytes with_attribute(std::uint16_t type, const Bytes& value, std::uint32_t cookie = kMagicCookie) {
  Bytes out(20, 0);
  out[1] = 0x03;  // Allocate request
  out[4] = static_cast<std::uint8_t>(cookie >> 24);
  out[5] = static_cast<std::uint8_t>(cookie >> 16);
  out[6] = static_cast<std::uint8_t>(cookie >> 8);
  out[7] = static_cast<std::uint8_t>(cookie);
  std::copy(kId.begin(), kId.end(), out.begin() + 8);
  out.push_back(static_cast<std::uint8_t>(type >> 8));
  out.push_back(static_cast<std::uint8_t>(type));
  out.push_back(static_cast<std::uint8_t>(value.size() >> 8));
  out.push_back(static_cast<std::uint8_t>(value.size()));
  out.insert(out.end(), value.begin(), value.end());
  out.resize((out.size() + 3) & ~std::size_t{3}, 0);
  out[3] = static_cast<std::uint8_t>(out.size() - 20);
  return out;
}

struct BadValue {
  const char* name;
  std::uint16_t type;
  Bytes value;
  DecodeError expected;
};

class TurnAttributeDecodeErrors : public testing::TestWithParam<BadValue> {};

TEST_P(TurnAttributeDecodeErrors, Rejected) {
  const auto& c = GetParam();
  auto decoded = MessageView::decode(with_attribute(c.type, c.value));
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.error(), c.expected) << to_string(decoded.error());
  EXPECT_FALSE(to_string(c.expected).empty());
}

INSTANTIATE_TEST_SUITE_P(
    Values, TurnAttributeDecodeErrors,
    testing::Values(BadValue{"channel_short", attr::kChannelNumber, {0x40, 0}, DecodeError::kBadChannelNumber},
                    BadValue{"lifetime_long", attr::kLifetime, {0, 0, 0, 1, 0}, DecodeError::kBadLifetime},
                    BadValue{"transport_short", attr::kRequestedTransport, {17}, DecodeError::kBadRequestedTransport},
                    BadValue{"family_3", attr::kRequestedAddressFamily, {3, 0, 0, 0}, DecodeError::kBadAddressFamilyRequest},
                    BadValue{"additional_family_short", attr::kAdditionalAddressFamily, {1, 0},
                             DecodeError::kBadAddressFamilyRequest},
                    BadValue{"even_port_empty", attr::kEvenPort, {}, DecodeError::kBadEvenPort},
                    BadValue{"token_short", attr::kReservationToken, {1, 2, 3, 4}, DecodeError::kBadReservationToken},
                    BadValue{"dont_fragment_value", attr::kDontFragment, {1}, DecodeError::kBadDontFragment},
                    BadValue{"address_error_class_2", attr::kAddressErrorCode, {1, 0, 2, 0},
                             DecodeError::kBadAddressErrorCode},
                    BadValue{"address_error_family", attr::kAddressErrorCode, {7, 0, 4, 40},
                             DecodeError::kBadAddressErrorCode},
                    BadValue{"icmp_short", attr::kIcmp, {0, 0, 3, 1}, DecodeError::kBadIcmp},
                    BadValue{"peer_family", attr::kXorPeerAddress, {0, 3, 0, 0, 1, 2, 3, 4}, DecodeError::kBadAddressFamily},
                    BadValue{"relayed_length", attr::kXorRelayedAddress, {0, 1, 0, 0, 1, 2, 3},
                             DecodeError::kBadAddressLength},
                    BadValue{"algorithms_empty", attr::kPasswordAlgorithms, {}, DecodeError::kBadPasswordAlgorithms},
                    BadValue{"algorithms_params_overrun", attr::kPasswordAlgorithms, {0, 2, 0, 8, 1, 2, 3, 4},
                             DecodeError::kBadPasswordAlgorithms},
                    BadValue{"algorithm_two_entries", attr::kPasswordAlgorithm, {0, 1, 0, 0, 0, 2, 0, 0},
                             DecodeError::kBadPasswordAlgorithm},
                    BadValue{"algorithm_short", attr::kPasswordAlgorithm, {0, 1}, DecodeError::kBadPasswordAlgorithm},
                    BadValue{"userhash_short", attr::kUserhash, Bytes(31, 7), DecodeError::kBadUserhash}),
    [](const testing::TestParamInfo<BadValue>& info) { return info.param.name; });

TEST(TurnAttributes, XorPeerAddressNeedsTheCookie) {
  auto decoded = MessageView::decode(with_attribute(attr::kXorPeerAddress, {0, 1, 0, 0, 1, 2, 3, 4}, 0xdeadbeef));
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.error(), DecodeError::kXorWithoutCookie);
}

TEST(TurnAttributes, RoundTripThroughBuilderAndReaders) {
  const Endpoint peer_v4{IpAddress::v4({203, 0, 113, 102}), 6000};
  const Endpoint relayed_v6{*IpAddress::parse("2001:db8::5"), 50123};
  const Bytes payload = {0, 1, 2, 0xff, 0x7f};
  std::array<std::uint8_t, 512> buffer{};
  MessageBuilder b(buffer, Method::ChannelBind, MessageClass::Request, kId);
  ASSERT_TRUE(add_channel_number(b, 0x4001));
  ASSERT_TRUE(add_xor_peer_address(b, peer_v4));
  ASSERT_TRUE(b.add_xor_address(attr::kXorRelayedAddress, relayed_v6));
  ASSERT_TRUE(add_lifetime(b, 3600));
  ASSERT_TRUE(add_requested_transport(b, kProtocolUdp));
  ASSERT_TRUE(add_data(b, payload));
  const std::array algorithms = {PasswordAlgorithm::kSha256, PasswordAlgorithm::kMd5};
  ASSERT_TRUE(add_password_algorithms(b, algorithms));
  ASSERT_TRUE(add_password_algorithm(b, PasswordAlgorithm::kSha256));
  ASSERT_TRUE(b.add_fingerprint());

  auto m = MessageView::decode(b.bytes());
  ASSERT_TRUE(m.ok()) << to_string(m.error());
  EXPECT_EQ(m->method(), Method::ChannelBind);
  EXPECT_EQ(channel_number(*m), 0x4001);
  EXPECT_EQ(xor_peer_address(*m), peer_v4);
  EXPECT_EQ(xor_relayed_address(*m), relayed_v6);
  EXPECT_EQ(lifetime_seconds(*m), 3600u);
  EXPECT_EQ(requested_transport(*m), kProtocolUdp);
  ASSERT_TRUE(data_value(*m));
  EXPECT_EQ(Bytes(data_value(*m)->begin(), data_value(*m)->end()), payload);
  std::array<std::uint16_t, 4> listed{};
  ASSERT_EQ(password_algorithms(*m, listed), 2u);
  EXPECT_EQ(listed[0], 0x0002);
  EXPECT_EQ(listed[1], 0x0001);
  EXPECT_EQ(password_algorithm(*m), 0x0002);
  // The XOR encoding really obfuscates: the raw value is not the address.
  const RawAttribute* raw = m->find(attr::kXorPeerAddress);
  ASSERT_NE(raw, nullptr);
  EXPECT_NE(raw->value[4], 203);
}

TEST(TurnAttributes, AbsentAttributesAreNullopt) {
  std::array<std::uint8_t, 64> buffer{};
  MessageBuilder b(buffer, Method::Refresh, MessageClass::Request, kId);
  auto m = MessageView::decode(b.bytes());
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(channel_number(*m) || xor_peer_address(*m) || xor_relayed_address(*m) || lifetime_seconds(*m));
  EXPECT_FALSE(requested_transport(*m) || data_value(*m) || password_algorithm(*m));
  std::array<std::uint16_t, 2> listed{};
  EXPECT_EQ(password_algorithms(*m, listed), 0u);
}

TEST(TurnAttributes, AlgorithmParametersAreSkippedNotMisread) {
  // An unknown algorithm with 3 bytes of parameters (padded to 4), then SHA-256.
  // The view reads these bytes: they must outlive it.
  const auto bytes = with_attribute(attr::kPasswordAlgorithms, {0x12, 0x34, 0, 3, 9, 9, 9, 0, 0, 2, 0, 0});
  auto m = MessageView::decode(bytes);
  ASSERT_TRUE(m.ok()) << to_string(m.error());
  std::array<std::uint16_t, 4> listed{};
  ASSERT_EQ(password_algorithms(*m, listed), 2u);
  EXPECT_EQ(listed[0], 0x1234);
  EXPECT_EQ(listed[1], 0x0002);
  EXPECT_FALSE(is_supported_password_algorithm(0x1234));
  EXPECT_TRUE(is_supported_password_algorithm(0x0002));
}

TEST(TurnAttributes, TurnAndPasswordAttributesAreKnown) {
  for (std::uint16_t type : {attr::kChannelNumber, attr::kLifetime, attr::kXorPeerAddress, attr::kData,
                             attr::kXorRelayedAddress, attr::kRequestedTransport, attr::kDontFragment,
                             attr::kPasswordAlgorithm, attr::kUserhash, attr::kPasswordAlgorithms, attr::kIcmp})
    EXPECT_TRUE(attr::is_known(type)) << type;
}

TEST(TurnAttributes, MethodsRoundTripThroughTheMessageType) {
  for (Method method : {Method::Allocate, Method::Refresh, Method::Send, Method::Data, Method::CreatePermission,
                        Method::ChannelBind}) {
    for (MessageClass cls : {MessageClass::Request, MessageClass::Indication, MessageClass::SuccessResponse,
                             MessageClass::ErrorResponse}) {
      std::array<std::uint8_t, 20> buffer{};
      MessageBuilder b(buffer, method, cls, kId);
      auto m = MessageView::decode(b.bytes());
      ASSERT_TRUE(m.ok());
      EXPECT_EQ(m->method(), method);
      EXPECT_EQ(m->message_class(), cls);
    }
  }
  // RFC 8656's wire values: Allocate request 0x0003, success 0x0103, error 0x0113; Data indication 0x0017.
  EXPECT_EQ(make_message_type(0x003, MessageClass::SuccessResponse), 0x0103);
  EXPECT_EQ(make_message_type(0x003, MessageClass::ErrorResponse), 0x0113);
  EXPECT_EQ(make_message_type(0x007, MessageClass::Indication), 0x0017);
  EXPECT_EQ(make_message_type(0x009, MessageClass::Request), 0x0009);
}

struct CookieCase {
  const char* nonce;
  bool has_cookie;
  bool password_algorithms;
  bool username_anonymity;
};

class NonceCookie : public testing::TestWithParam<CookieCase> {};

TEST_P(NonceCookie, Parsed) {
  const auto& c = GetParam();
  const auto features = nonce_cookie(c.nonce);
  ASSERT_EQ(features.has_value(), c.has_cookie) << c.nonce;
  if (!features) return;
  EXPECT_EQ(features->password_algorithms, c.password_algorithms) << c.nonce;
  EXPECT_EQ(features->username_anonymity, c.username_anonymity) << c.nonce;
}

INSTANTIATE_TEST_SUITE_P(Nonces, NonceCookie,
                         testing::Values(CookieCase{"obMatJos2AAAAxyz", true, false, false},
                                         CookieCase{"obMatJos2AAABxyz", true, true, false},
                                         CookieCase{"obMatJos2AAACxyz", true, false, true},
                                         CookieCase{"obMatJos2AAAD", true, true, true},
                                         CookieCase{"84a5e1eccc11e977", false, false, false},  // coturn's
                                         CookieCase{"obMatJos2AA", false, false, false},       // cut short
                                         CookieCase{"obMatJos2A*AB", false, false, false},     // not base64
                                         CookieCase{"", false, false, false}));

TEST(LongTermKeys, Sha256KeyIsTheHashOfTheJoinedCredentials) {
  // sha256("alice:lab.test:secret"), from Python's hashlib.
  const auto key = long_term_key(PasswordAlgorithm::kSha256, "alice", "lab.test", "secret");
  ASSERT_EQ(key.size, 32u);
  const std::array<std::uint8_t, 4> head = {0x8f, 0x59, 0x74, 0x18};
  EXPECT_TRUE(std::equal(head.begin(), head.end(), key.bytes.begin()));
  EXPECT_EQ(long_term_key(PasswordAlgorithm::kMd5, "alice", "lab.test", "secret").size, 16u);
}

}  // namespace
}  // namespace natpunch::stun
