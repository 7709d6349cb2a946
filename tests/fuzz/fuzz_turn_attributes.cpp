// libFuzzer target for the TURN attributes (RFC 8656 §18) and RFC 8489 §9.2's
// PASSWORD-ALGORITHM(S), USERHASH and nonce cookie in the STUN codec:
// whatever decodes must be readable through the typed readers, and what
// they read must survive a rebuild through the typed writers unchanged.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "fuzz_check.hpp"
#include "stun/message.hpp"
#include "stun/password_algorithms.hpp"
#include "stun/turn_attributes.hpp"

namespace {

using namespace natpunch;
using namespace natpunch::stun;

void check_rebuild(const MessageView& m) {
  std::vector<std::uint8_t> buffer(kHeaderSize + 0xFFFF);
  MessageBuilder b(buffer, m.method(), m.message_class(), m.transaction_id(), m.cookie());
  const auto peer = xor_peer_address(m);
  const auto relayed = xor_relayed_address(m);
  const auto lifetime = lifetime_seconds(m);
  const auto channel = channel_number(m);
  const auto transport = requested_transport(m);
  const auto data = data_value(m);
  const auto algorithm = password_algorithm(m);
  std::array<std::uint16_t, 64> algorithms{};
  const std::size_t algorithm_count = password_algorithms(m, algorithms);
  FUZZ_CHECK(algorithm_count <= algorithms.size());

  if (peer) add_xor_peer_address(b, *peer);
  if (relayed) b.add_xor_address(attr::kXorRelayedAddress, *relayed);
  if (lifetime) add_lifetime(b, *lifetime);
  if (channel) add_channel_number(b, *channel);
  if (transport) add_requested_transport(b, *transport);
  if (data) add_data(b, *data);
  if (!b.ok()) return;  // XOR addresses without the cookie, or over 64 KiB
  auto again = MessageView::decode(b.bytes());
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(xor_peer_address(*again) == peer);
  FUZZ_CHECK(xor_relayed_address(*again) == relayed);
  FUZZ_CHECK(lifetime_seconds(*again) == lifetime);
  FUZZ_CHECK(channel_number(*again) == channel);
  FUZZ_CHECK(requested_transport(*again) == transport);
  const auto data_again = data_value(*again);
  FUZZ_CHECK(data_again.has_value() == data.has_value());
  if (data) FUZZ_CHECK(std::equal(data->begin(), data->end(), data_again->begin(), data_again->end()));
  (void)algorithm;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> input(data, size);
  // The nonce cookie parser takes any text.
  (void)nonce_cookie(std::string_view(reinterpret_cast<const char*>(data), size));
  auto message = MessageView::decode(input);
  if (!message.ok()) {
    FUZZ_CHECK(!to_string(message.error()).empty());
    return 0;
  }
  if (const auto nonce = message->nonce()) (void)nonce_cookie(*nonce);
  check_rebuild(*message);
  return 0;
}
