#pragma once
// Application data between two connected peers on the direct path,
// authenticated under the session key the rendezvous handed both sides, so
// a stranger who learns the punched endpoints cannot inject data. (Relayed
// data is authenticated by the rendezvous channel instead.) Integrity only,
// no encryption yet: that belongs with the library Session (issue 5).
//
// Layout (network byte order), 24 + payload + 16 bytes:
//   0  'N' 'D'          magic (probes are 'N' 'P', so both share a socket)
//   2  version (1)
//   3  flags            bit 0: the sender has received our test datagram
//                       bit 1: end of stream (the sender's input ended)
//   4  session id       64 bits
//   12 sequence         64 bits, the sender's counter; the receiver drops
//                       anything not newer than the last it accepted
//   20 payload length   32 bits (<= kMaxSessionPayload)
//   24 payload
//   .. MAC              16 bytes: keyed BLAKE2b-128 (key = session key) of
//                       everything before it, domain "natpunch data v1"
#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "core/result.hpp"
#include "wire/probe.hpp"

namespace natpunch::wire {

inline constexpr std::size_t kSessionHeaderSize = 24;
inline constexpr std::size_t kSessionMacSize = 16;
inline constexpr std::size_t kMaxSessionPayload = 1200;
inline constexpr std::uint8_t kSessionVersion = 1;
inline constexpr std::uint8_t kFlagGotYours = 1;
inline constexpr std::uint8_t kFlagEnd = 2;

struct SessionDatagram {
  std::uint8_t flags = 0;
  std::uint64_t session_id = 0;
  std::uint64_t sequence = 0;
  std::vector<std::uint8_t> payload;
  bool operator==(const SessionDatagram&) const = default;
};

enum class SessionDatagramError : std::uint8_t {
  TooShort,       // shorter than header + MAC
  BadMagic,       // not 'N' 'D'
  BadVersion,     // another version of the format
  BadLength,      // payload length disagrees with the datagram size, or too long
  WrongSession,   // another session id
  BadMac,         // not made with this session key
};
const char* to_string(SessionDatagramError error);

// True when `bytes` starts like a session datagram (cheap dispatch on a shared socket).
bool looks_like_session_datagram(std::span<const std::uint8_t> bytes);

// Payloads longer than kMaxSessionPayload are cut to it.
std::vector<std::uint8_t> encode(const SessionDatagram& datagram, const SessionKey& key);
// Checks everything, MAC last (constant-time). Never reads outside `bytes`.
Result<SessionDatagram, SessionDatagramError> decode_session_datagram(std::span<const std::uint8_t> bytes,
                                                                     std::uint64_t session_id,
                                                                     const SessionKey& key);

}  // namespace natpunch::wire
