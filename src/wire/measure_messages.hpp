#pragma once
// The measurement protocol between `natpunch measure ...` clients and
// `natpunch measure-server` (thesis Sections III-B, III-D, III-E).
//
// Every datagram starts with an 8-byte header (network byte order):
//   0  'N' 'M'      magic: stray traffic (and STUN, probes) is rejected cheaply
//   2  version (1)
//   3  kind
//   4  request id   32 bits chosen by the client; replies echo it
//
// Requests (client -> server). All but SizeEcho are exactly kRequestSize
// bytes, unused bytes zero, so that every reply (at most kRequestSize bytes)
// is never larger than the request that caused it: the server cannot be used
// as an amplifier.
//   Reflect          reply now with the observed source endpoint
//   Cookie           reply now with a cookie: proof that the client
//                    receives at its address, which DelayedReflect and
//                    ScheduleProbe must carry (a forger of someone else's
//                    address cannot schedule packets to it). Ask on a
//                    control socket: the cookie is good for every socket of
//                    the address, and the probe sockets' mappings see no
//                    inbound packet before their test.
//   DelayedReflect   reply with the observed endpoint `delay_ms` after
//                    receipt (pending-timeout test: does the reply still get
//                    through the mapping that has seen no inbound packet?)
//                      8  delay_ms u32
//                      16 cookie (16 bytes)
//   ScheduleProbe    send one packet to the endpoint this request came from,
//                    `delay_ms` after receipt, without any further request
//                    (idle-timeout test: the mapping is kept by nothing but
//                    its timer, so a port-preserving NAT that would hand out
//                    the same port to a new mapping cannot fake a live one)
//                      8  delay_ms u32
//                      12 flags u8: bit 0 = send from another server port
//                         (tests filtering, not the timeout)
//                      16 cookie (16 bytes)
//   SizeEcho         "how many bytes arrived?" for the MTU search; any
//                    length from kRequestSize to kMaxDatagram, padding free
//   Collect          a mapping-collection packet; the server logs it and
//                    does not reply
//                      8  uuid (16 bytes)
//                      24 client send time, ms since the Unix epoch, u64
//
// Replies (server -> client):
//   Reflection       kReflectionSize bytes
//                      8  kind of the request answered (u8)
//                      9  address family (4 or 6)
//                      10 observed source port u16
//                      12 port the request arrived on u16
//                      14 zero u16
//                      16 observed source address (IPv4: 4 bytes + 12 zero)
//   SizeReport       kSizeReportSize bytes
//                      8  bytes received (UDP payload) u32
//   CookieGrant      kCookieGrantSize bytes
//                      8  cookie (16 bytes, opaque to the client)
//                      24 seconds it stays valid u32
//   Refusal          kRefusalSize bytes: a delayed request the server will
//                    not schedule (so the client does not take the silence
//                    for a timed-out mapping)
//                      8  kind of the request refused (u8)
//                      9  reason (u8, RefusalReason)
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <variant>
#include <vector>

#include "core/endpoint.hpp"
#include "core/result.hpp"

