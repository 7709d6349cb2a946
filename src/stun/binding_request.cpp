#include "stun/binding_request.hpp"

#include <array>

namespace natpunch::stun {

std::vector<std::uint8_t> make_binding_request(const TransactionId& id, bool change_ip, bool change_port) {
  std::array<std::uint8_t, 64> buffer{};
  MessageBuilder builder(buffer, Method::Binding, MessageClass::Request, id);
  if (change_ip || change_port) builder.add_change_request(change_ip, change_port);
  builder.add_fingerprint();
  auto bytes = builder.bytes();
  return {bytes.begin(), bytes.end()};
}

}  // namespace natpunch::stun
