#include "wire/session_datagram.hpp"

#include <sodium.h>

#include <algorithm>

#include "core/bytes.hpp"

namespace natpunch::wire {
namespace {

constexpr std::uint8_t kMagic0 = 'N';
constexpr std::uint8_t kMagic1 = 'D';

// Keyed BLAKE2b-128 of `message` under a direction key (derived below, so
// this key use can never be confused with another: probes derive theirs
// with other labels).
std::array<std::uint8_t, kSessionMacSize> mac(std::span<const std::uint8_t> message, const SessionKey& key) {
  std::array<std::uint8_t, kSessionMacSize> out{};
  crypto_generichash(out.data(), out.size(), message.data(), message.size(), key.data(), key.size());
  return out;
}

SessionKey direction_key(const SessionKey& key, SessionRole sender) {
  static constexpr char kFromCaller[] = "natpunch data v2 caller->callee";
  static constexpr char kFromCallee[] = "natpunch data v2 callee->caller";
  static_assert(sizeof kFromCaller == sizeof kFromCallee);
  const char* label = sender == SessionRole::Caller ? kFromCaller : kFromCallee;
  SessionKey out{};
  crypto_generichash(out.data(), out.size(), reinterpret_cast<const unsigned char*>(label), sizeof kFromCaller - 1,
                     key.data(), key.size());
  return out;
}

}  // namespace

SessionDatagramKeys::SessionDatagramKeys(const SessionKey& key, SessionRole own) : own_(own) {
  // sodium_init() is idempotent and thread-safe (it picks BLAKE2b's fastest implementation).
  if (sodium_init() < 0) __builtin_trap();
  sending_ = direction_key(key, own);
  receiving_ = direction_key(key, other(own));
}

const char* to_string(SessionDatagramError error) {
  switch (error) {
    case SessionDatagramError::TooShort: return "too short";
    case SessionDatagramError::BadMagic: return "bad magic";
    case SessionDatagramError::BadVersion: return "bad version";
    case SessionDatagramError::BadLength: return "bad payload length";
    case SessionDatagramError::WrongSession: return "wrong session";
    case SessionDatagramError::BadMac: return "bad MAC";
  }
  return "unknown";
}

bool looks_like_session_datagram(std::span<const std::uint8_t> bytes) {
  return bytes.size() >= 2 && bytes[0] == kMagic0 && bytes[1] == kMagic1;
}

std::vector<std::uint8_t> encode(const SessionDatagram& datagram, const SessionDatagramKeys& keys) {
  const std::size_t length = std::min(datagram.payload.size(), kMaxSessionPayload);
  std::vector<std::uint8_t> out(kSessionHeaderSize + length + kSessionMacSize);
  out[0] = kMagic0;
  out[1] = kMagic1;
  out[2] = kSessionVersion;
  out[3] = datagram.flags;
  store_be64(out.data() + 4, datagram.session_id);
  store_be64(out.data() + 12, datagram.sequence);
  store_be32(out.data() + 20, static_cast<std::uint32_t>(length));
  std::copy_n(datagram.payload.begin(), length, out.begin() + kSessionHeaderSize);
  const auto tag = mac(std::span(out).first(kSessionHeaderSize + length), keys.sending());
  std::copy(tag.begin(), tag.end(), out.end() - kSessionMacSize);
  return out;
}

Result<SessionDatagram, SessionDatagramError> decode_session_datagram(std::span<const std::uint8_t> bytes,
                                                                     std::uint64_t session_id,
                                                                     const SessionDatagramKeys& keys) {
  if (bytes.size() < kSessionHeaderSize + kSessionMacSize) return Unexpected{SessionDatagramError::TooShort};
  if (bytes[0] != kMagic0 || bytes[1] != kMagic1) return Unexpected{SessionDatagramError::BadMagic};
  if (bytes[2] != kSessionVersion) return Unexpected{SessionDatagramError::BadVersion};
  const std::uint64_t length = load_be32(bytes.data() + 20);
  if (length > kMaxSessionPayload || length != bytes.size() - kSessionHeaderSize - kSessionMacSize)
    return Unexpected{SessionDatagramError::BadLength};
  SessionDatagram d;
  d.flags = bytes[3];
  d.session_id = load_be64(bytes.data() + 4);
  d.sequence = load_be64(bytes.data() + 12);
  if (d.session_id != session_id) return Unexpected{SessionDatagramError::WrongSession};
  const auto expected = mac(bytes.first(kSessionHeaderSize + length), keys.receiving());
  if (sodium_memcmp(expected.data(), bytes.data() + kSessionHeaderSize + length, kSessionMacSize) != 0)
    return Unexpected{SessionDatagramError::BadMac};
  d.payload.assign(bytes.begin() + kSessionHeaderSize, bytes.begin() + static_cast<std::ptrdiff_t>(kSessionHeaderSize + length));
  return d;
}

const char* to_string(SessionControlError error) {
  switch (error) {
    case SessionControlError::Empty: return "empty control message";
    case SessionControlError::UnknownType: return "unknown control type";
    case SessionControlError::BadLength: return "bad control length";
    case SessionControlError::BadEndpoint: return "bad endpoint in control message";
  }
  return "unknown";
}

namespace {

constexpr std::size_t kEndpointV4Size = 1 + 4 + 2;
constexpr std::size_t kEndpointV6Size = 1 + 16 + 2;

void put_endpoint(std::vector<std::uint8_t>& out, const std::optional<Endpoint>& endpoint) {
  if (!endpoint) return;
  const IpAddress& a = endpoint->address;
  out.push_back(a.is_v4() ? 4 : 6);
  out.insert(out.end(), a.data(), a.data() + a.size());
  ByteWriter(out).u16(endpoint->port);
}

// `bytes` is exactly the endpoint's encoding (the caller checked that some
// endpoint form fits); empty means none.
Result<std::optional<Endpoint>, SessionControlError> get_endpoint(std::span<const std::uint8_t> bytes) {
  if (bytes.empty()) return std::optional<Endpoint>{};
  Endpoint e;
  if (bytes[0] == 4 && bytes.size() == kEndpointV4Size) {
    e.address = IpAddress::v4({bytes[1], bytes[2], bytes[3], bytes[4]});
  } else if (bytes[0] == 6 && bytes.size() == kEndpointV6Size) {
    std::array<std::uint8_t, 16> octets{};
    std::copy_n(bytes.begin() + 1, 16, octets.begin());
    e.address = IpAddress::v6(octets);
  } else {
    return Unexpected{SessionControlError::BadEndpoint};
  }
  e.port = load_be16(bytes.data() + bytes.size() - 2);
  return std::optional<Endpoint>{e};
}

bool endpoint_size(std::size_t size) { return size == 0 || size == kEndpointV4Size || size == kEndpointV6Size; }

}  // namespace

std::vector<std::uint8_t> encode(const SessionControl& control) {
  std::vector<std::uint8_t> out{static_cast<std::uint8_t>(control.type)};
  switch (control.type) {
    case ControlType::Keepalive:
    case ControlType::KeepaliveReply:
    case ControlType::PathChallenge:
    case ControlType::PathResponse:
      out.resize(1 + 8);
      store_be64(out.data() + 1, control.echo);
      break;
    case ControlType::Repunch:
      out.resize(1 + 8);
      store_be32(out.data() + 1, control.epoch);
      store_be32(out.data() + 5, control.lead_ms);
      put_endpoint(out, control.endpoint);
      break;
    case ControlType::RepunchAck:
      out.resize(1 + 4);
      store_be32(out.data() + 1, control.epoch);
      put_endpoint(out, control.endpoint);
      break;
    case ControlType::Close: break;
    case ControlType::RelayCandidate: put_endpoint(out, control.endpoint); break;
  }
  return out;
}

Result<SessionControl, SessionControlError> decode_session_control(std::span<const std::uint8_t> bytes) {
  if (bytes.empty()) return Unexpected{SessionControlError::Empty};
  SessionControl c;
  const auto body = bytes.subspan(1);
  switch (bytes[0]) {
    case static_cast<std::uint8_t>(ControlType::Keepalive):
    case static_cast<std::uint8_t>(ControlType::KeepaliveReply):
    case static_cast<std::uint8_t>(ControlType::PathChallenge):
    case static_cast<std::uint8_t>(ControlType::PathResponse):
      if (body.size() != 8) return Unexpected{SessionControlError::BadLength};
      c.type = static_cast<ControlType>(bytes[0]);
      c.echo = load_be64(body.data());
      return c;
    case static_cast<std::uint8_t>(ControlType::Repunch):
    case static_cast<std::uint8_t>(ControlType::RepunchAck): {
      const bool repunch = bytes[0] == static_cast<std::uint8_t>(ControlType::Repunch);
      const std::size_t fixed = repunch ? 8 : 4;
      if (body.size() < fixed || !endpoint_size(body.size() - fixed)) return Unexpected{SessionControlError::BadLength};
      auto endpoint = get_endpoint(body.subspan(fixed));
      if (!endpoint) return Unexpected{endpoint.error()};
      c.type = static_cast<ControlType>(bytes[0]);
      c.epoch = load_be32(body.data());
      if (repunch) c.lead_ms = load_be32(body.data() + 4);
      c.endpoint = endpoint.value();
      return c;
    }
    case static_cast<std::uint8_t>(ControlType::Close):
      if (!body.empty()) return Unexpected{SessionControlError::BadLength};
      c.type = ControlType::Close;
      return c;
    case static_cast<std::uint8_t>(ControlType::RelayCandidate): {
      if (body.empty() || !endpoint_size(body.size())) return Unexpected{SessionControlError::BadLength};
      auto endpoint = get_endpoint(body);
      if (!endpoint) return Unexpected{endpoint.error()};
      c.type = ControlType::RelayCandidate;
      c.endpoint = endpoint.value();
      return c;
    }
    default: return Unexpected{SessionControlError::UnknownType};
  }
}

}  // namespace natpunch::wire
