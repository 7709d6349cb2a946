#pragma once
// The rendezvous wire protocol: compact binary datagrams between a client
// and the rendezvous/relay server.
//
// Every datagram starts with a 4-byte header:
//   0  'N' 'R'   magic (distinct from probes' 'N' 'P' and from STUN, whose
//                first two bits are zero), so stray traffic is dropped cheaply
//   2  version   (2: the puzzle and path validation of issue 23; 3: the
//                Prove's key share, issue 21)
//   3  type      MessageType
//
// Registration is a 3-way handshake that proves ownership of an Ed25519 key:
//   Register  (client -> server, unauthenticated, padded so the reply is
//              never larger than the request)
//   Challenge (server -> client: a stateless cookie bound to the key, the
//              source endpoint, the time and a puzzle difficulty, plus the
//              server's X25519 key)
//   Prove     (client -> server: the cookie, the puzzle's difficulty and
//              solution (see crypto.hpp; difficulty 0 = no puzzle: the
//              server asks new identities for one only when its
//              registration table is filling up), flags (bit 0: this
//              registration listens, i.e. may be offered incoming
//              requests; bit 1: single session, see server.hpp; the other
//              bits must be zero), a client-chosen
//              instance id (u64) naming the registration among the
//              identity's others, the client's NAT info, a fresh X25519
//              key share, and an Ed25519 signature over all of it and the
//              server's key).
// One identity may hold several registrations at once (one per socket: a
// listener serving many callers, the same key connecting elsewhere), each
// with its own keys; a Prove for an instance the identity already holds
// replaces that registration (re-registration). Unregister (authenticated,
// never answered) ends one early.
// A replayed Prove fails: its cookie expires after a few seconds, is bound
// to the source endpoint, is good for one Prove, and the server accepts a
// cookie only if it is newer than the last one that identity's instance
// used.
//
// Path validation: the server sends to a registration's endpoint only once
// the client proved it receives there. An authenticated message from a new
// endpoint (NAT rebinding, a move) is processed, but answered at the old
// endpoint; the new one gets a PathChallenge (unauthenticated, 12 bytes:
// smaller than any authenticated request) with a random token, and the
// client's PathResponse (authenticated) from that endpoint moves the
// registration there.
//
// Both sides then derive per-registration keys (X25519 between the client's
// key share and the server's key; see crypto.hpp). Every
// later message is *authenticated*: after the header come
//   4  registration id  (u64, chosen by the server)
//   12 sequence         (u64, per direction, checked by a replay window)
// then the body, then a 16-byte MAC over everything before it. The session
// key inside SessionInfo is additionally encrypted.
//
// Decoding is strict: every field must be in range, nothing may follow the
// last field, padding must be zero. decode() checks structure only; the MAC
// is checked by the receiver, which knows the key (crypto.hpp).
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/endpoint.hpp"
#include "core/result.hpp"
#include "nat/allocator_spec.hpp"
#include "nat/nat_behavior.hpp"

namespace natpunch {
class ByteReader;
class ByteWriter;
}  // namespace natpunch