namespace natpunch::wire {

inline constexpr std::size_t kMeasureHeaderSize = 8;
inline constexpr std::size_t kRequestSize = 32;
inline constexpr std::size_t kReflectionSize = 32;
inline constexpr std::size_t kSizeReportSize = 12;
inline constexpr std::size_t kCookieGrantSize = 32;
inline constexpr std::size_t kRefusalSize = 12;
inline constexpr std::size_t kMeasureCookieSize = 16;
// Largest UDP payload over IPv4 (65,535 - 20 - 8).
inline constexpr std::size_t kMaxDatagram = 65507;
inline constexpr std::uint8_t kMeasureVersion = 1;
// 24 hours: longer delays are not a timeout anyone measures.
inline constexpr std::uint32_t kMaxDelayMs = 86'400'000;

enum class MeasureKind : std::uint8_t {
  Reflect = 1,
  DelayedReflect = 2,
  ScheduleProbe = 3,
  SizeEcho = 4,
  Collect = 5,
  Cookie = 6,
  Reflection = 0x81,
  SizeReport = 0x84,
  CookieGrant = 0x86,
  Refusal = 0x88,
};

std::string_view to_string(MeasureKind kind);

using Uuid = std::array<std::uint8_t, 16>;
using MeasureCookie = std::array<std::uint8_t, kMeasureCookieSize>;

struct ReflectRequest {
  std::uint32_t id = 0;
  bool operator==(const ReflectRequest&) const = default;
};
struct CookieRequest {
  std::uint32_t id = 0;
  bool operator==(const CookieRequest&) const = default;
};
struct DelayedReflectRequest {
  std::uint32_t id = 0;
  std::uint32_t delay_ms = 0;
  MeasureCookie cookie{};
  bool operator==(const DelayedReflectRequest&) const = default;
};
struct ScheduleProbeRequest {
  std::uint32_t id = 0;
  std::uint32_t delay_ms = 0;
  bool from_other_port = false;
  MeasureCookie cookie{};
  bool operator==(const ScheduleProbeRequest&) const = default;
};
struct SizeEchoRequest {
  std::uint32_t id = 0;
  std::size_t length = 0;  // the whole datagram's length
  bool operator==(const SizeEchoRequest&) const = default;
};
struct CollectPacket {
  std::uint32_t id = 0;
  Uuid uuid{};
  std::uint64_t send_time_ms = 0;
  bool operator==(const CollectPacket&) const = default;
};
struct Reflection {
  std::uint32_t id = 0;
  MeasureKind answered = MeasureKind::Reflect;
  Endpoint observed;
  std::uint16_t received_on_port = 0;
  bool operator==(const Reflection&) const = default;
};
struct SizeReport {
  std::uint32_t id = 0;
  std::uint32_t received = 0;
  bool operator==(const SizeReport&) const = default;
};
struct CookieGrant {
  std::uint32_t id = 0;
  MeasureCookie cookie{};
  std::uint32_t valid_s = 0;
  bool operator==(const CookieGrant&) const = default;
};
enum class RefusalReason : std::uint8_t {
  NeedCookie = 1,     // no cookie, an expired one, or one for another address: ask for one
  QueueShareFull = 2, // the address or its network holds its share of the queue: later
  DelayTooLong = 3,   // above the server's --max-delay
  TooManyAtOnce = 4,  // too many deliveries to this address due within that second
};
inline constexpr std::uint8_t kMaxRefusalReason = 4;
struct Refusal {
  std::uint32_t id = 0;
  MeasureKind refused = MeasureKind::DelayedReflect;
  RefusalReason reason = RefusalReason::NeedCookie;
  bool operator==(const Refusal&) const = default;
};
std::string_view to_string(RefusalReason reason);

using MeasureMessage = std::variant<ReflectRequest, DelayedReflectRequest, ScheduleProbeRequest, SizeEchoRequest,
                                    CollectPacket, Reflection, SizeReport, CookieRequest, CookieGrant, Refusal>;

enum class MeasureDecodeError : std::uint8_t {
  TooShort,          // shorter than the header
  BadMagic,          // not 'N' 'M'
  BadVersion,        // a version this build does not speak
  UnknownKind,       // kind byte names no message
  BadLength,         // wrong length for the kind (fixed-size kinds, or SizeEcho out of range)
  NonZeroReserved,   // a reserved or padding byte is not zero
  DelayOutOfRange,   // delay above kMaxDelayMs
  UnknownFlags,      // ScheduleProbe flag bits this build does not know
  BadFamily,         // Reflection's family is neither 4 nor 6
  BadAnsweredKind,   // Reflection answers something that is not a reflect-type request
  BadRefusal,        // Refusal of a kind that is never refused, or an unknown reason
};

std::string_view to_string(MeasureDecodeError error);

// Strict: never reads past `bytes`, never throws, one error per failure.
Result<MeasureMessage, MeasureDecodeError> decode_measure(std::span<const std::uint8_t> bytes);

// Encoders. Fixed-size messages fit an array; SizeEcho needs `length`
// (clamped to [kRequestSize, kMaxDatagram]) bytes.
using RequestBytes = std::array<std::uint8_t, kRequestSize>;
RequestBytes encode(const ReflectRequest& m);
RequestBytes encode(const DelayedReflectRequest& m);
RequestBytes encode(const ScheduleProbeRequest& m);
RequestBytes encode(const CollectPacket& m);
RequestBytes encode(const CookieRequest& m);
std::vector<std::uint8_t> encode(const SizeEchoRequest& m);
std::array<std::uint8_t, kReflectionSize> encode(const Reflection& m);
std::array<std::uint8_t, kSizeReportSize> encode(const SizeReport& m);
std::array<std::uint8_t, kCookieGrantSize> encode(const CookieGrant& m);
std::array<std::uint8_t, kRefusalSize> encode(const Refusal& m);

// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", lower-case hex.
std::string uuid_text(const Uuid& uuid);

}  // namespace natpunch::wire
