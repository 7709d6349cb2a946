// TURN REST API credentials (coturn's use-auth-secret). The expected
// passwords come from the openssl command line, not from this code:
//   echo -n "1700000000:alice" | openssl dgst -sha1 -hmac north -binary | base64
//   echo -n "1700003600" | openssl dgst -sha1 -hmac "s3cret with spaces" -binary | base64
#include "turn/rest_credentials.hpp"

#include <gtest/gtest.h>

namespace natpunch::turn {
namespace {

TEST(RestCredentials, PasswordIsBase64OfHmacSha1) {
  EXPECT_EQ(rest_password("north", "1700000000:alice"), "Cd/49soE35ICqcJF/bCTn8Z4OyE=");
  EXPECT_EQ(rest_password("s3cret with spaces", "1700003600"), "jnXHbETuHGCEvYjyF+FtiYl366Y=");
}

TEST(RestCredentials, UsernameCarriesTheExpiry) {
  const auto minted = mint_rest_credentials("north", "alice", 1699999000, std::chrono::seconds(1000));
  ASSERT_TRUE(minted);
  EXPECT_EQ(minted->expires_unix, 1700000000);
  EXPECT_EQ(minted->credentials.username, "1700000000:alice");
  EXPECT_EQ(minted->credentials.password, "Cd/49soE35ICqcJF/bCTn8Z4OyE=");
}

TEST(RestCredentials, EmptyIdIsTheBareExpiry) {
  const auto minted = mint_rest_credentials("s3cret with spaces", "", 1700000000, std::chrono::hours(1));
  ASSERT_TRUE(minted);
  EXPECT_EQ(minted->credentials.username, "1700003600");
  EXPECT_EQ(minted->credentials.password, "jnXHbETuHGCEvYjyF+FtiYl366Y=");
}

TEST(RestCredentials, RefusesIdsThatBreakTheUsername) {
  EXPECT_FALSE(mint_rest_credentials("s", "a:b", 0, std::chrono::seconds(60)));
  EXPECT_FALSE(mint_rest_credentials("s", "a\nb", 0, std::chrono::seconds(60)));
  EXPECT_FALSE(mint_rest_credentials("s", "a", 0, std::chrono::seconds(-1)));
  EXPECT_FALSE(mint_rest_credentials("s", "a", INT64_MAX, std::chrono::seconds(60)));
}

TEST(RestCredentials, DifferentSecretsDifferentPasswords) {
  EXPECT_NE(rest_password("a", "1700000000:x"), rest_password("b", "1700000000:x"));
  EXPECT_EQ(rest_password("", "1700000000:x").size(), 28u);  // 20 bytes of HMAC in base64
}

}  // namespace
}  // namespace natpunch::turn