namespace natpunch::rendezvous {

inline constexpr std::uint8_t kMagic0 = 'N';
inline constexpr std::uint8_t kMagic1 = 'R';
inline constexpr std::uint8_t kVersion = 3;
inline constexpr std::size_t kHeaderSize = 4;
inline constexpr std::size_t kAuthHeaderSize = 16;  // registration id + sequence
inline constexpr std::size_t kTagSize = 16;
inline constexpr std::size_t kKeySize = 32;
inline constexpr std::size_t kNonceSize = 16;
inline constexpr std::size_t kCookieSize = 16;
inline constexpr std::size_t kSignatureSize = 64;
inline constexpr std::size_t kMaxLocalEndpoints = 8;
inline constexpr std::size_t kMaxProfileName = 64;
inline constexpr std::size_t kMaxRelayPayload = 1200;
// Register is padded to this size so that the Challenge (77 bytes) is never
// larger than the request that caused it.
inline constexpr std::size_t kRegisterPaddedSize = 96;
// Nothing the protocol sends is larger than this.
inline constexpr std::size_t kMaxMessageSize = 1400;
// TurnServers: at most this many servers, and these text lengths (with 4
// servers of the longest the message stays under kMaxMessageSize).
inline constexpr std::size_t kMaxTurnServers = 4;
inline constexpr std::size_t kMaxTurnName = 64;
inline constexpr std::size_t kMaxTurnUsername = 128;
inline constexpr std::size_t kMaxTurnPassword = 64;

using PublicKey = std::array<std::uint8_t, 32>;
using Key = std::array<std::uint8_t, kKeySize>;
using Nonce = std::array<std::uint8_t, kNonceSize>;
using Cookie = std::array<std::uint8_t, kCookieSize>;
using Signature = std::array<std::uint8_t, kSignatureSize>;
using Tag = std::array<std::uint8_t, kTagSize>;

enum class MessageType : std::uint8_t {
  Register = 1,
  Challenge = 2,
  Prove = 3,
  Registered = 4,
  Refresh = 5,
  Keepalive = 6,
  ConnectRequest = 7,
  IncomingRequest = 8,
  Accept = 9,
  Reject = 10,
  SessionInfo = 11,
  RelayData = 12,
  Error = 13,
  Refused = 14,
  Unregister = 15,
  PathChallenge = 16,
  PathResponse = 17,
  TurnServers = 18,
  RelayResume = 19,
  RelayResumed = 20,
};

// What a peer tells the server about itself; the other side of a session
// receives it to choose a punching strategy.
//
// Wire layout (in Prove and SessionInfo):
//   u8 mapping, u8 filtering, u8 name length + name, u32 pending timeout ms,
//   u32 idle timeout ms, allocator, u8 endpoint count + endpoints, u8 flags
// where flags bit 0 says "relay only: I will not punch", bit 1 "my IPv6
// reflexive endpoint follows" (an IPv6 endpoint after the flags: the srflx
// IPv6 candidate), the other bits must be zero
// where the allocator is a u8 kind (0 unknown, 1 preserving, 2 sequential,
// 3 uniform, 4 random, 5 block, 6 beta, 7 window) followed by that kind's
// parameters:
//   preserving/sequential/uniform  u16 min, u16 max
//   random                         nothing
//   block                          u32 block_size, u16 min, u16 max
//   beta                           f64 alpha, beta, loc, scale (IEEE 754
//                                  binary64 bits, big-endian)
//   window (locality, nat::WindowSpec)
//                                  u8 placement kind (3 or 6) + its
//                                  parameters as above, u32 window size,
//                                  u32 offset, u8 order (0 in order,
//                                  1 random), u8 reset (1 hold: u32 ms;
//                                  2 mappings: u32 count; not 0)
// Kind 7 was added later; the encodings of kinds 0-6 did not change. Every
// value must pass nat::validate() (a peer builds
// port choosers from it). A block allocator's background subscribers
// describe other phones the *simulator* puts on the NAT, not the NAT
// itself: they are not sent and decode as the defaults. A trace allocator
// replays a file the peer cannot read: it is sent as unknown.
struct NatInfo {
  nat::MappingBehavior mapping = nat::MappingBehavior::Unknown;
  nat::FilteringBehavior filtering = nat::FilteringBehavior::Unknown;
  std::string carrier_profile;       // e.g. "kpn-nl"; empty = unknown. Printable ASCII, <= 64.
  std::uint32_t pending_timeout_ms = 0;  // 0 = not measured
  std::uint32_t idle_timeout_ms = 0;     // 0 = not measured
  std::vector<Endpoint> local_endpoints;  // <= kMaxLocalEndpoints, port != 0
  // The NAT's port allocator (carrier profile or `natpunch analyze`);
  // nullopt = unknown. Lets the peer predict and order its probes.
  std::optional<nat::AllocatorSpec> allocator;
  // This peer will not punch (connect/listen --force-relay): the other side
  // learns it in SessionInfo and goes to the relay at once too.
  bool relay_only = false;
  // Our IPv6 address and port as the rendezvous's IPv6 side saw them (a
  // Binding from our IPv6 socket while registered over IPv4): the srflx
  // IPv6 candidate. Equal to a host candidate where there is no NAT66.
  std::optional<Endpoint> reflexive_v6;
  bool operator==(const NatInfo&) const = default;
};
inline constexpr std::uint8_t kNatInfoRelayOnly = 0x01;  // NatInfo flags on the wire
inline constexpr std::uint8_t kNatInfoReflexiveV6 = 0x02;  // followed by an IPv6 endpoint

struct AuthHeader {
  std::uint64_t registration_id = 0;
  std::uint64_t sequence = 0;
  Tag tag{};
  bool operator==(const AuthHeader&) const = default;
};

struct Register {
  PublicKey identity{};
  Nonce client_nonce{};
  std::uint16_t padding = kRegisterPaddedSize - (kHeaderSize + 32 + kNonceSize + 2);
  bool operator==(const Register&) const = default;
};
// Puzzle difficulties above this are refused by the decoder (2^24 hashes
// is already seconds of a phone's CPU).
inline constexpr std::uint8_t kMaxPuzzleBits = 24;
struct Challenge {
  Nonce client_nonce{};
  std::uint64_t issued_at_ms = 0;  // server clock, only meaningful to the server
  Cookie cookie{};
  PublicKey server_key{};  // X25519
  std::uint8_t puzzle_bits = 0;  // leading zero bits the Prove's solution must produce; 0: none
  bool operator==(const Challenge&) const = default;
};
inline constexpr std::uint8_t kProveListening = 0x01;      // Prove.flags: may receive IncomingRequests
inline constexpr std::uint8_t kProveSingleSession = 0x02;  // at most one request at a time, none after an accept
inline constexpr std::uint8_t kProveFlagsMask = kProveListening | kProveSingleSession;
struct Prove {
  PublicKey identity{};
  Nonce client_nonce{};
  std::uint64_t issued_at_ms = 0;
  Cookie cookie{};
  std::uint8_t puzzle_bits = 0;  // the Challenge's (the cookie covers it)
  std::uint64_t puzzle_solution = 0;
  std::uint8_t flags = kProveListening;
  std::uint64_t instance = 0;  // the client's name for this registration
  NatInfo info;
  PublicKey key_share{};  // the client's X25519 key for this registration's keys
  Signature signature{};
  bool operator==(const Prove&) const = default;
};
struct Registered {
  AuthHeader auth;
  Endpoint observed;  // the client's public endpoint as the server sees it
  std::uint32_t refresh_interval_ms = 0;
  std::uint32_t lifetime_ms = 0;
  bool operator==(const Registered&) const = default;
};
struct Refresh {
  AuthHeader auth;
  bool operator==(const Refresh&) const = default;
};
// Keeps the NAT mapping towards the server open; never answered.
struct Keepalive {
  AuthHeader auth;
  bool operator==(const Keepalive&) const = default;
};
// Ends this registration (the client is closing its socket); never answered.
struct Unregister {
  AuthHeader auth;
  bool operator==(const Unregister&) const = default;
};
// "Do you receive here?": sent (unauthenticated) to an endpoint an
// authenticated message came from that the registration has not proved.
struct PathChallenge {
  std::uint64_t token = 0;
  bool operator==(const PathChallenge&) const = default;
};
// The answer, sent from the endpoint the challenge reached.
struct PathResponse {
  AuthHeader auth;
  std::uint64_t token = 0;
  bool operator==(const PathResponse&) const = default;
};
// TURN relays (RFC 8656) the client may use, each with short-lived
// credentials in the TURN REST API form (username "EXPIRY:ID", password
// base64(HMAC-SHA1(secret, username)), which coturn's use-auth-secret
// checks). Sent after Registered when the server is configured with TURN
// servers, and again as the credentials age. The passwords travel
// encrypted under the registration's seal key (ChaCha20, nonce = this
// message's sequence, one keystream over all passwords in order).
//
// Wire layout: u32 valid_for_s, u8 count (1..kMaxTurnServers), then per
// server: u8 transports (kTurnUdp | kTurnTcp | kTurnTls, at least one),
// endpoint (UDP and TCP port), u16 tls_port (non-zero exactly when kTurnTls),
// u8 length + name (printable ASCII, may be empty), u8 length + username
// (printable ASCII, 1..kMaxTurnUsername), u8 length + password
// (1..kMaxTurnPassword bytes, encrypted).
inline constexpr std::uint8_t kTurnUdp = 0x01;
inline constexpr std::uint8_t kTurnTcp = 0x02;
inline constexpr std::uint8_t kTurnTls = 0x04;
inline constexpr std::uint8_t kTurnTransportsMask = kTurnUdp | kTurnTcp | kTurnTls;
struct TurnServer {
  Endpoint address;               // UDP and TCP
  std::uint8_t transports = kTurnUdp;
  std::uint16_t tls_port = 0;     // when kTurnTls
  std::string name;               // the name its TLS certificate carries; empty: the address
  std::string username;
  std::string password;           // encrypted on the wire
  bool operator==(const TurnServer&) const = default;
};
struct TurnServers {
  AuthHeader auth;
  std::uint32_t valid_for_s = 0;  // the credentials' remaining lifetime when sent
  std::vector<TurnServer> servers;
  bool operator==(const TurnServers&) const = default;
};
struct ConnectRequest {
  AuthHeader auth;
  std::uint32_t request_id = 0;  // the caller's, echoed in SessionInfo / Error
  PublicKey peer{};
  bool operator==(const ConnectRequest&) const = default;
};
// Tells the callee who wants a session; never any endpoint.
struct IncomingRequest {
  AuthHeader auth;
  std::uint64_t invitation_id = 0;  // the server's, echoed in Accept / Reject
  PublicKey caller{};
  bool operator==(const IncomingRequest&) const = default;
};
struct Accept {
  AuthHeader auth;
  std::uint64_t invitation_id = 0;
  bool operator==(const Accept&) const = default;
};
struct Reject {
  AuthHeader auth;
  std::uint64_t invitation_id = 0;
  bool operator==(const Reject&) const = default;
};

enum class Role : std::uint8_t { Caller = 1, Callee = 2 };

struct SessionInfo {
  AuthHeader auth;
  std::uint64_t session_id = 0;
  Key sealed_session_key{};  // encrypted under the registration's seal key
  // Both peers start punching this long after the datagram was sent, so
  // their clocks never need to agree.
  std::uint32_t start_delay_ms = 0;
  Role role = Role::Caller;
  std::uint64_t correlation_id = 0;  // caller: its request id; callee: the invitation id
  PublicKey peer{};
  Endpoint peer_observed;
  NatInfo peer_info;
  bool operator==(const SessionInfo&) const = default;
};
struct RelayData {
  AuthHeader auth;
  std::uint64_t session_id = 0;
  std::vector<std::uint8_t> payload;  // <= kMaxRelayPayload
  bool operator==(const RelayData&) const = default;
};
// Relay handover (issue 21): a client that registered again -- its node
// died, or restarted -- asks for its session's relay through the node it
// is at now. `token` (crypto.hpp relay_resume_token: from the session key)
// proves it is a party to the session; the server pairs it with the
// peer's half (the peer's own RelayResume, or the peer's node's on its
// behalf) and answers RelayResumed once the relay runs again.
struct RelayResume {
  AuthHeader auth;
  std::uint64_t session_id = 0;
  PublicKey peer{};
  Key token{};
  bool operator==(const RelayResume&) const = default;
};
struct RelayResumed {
  AuthHeader auth;
  std::uint64_t session_id = 0;
  bool operator==(const RelayResumed&) const = default;
};

enum class ErrorCode : std::uint8_t {
  UnknownPeer = 1,         // connect to an identity that is not registered
  NotRegistered = 2,       // the server has no registration for this id (restarted?)
  Rejected = 3,            // the callee said no
  RateLimited = 4,
  TooLarge = 5,            // relay payload over the limit
  ServerFull = 6,          // registration or session table full
  TooManyPending = 7,      // too many unanswered connect requests
  ChallengeExpired = 8,    // Prove with an old, reused or foreign cookie
  NoSuchSession = 9,       // relay data for a session the sender is not in
  RelayQuotaExceeded = 10, // the session used its relay byte budget
  Timeout = 11,            // the callee never answered
  UnknownRequest = 12,     // Accept/Reject of an invitation that does not exist
  TooManyRegistrations = 13,  // the identity holds the most registrations the server allows
  SourceFull = 14,            // the sender's address or network holds its share of the registration table
};
inline constexpr std::uint8_t kMaxErrorCode = 14;

struct Error {
  AuthHeader auth;
  ErrorCode code = ErrorCode::NotRegistered;
  std::uint64_t correlation_id = 0;  // request id / invitation id / session id it refers to
  bool operator==(const Error&) const = default;
};
// The only error sent without authentication (the server has no key for the
// sender). Smaller than any request it answers. `echo` repeats the
// registration id + sequence (or the Prove's nonce) so an off-path attacker
// cannot forge one.
struct Refused {
  ErrorCode code = ErrorCode::NotRegistered;
  std::array<std::uint8_t, 16> echo{};
  bool operator==(const Refused&) const = default;
};

using Message = std::variant<Register, Challenge, Prove, Registered, Refresh, Keepalive, ConnectRequest,
                             IncomingRequest, Accept, Reject, SessionInfo, RelayData, Error, Refused, Unregister,
                             PathChallenge, PathResponse, TurnServers, RelayResume, RelayResumed>;

enum class DecodeError : std::uint8_t {
  TooShort,            // shorter than the 4-byte header
  BadMagic,
  UnsupportedVersion,
  UnknownType,
  Truncated,           // a field runs past the end
  TrailingBytes,       // bytes after the last field
  BadAddressFamily,    // endpoint family not 4 or 6
  ZeroPort,            // endpoint with port 0
  BadMappingBehavior,
  BadFilteringBehavior,
  BadProfileName,      // too long or not printable ASCII
  TooManyEndpoints,
  NonZeroPadding,
  BadRole,
  BadErrorCode,
  PayloadTooLarge,
  BadAllocatorKind,    // allocator kind byte not 0-7
  BadPortRange,        // allocator min 0, min > max, or no whole block in range
  BadBlockSize,        // block size not a power of two in [2, 32768]
  BadBetaParameters,   // Beta parameter not finite, not positive, or outside the ports
  BadFlags,            // Prove or NatInfo flags with an undefined bit set
  BadPuzzle,           // puzzle difficulty above kMaxPuzzleBits
  BadLocality,         // window allocator: placement kind, size, offset, order or reset out of range
  BadTurnServerCount,  // TurnServers with no server or more than kMaxTurnServers
  BadTurnTransports,   // no transport, an undefined bit, or a TLS port without TLS (or none with it)
  BadTurnText,         // TURN name/username/password too long, empty where required, or not printable
};

std::string_view to_string(DecodeError error);
std::string_view to_string(ErrorCode code);
std::string_view to_string(MessageType type);

MessageType type_of(const Message& message);
// True for messages that carry an AuthHeader and a MAC.
bool is_authenticated(MessageType type);
// Cheap pre-check for drivers that share a socket with other protocols.
bool looks_like_rendezvous(std::span<const std::uint8_t> bytes);

Result<Message, DecodeError> decode(std::span<const std::uint8_t> bytes);
// Encodes as-is: the AuthHeader's tag and Prove's signature are copied, so
// decode(encode(m)) == m. The sender fills them in afterwards (crypto.hpp).
std::vector<std::uint8_t> encode(const Message& message);

// The endpoint and NatInfo fields as every message lays them out, for the
// cluster messages between rendezvous nodes (cluster_messages.hpp), which
// carry the same peer descriptions. The readers consume from `r` and
// return the first field's error; nothing on success.
void write_endpoint_field(ByteWriter& w, const Endpoint& e);
void write_nat_info_field(ByteWriter& w, const NatInfo& info);
std::optional<DecodeError> read_endpoint_field(ByteReader& r, Endpoint& e);
std::optional<DecodeError> read_nat_info_field(ByteReader& r, NatInfo& info);

// Hex for identities in logs and on the command line (64 lowercase digits).
std::string to_hex(std::span<const std::uint8_t> bytes);
std::optional<PublicKey> parse_public_key(std::string_view hex);

}  // namespace natpunch::rendezvous
