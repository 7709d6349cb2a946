#pragma once
// Application data between two connected peers on the direct path,
// authenticated under the session key the rendezvous handed both sides, so
// a stranger who learns the punched endpoints cannot inject data. (Relayed
// data is authenticated by the rendezvous channel instead.) Integrity only,
// no encryption yet. The same bytes travel inside the relay channel when
// the direct path is not available, so one sequence space covers both.
//
// Each direction has its own MAC key, derived from the session key with
// the sender's role (caller -> callee, callee -> caller), so a datagram
// bounced back to its sender never opens there: with one key for both
// directions, and both sides numbering from 1, a reflected datagram was
// delivered as the peer's and the peer's own with that number then
// dropped as a duplicate (issue 23).
//
// Layout (network byte order), 24 + payload + 16 bytes:
//   0  'N' 'D'          magic (probes are 'N' 'P', so both share a socket)
//   2  version (2)
//   3  flags            bit 7: session control (keepalive, keepalive reply,
//                       re-punch, close; payload = SessionControl below),
//                       with its own sequence space; bits 0-1: free for the
//                       application (kFlagGotYours / kFlagEnd, kept for
//                       compatibility; the CLI now frames its own flags)
//   4  session id       64 bits
//   12 sequence         64 bits, the sender's counter (one for data, one for
//                       control); the receiver accepts each number once
//                       within a sliding window (replays, and a datagram
//                       seen on both the direct path and the relay)
//   20 payload length   32 bits (<= kMaxSessionPayload)
//   24 payload
//   .. MAC              16 bytes: keyed BLAKE2b-128 of everything before
//                       it, keyed with the sender's direction key =
//                       BLAKE2b-256(key = session key, "natpunch data v2
//                       caller->callee" or "... callee->caller")
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/endpoint.hpp"
#include "core/result.hpp"
#include "wire/probe.hpp"

namespace natpunch::wire {

inline constexpr std::size_t kSessionHeaderSize = 24;
inline constexpr std::size_t kSessionMacSize = 16;
inline constexpr std::size_t kMaxSessionPayload = 1200;
inline constexpr std::uint8_t kSessionVersion = 2;
inline constexpr std::uint8_t kFlagGotYours = 1;
inline constexpr std::uint8_t kFlagEnd = 2;
inline constexpr std::uint8_t kFlagControl = 0x80;

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

// The two direction keys of a session (see the layout above), derived
// once per session: one seals what `own` sends, the other opens what the
// peer sends.
class SessionDatagramKeys {
 public:
  SessionDatagramKeys(const SessionKey& key, SessionRole own);
  const SessionKey& sending() const { return sending_; }
  const SessionKey& receiving() const { return receiving_; }
  SessionRole own() const { return own_; }

 private:
  SessionRole own_;
  SessionKey sending_{};
  SessionKey receiving_{};
};

// Sealed in `keys`' own direction; payloads longer than kMaxSessionPayload
// are cut to it.
std::vector<std::uint8_t> encode(const SessionDatagram& datagram, const SessionDatagramKeys& keys);
// Checks everything, MAC last (constant-time) in the peer's direction (our
// own datagram is BadMac). Never reads outside `bytes`.
Result<SessionDatagram, SessionDatagramError> decode_session_datagram(std::span<const std::uint8_t> bytes,
                                                                     std::uint64_t session_id,
                                                                     const SessionDatagramKeys& keys);

// The payload of a datagram with kFlagControl: what the two Session ends
// tell each other to keep the direct path alive and to re-punch it.
//   [type 1] then by type:
//   1 keepalive        [echo u64]   the sender's clock (for its RTT)
//   2 keepalive reply  [echo u64]   the keepalive's echo, returned
//   3 repunch          [epoch u32][lead_ms u32][endpoint?]  "the direct path
//                      died: punch again lead_ms after this arrives"; epoch
//                      counts re-punches so a late or repeated proposal is
//                      ignored
//   4 close            (nothing)    the sender closed the session
//   5 repunch ack      [epoch u32][endpoint?]  "I follow re-punch `epoch`"
//   6 path challenge   [token u64]  sent on a path the peer's datagrams came
//                      by that is not ours yet: "prove you are there"
//   7 path response    [token u64]  the challenge's token, returned on the
//                      path it came by (answered only once: the replay
//                      window drops a copy)
//  32 relay candidate  [endpoint]   the sender's TURN relayed address
//                      (session/turn_route.hpp): "bind a channel to it";
//                      sent over the rendezvous relay until the peer is
//                      heard through TURN, and through TURN as a probe.
//                      The endpoint is required.
// endpoint: where the rendezvous server saw the sender just now (its NAT may
// have rebound to a new external port since the first punch), so the peer
// aims the re-punch there:
//   [family u8: 4 | 6][address: 4 | 16 bytes][port u16]
// It is optional (absent: aim where the peer was last seen; a body of only
// the fixed fields is what version-1 senders before it sent). Anything
// else -- another family, a length that fits no form -- is rejected.
enum class ControlType : std::uint8_t {
  Keepalive = 1,
  KeepaliveReply = 2,
  Repunch = 3,
  Close = 4,
  RepunchAck = 5,
  PathChallenge = 6,
  PathResponse = 7,
  // Relay-route messages number from 32 (room for path messages below).
  RelayCandidate = 32,
};
struct SessionControl {
  ControlType type = ControlType::Keepalive;
  std::uint64_t echo = 0;      // Keepalive, KeepaliveReply; the token of PathChallenge, PathResponse
  std::uint32_t epoch = 0;     // Repunch, RepunchAck
  std::uint32_t lead_ms = 0;   // Repunch
  std::optional<Endpoint> endpoint;  // Repunch, RepunchAck: the sender's current public endpoint;
                                     // RelayCandidate: its relayed address (always there)
  bool operator==(const SessionControl&) const = default;
};
enum class SessionControlError : std::uint8_t {
  Empty,        // no type byte
  UnknownType,  // a type this version does not know
  BadLength,    // the body's size does not fit the type
  BadEndpoint,  // an endpoint of an unknown family, or whose size disagrees with its family
};
const char* to_string(SessionControlError error);
std::vector<std::uint8_t> encode(const SessionControl& control);
Result<SessionControl, SessionControlError> decode_session_control(std::span<const std::uint8_t> bytes);

}  // namespace natpunch::wire
