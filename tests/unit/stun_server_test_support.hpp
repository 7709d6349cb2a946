#pragma once
// Shared fixtures for the STUN server tests: request construction and one
// handle() call with its response kept alive for decoding.
#include <gtest/gtest.h>

#include <array>
#include <optional>
#include <vector>

#include "stun/message.hpp"
#include "stun/server.hpp"

namespace natpunch::stun::server_test {

inline const Endpoint kPrimary{IpAddress::v4({198, 51, 100, 10}), 3478};
inline const Endpoint kAlternate{IpAddress::v4({198, 51, 100, 11}), 3479};
inline const Endpoint kClient{IpAddress::v4({203, 0, 113, 5}), 40000};
inline const TransactionId kId{0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac};
inline constexpr std::uint32_t kClassicCookie = 0xdeadbeef;

using S = SocketIndex;

struct RequestSpec {
  std::uint32_t cookie = kMagicCookie;
  std::optional<ChangeRequestValue> change;
  std::optional<std::uint16_t> response_port;
  std::optional<std::size_t> padding;
  std::vector<std::uint16_t> extra_attributes;  // 4-byte dummy values (RESPONSE-ADDRESS: a real address)
  bool fingerprint = false;
  MessageClass cls = MessageClass::Request;
  std::uint16_t method = static_cast<std::uint16_t>(Method::Binding);
};

inline std::vector<std::uint8_t> make_request(const RequestSpec& spec) {
  std::vector<std::uint8_t> buf(4096);
  MessageBuilder b(buf, static_cast<Method>(spec.method), spec.cls, kId, spec.cookie);
  if (spec.change) b.add_change_request(spec.change->change_ip, spec.change->change_port);
  if (spec.response_port) b.add_response_port(*spec.response_port);
  for (auto type : spec.extra_attributes) {
    if (type == attr::kResponseAddress) {
      b.add_address(type, Endpoint{IpAddress::v4({192, 0, 2, 1}), 9});
    } else {
      const std::array<std::uint8_t, 4> value{1, 2, 3, 4};
      b.add_raw(type, value);
    }
  }
  if (spec.padding) b.add_padding(*spec.padding);
  if (spec.fingerprint) b.add_fingerprint();
  EXPECT_TRUE(b.ok());
  buf.resize(b.size());
  return buf;
}

inline ServerConfig config_with_alternate() {
  ServerConfig c;
  c.primary = kPrimary;
  c.alternate = kAlternate;
  c.rate_limit.reset();
  return c;
}

inline ServerConfig config_without_alternate() {
  ServerConfig c;
  c.primary = kPrimary;
  c.rate_limit.reset();
  return c;
}

// One handled exchange, with the response kept alive for its MessageView.
struct Exchange {
  std::optional<Reply> reply;
  std::vector<std::uint8_t> bytes;

  MessageView view() const {
    auto v = MessageView::decode(bytes);
    EXPECT_TRUE(v) << "server produced an undecodable response";
    return *v;
  }
};

inline Exchange ask(Server& server, const std::vector<std::uint8_t>& request, S received_on = S::PrimaryIpPrimaryPort,
                  const Endpoint& from = kClient, TimePoint now = kTimeZero, std::size_t out_size = 2048) {
  std::vector<std::uint8_t> out(out_size);
  Exchange e;
  e.reply = server.handle(now, request, from, received_on, out);
  if (e.reply) e.bytes.assign(out.begin(), out.begin() + e.reply->length);
  return e;
}

inline std::vector<std::uint16_t> unknown_list(const MessageView& v) {
  std::array<std::uint16_t, 16> types{};
  const auto n = v.unknown_attributes(types);
  return {types.begin(), types.begin() + n};
}

}  // namespace natpunch::stun::server_test
