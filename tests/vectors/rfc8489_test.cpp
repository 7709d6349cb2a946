// RFC 8489's own numbers: the §9.2.2 MD5 key example and the Appendix B.1
// request with long-term authentication, SHA-256 password algorithm and
// USERHASH, checked byte for byte.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "stun/integrity.hpp"
#include "stun/message.hpp"
#include "stun/password_algorithms.hpp"

namespace natpunch::stun {
namespace {

std::string hex(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (const std::uint8_t b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

TEST(Rfc8489, Md5KeyExampleOfSection922) {
  // "the resulting hash being 0x8493fbc53ba582fb4c044c456bdc40eb"
  EXPECT_EQ(hex(long_term_key(PasswordAlgorithm::kMd5, "user", "realm", "pass").span()),
            "8493fbc53ba582fb4c044c456bdc40eb");
  EXPECT_EQ(hex(long_term_key("user", "realm", "pass")), "8493fbc53ba582fb4c044c456bdc40eb");
}

// Appendix B.1. Username "マトリックス" (U+30DE U+30C8 U+30EA U+30C3 U+30AF
// U+30B9, unchanged by OpaqueString), password "TheMatrIX" after
// OpaqueString, realm "example.org", nonce "obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA".
const std::string kUsername = "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9";
const std::vector<std::uint8_t> kSampleRequest = {
    0x00, 0x01, 0x00, 0x9c, 0x21, 0x12, 0xa4, 0x42, 0x78, 0xad, 0x34, 0x33, 0xc6, 0xad, 0x72, 0xc0, 0x29, 0xda,
    0x41, 0x2e, 0x00, 0x1e, 0x00, 0x20, 0x4a, 0x3c, 0xf3, 0x8f, 0xef, 0x69, 0x92, 0xbd, 0xa9, 0x52, 0xc6, 0x78,
    0x04, 0x17, 0xda, 0x0f, 0x24, 0x81, 0x94, 0x15, 0x56, 0x9e, 0x60, 0xb2, 0x05, 0xc4, 0x6e, 0x41, 0x40, 0x7f,
    0x17, 0x04, 0x00, 0x15, 0x00, 0x29, 0x6f, 0x62, 0x4d, 0x61, 0x74, 0x4a, 0x6f, 0x73, 0x32, 0x41, 0x41, 0x41,
    0x43, 0x66, 0x2f, 0x2f, 0x34, 0x39, 0x39, 0x6b, 0x39, 0x35, 0x34, 0x64, 0x36, 0x4f, 0x4c, 0x33, 0x34, 0x6f,
    0x4c, 0x39, 0x46, 0x53, 0x54, 0x76, 0x79, 0x36, 0x34, 0x73, 0x41, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x0b,
    0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x6f, 0x72, 0x67, 0x00, 0x00, 0x1c, 0x00, 0x20, 0xe4, 0x68,
    0x6c, 0x8f, 0x0e, 0xde, 0xb5, 0x90, 0x13, 0xe0, 0x70, 0x90, 0x01, 0x0a, 0x93, 0xef, 0xcc, 0xbc, 0xcc, 0x54,
    0x4c, 0x0a, 0x45, 0xd9, 0xf8, 0x30, 0xaa, 0x6d, 0x6f, 0x73, 0x5a, 0x01};
constexpr std::size_t kIntegrityOffset = 20 + 36 + 48 + 16;  // header, USERHASH, NONCE, REALM

TEST(Rfc8489, AppendixB1UserhashIsSha256OfUsernameAndRealm) {
  const auto hash = userhash(kUsername, "example.org");
  EXPECT_TRUE(std::equal(hash.begin(), hash.end(), kSampleRequest.begin() + 24));
}

TEST(Rfc8489, AppendixB1NonceCookieAnnouncesUsernameAnonymity) {
  const auto features = nonce_cookie("obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA");
  ASSERT_TRUE(features);
  EXPECT_TRUE(features->username_anonymity);  // the sample uses USERHASH
  EXPECT_FALSE(features->password_algorithms);
}

TEST(Rfc8489, AppendixB1MessageIntegritySha256WithSha256Key) {
  // The printed message's header says 0x9c (156) bytes follow while 136 do
  // (erratum 6268 reports the vector wrong); its HMAC was computed with the
  // printed 0x9c in the length field, so that is what we reproduce.
  const auto key = long_term_key(PasswordAlgorithm::kSha256, kUsername, "example.org", "TheMatrIX");
  ASSERT_EQ(key.size, 32u);
  std::array<std::uint8_t, 32> mac{};
  ASSERT_TRUE(detail::compute_message_hmac(detail::HmacAlgorithm::kSha256, key.span(),
                                           std::span(kSampleRequest).first(kIntegrityOffset), 0x9c, mac));
  EXPECT_EQ(hex(mac), hex(std::span(kSampleRequest).subspan(kIntegrityOffset + 4, 32)));
  // The MD5 key or the un-prepared password do not reproduce it.
  const auto md5 = long_term_key(PasswordAlgorithm::kMd5, kUsername, "example.org", "TheMatrIX");
  ASSERT_TRUE(detail::compute_message_hmac(detail::HmacAlgorithm::kSha256, md5.span(),
                                           std::span(kSampleRequest).first(kIntegrityOffset), 0x9c, mac));
  EXPECT_NE(hex(mac), hex(std::span(kSampleRequest).subspan(kIntegrityOffset + 4, 32)));
  // As printed, the length mismatch is what our decoder reports.
  auto decoded = MessageView::decode(kSampleRequest);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.error(), DecodeError::kLengthMismatch);
}

}  // namespace
}  // namespace natpunch::stun
