#include "stun/server.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include "stun/message.hpp"

namespace natpunch::stun {
namespace {

constexpr std::size_t kMaxReportedUnknown = 16;
constexpr std::size_t kFingerprintSize = 8;
constexpr std::size_t kAttributeHeaderSize = 4;

// Error responses go back exactly where the request came from (never to
// RESPONSE-PORT: an error is not worth reflecting elsewhere) and echo the
// id, cookie field and FINGERPRINT choice like success responses do.
std::optional<std::size_t> build_error(const MessageView& request, int code, std::string_view reason,
                                       std::span<const std::uint16_t> unknown, std::span<std::uint8_t> out) {
  MessageBuilder b(out, Method::Binding, MessageClass::ErrorResponse, request.transaction_id(), request.cookie());
  b.add_error_code(code, reason);
  if (!unknown.empty()) b.add_unknown_attributes(unknown);
  if (request.has_fingerprint()) b.add_fingerprint();
  if (!b.ok()) return std::nullopt;
  return b.size();
}

}  // namespace

std::optional<std::string> software_error(std::string_view software) {
  std::size_t characters = 0;
  for (unsigned char c : software) {
    if (c < 0x20 || c == 0x7f) return "contains a control character";
    if ((c & 0xc0) != 0x80) ++characters;  // not a UTF-8 continuation byte
  }
  if (characters >= 128) return "has " + std::to_string(characters) + " characters; RFC 8489 allows fewer than 128";
  return std::nullopt;
}

Server::Server(ServerConfig config) : config_(std::move(config)) {
  if (config_.rate_limit) limiter_.emplace(*config_.rate_limit, config_.hash_seed, config_.shared_address_budgets);
}

Endpoint Server::socket_endpoint(SocketIndex socket) const {
  if (!config_.alternate) return config_.primary;
  const auto bits = static_cast<unsigned>(socket);
  return Endpoint{(bits & 2u) ? config_.alternate->address : config_.primary.address,
                  (bits & 1u) ? config_.alternate->port : config_.primary.port};
}

std::optional<Reply> Server::handle(TimePoint now, std::span<const std::uint8_t> datagram, const Endpoint& from,
                                    SocketIndex received_on, std::span<std::uint8_t> out) {
  ++counters_.received;
  if (!config_.alternate) received_on = SocketIndex::PrimaryIpPrimaryPort;

  const auto decoded = MessageView::decode(datagram);
  if (!decoded) {
    ++counters_.dropped_malformed;
    return std::nullopt;
  }
  const MessageView& request = decoded.value();
  if (request.message_class() != MessageClass::Request ||
      request.method_value() != static_cast<std::uint16_t>(Method::Binding)) {
    ++counters_.dropped_not_request;
    return std::nullopt;
  }
  // After validation, so garbage never occupies rate-limiter slots.
  if (limiter_ && !limiter_->allow(now, from)) {
    ++counters_.dropped_rate_limited;
    return std::nullopt;
  }

  auto send_error = [&](int code, std::string_view reason,
                        std::span<const std::uint16_t> unknown) -> std::optional<Reply> {
    const auto length = build_error(request, code, reason, unknown, out);
    if (!length) {
      ++counters_.dropped_no_room;
      return std::nullopt;
    }
    ++counters_.errors_sent;
    return Reply{received_on, from, *length};
  };

  // RFC 8489 §6.3.1.1: unknown comprehension-required attributes → 420.
  // RESPONSE-ADDRESS (RFC 3489) is listed too: honouring it would let anyone
  // aim our responses at a third party, and ignoring it would leave the
  // client waiting at an address we never answer.
  std::array<std::uint16_t, kMaxReportedUnknown> unknown{};
  std::size_t unknown_count = request.unknown_comprehension_required(unknown);
  if (request.find(attr::kResponseAddress) != nullptr && unknown_count < unknown.size())
    unknown[unknown_count++] = attr::kResponseAddress;
  if (unknown_count > 0) return send_error(420, "Unknown Attribute", {unknown.data(), unknown_count});

  const auto response_port = request.response_port();
  const bool wants_padding = request.find(attr::kPadding) != nullptr;
  // RFC 5780 §6.1: PADDING together with RESPONSE-PORT → 400.
  if (response_port && (wants_padding || *response_port == 0)) return send_error(400, "Bad Request", {});

  SocketIndex send_from = received_on;
  if (const auto change = request.change_request(); change && (change->change_ip || change->change_port)) {
    // RFC 5780 §6.1: "If the Request contains the CHANGE-REQUEST attribute
    // and the server does not have an alternate address and port ..., the
    // server MUST generate an error response of type 420."
    if (!config_.alternate) {
      const std::array<std::uint16_t, 1> change_attr{attr::kChangeRequest};
      return send_error(420, "Unknown Attribute", change_attr);
    }
    send_from = changed_socket(received_on, change->change_ip, change->change_port);
  }

  // RFC 5780 §7.5: the response goes to the request's source IP at RESPONSE-PORT.
  Endpoint destination = from;
  if (response_port) destination.port = *response_port;

  const bool modern = request.has_magic_cookie();
  MessageBuilder b(out, Method::Binding, MessageClass::SuccessResponse, request.transaction_id(), request.cookie());
  // RFC 8489 section 12.2: MAPPED-ADDRESS is for classic (RFC 3489)
  // clients, which do not send the magic cookie; a modern client reads
  // XOR-MAPPED-ADDRESS only.
  if (modern)
    b.add_xor_address(attr::kXorMappedAddress, from);
  else
    b.add_address(attr::kMappedAddress, from);
  if (config_.alternate) {
    // RFC 5780 §6.1 Table 1: OTHER-ADDRESS differs in both IP and port from
    // where the request arrived, whatever the change flags.
    const Endpoint other = socket_endpoint(changed_socket(received_on, true, true));
    const Endpoint origin = socket_endpoint(send_from);
    b.add_address(modern ? attr::kOtherAddress : attr::kChangedAddress, other);
    b.add_address(modern ? attr::kResponseOrigin : attr::kSourceAddress, origin);
  }
  // SOFTWARE is optional: only where it adds no amplification.
  const std::size_t tail = request.has_fingerprint() ? kFingerprintSize : 0;
  const std::size_t software_size = kAttributeHeaderSize + ((config_.software.size() + 3) & ~std::size_t{3});
  if (!config_.software.empty() && b.size() + software_size + tail <= datagram.size())
    b.add_string(attr::kSoftware, config_.software);

  // Amplification guard: pad only up to the request's own length.
  const std::size_t unpadded = b.size() + tail;
  if (wants_padding && b.ok() && datagram.size() >= unpadded + kAttributeHeaderSize && datagram.size() <= out.size())
    b.add_padding(datagram.size() - unpadded - kAttributeHeaderSize);

  if (request.has_fingerprint()) b.add_fingerprint();
  if (!b.ok()) {
    ++counters_.dropped_no_room;
    return std::nullopt;
  }
  ++counters_.answered;
  return Reply{send_from, destination, b.size()};
}

}  // namespace natpunch::stun
