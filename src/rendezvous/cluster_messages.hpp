#pragma once
// The messages rendezvous nodes of one cluster send each other over NATS
// (issue 21). They are hostile input like any datagram: whoever reaches
// the NATS servers can publish. Every message is sealed with the cluster
// key (XChaCha20-Poly1305), so only nodes holding the key can write or
// read one (bodies carry session keys and peers' endpoints); the header is
// authenticated too, and names the sender, the destination (a replay to
// another node fails) and a per-sender sequence the receiver checks with a
// replay window.
//
// Envelope:
//   0  'N' 'C'     magic
//   2  version     1
//   3  type        ClusterType
//   4  sender      u64 node id (random per process start)
//   12 destination u64 node id; 0: every node
//   20 sequence    u64, per sender, from 1
//   28 body, encrypted, then the 16-byte Poly1305 tag
// The AEAD nonce is sender || sequence || 0 (unique: a node never reuses a
// sequence, and a restarted node has a new id).
//
// Bodies (after decryption), big-endian, strict (nothing may follow):
//   Hello      u32 registrations held, u16 udp port (informational)
//   Goodbye    nothing
//   Held       u16 count (<= kMaxRecords), count x (identity 32, instance
//              u64, flags u8: bit 0 listening, bit 1 single session, bit 2
//              fresh (made now, not a renewal))
//   Released   u16 count, count x (identity 32, instance u64)
//   Evict      identity 32, instance u64, u8 reason (1 over the
//              identity's limit, 2 moved to another node)
//   Route /    u64 invitation, u64 origin node, callee identity 32,
//   Offer      caller card: identity 32, endpoint, NatInfo (messages.hpp)
//   NotFound / Offered / Rejected   u64 invitation
//   SessionMade u64 invitation, u64 session id, session key 32, u32 start
//              delay ms, callee card
//   Relay      u64 session id, u16 length, payload (<= kMaxRelayPayload)
//   ResumeHalf    u64 session id, identity 32, peer 32, token 32, u64 node
//   ResumeMatched u64 session id, identity 32, peer 32, u64 peer node
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <variant>
#include <vector>

#include "core/result.hpp"
#include "rendezvous/messages.hpp"

namespace natpunch::rendezvous {

using NodeId = std::uint64_t;
using ClusterKey = std::array<std::uint8_t, 32>;

inline constexpr std::uint8_t kClusterMagic0 = 'N';
inline constexpr std::uint8_t kClusterMagic1 = 'C';
inline constexpr std::uint8_t kClusterVersion = 1;
inline constexpr std::size_t kClusterHeaderSize = 28;
inline constexpr std::size_t kClusterTagSize = 16;
// Held / Released records per message (~41 bytes each: ~42 kB, well
// under NATS's default 1 MB payload limit).
inline constexpr std::size_t kMaxClusterRecords = 1024;

enum class ClusterType : std::uint8_t {
  Hello = 1,
  Goodbye = 2,
  Held = 3,
  Released = 4,
  Evict = 5,
  Route = 6,
  Offer = 7,
  NotFound = 8,
  Offered = 9,
  SessionMade = 10,
  Rejected = 11,
  Relay = 12,
  ResumeHalf = 13,
  ResumeMatched = 14,
};

inline constexpr std::uint8_t kHeldListening = 0x01;
inline constexpr std::uint8_t kHeldSingleSession = 0x02;
inline constexpr std::uint8_t kHeldFresh = 0x04;  // just made (not a renewal): newer than any copy elsewhere
inline constexpr std::uint8_t kHeldFlagsMask = kHeldListening | kHeldSingleSession | kHeldFresh;

namespace cluster {

struct Hello {
  std::uint32_t registrations = 0;
  std::uint16_t udp_port = 0;
  bool operator==(const Hello&) const = default;
};
struct Goodbye {
  bool operator==(const Goodbye&) const = default;
};
struct HeldRecord {
  PublicKey identity{};
  std::uint64_t instance = 0;
  std::uint8_t flags = 0;
  bool operator==(const HeldRecord&) const = default;
};
struct Held {
  std::vector<HeldRecord> records;
  bool operator==(const Held&) const = default;
};
struct SlotRecord {
  PublicKey identity{};
  std::uint64_t instance = 0;
  bool operator==(const SlotRecord&) const = default;
};
struct Released {
  std::vector<SlotRecord> records;
  bool operator==(const Released&) const = default;
};
enum class EvictReason : std::uint8_t { OverLimit = 1, Moved = 2 };
struct Evict {
  PublicKey identity{};
  std::uint64_t instance = 0;
  EvictReason reason = EvictReason::OverLimit;
  bool operator==(const Evict&) const = default;
};
// What SessionInfo tells a peer about the other side.
struct PeerCard {
  PublicKey identity{};
  Endpoint observed;
  NatInfo info;
  bool operator==(const PeerCard&) const = default;
};
// A connect for an identity this node does not serve: to the identity's
// home node (Route), which passes it on to a node holding a registration
// (Offer).
struct Route {
  std::uint64_t invitation = 0;
  NodeId origin = 0;
  PublicKey callee{};
  PeerCard caller;
  bool operator==(const Route&) const = default;
};
struct Offer {
  std::uint64_t invitation = 0;
  NodeId origin = 0;
  PublicKey callee{};
  PeerCard caller;
  bool operator==(const Offer&) const = default;
};
struct NotFound {
  std::uint64_t invitation = 0;
  bool operator==(const NotFound&) const = default;
};
struct Offered {
  std::uint64_t invitation = 0;
  bool operator==(const Offered&) const = default;
};
struct Rejected {
  std::uint64_t invitation = 0;
  bool operator==(const Rejected&) const = default;
};
struct SessionMade {
  std::uint64_t invitation = 0;
  std::uint64_t session_id = 0;
  Key session_key{};
  std::uint32_t start_delay_ms = 0;
  PeerCard callee;
  bool operator==(const SessionMade&) const = default;
};
struct Relay {
  std::uint64_t session_id = 0;
  std::vector<std::uint8_t> payload;
  bool operator==(const Relay&) const = default;
};

// Relay handover (server.hpp): one party of a session whose relaying node
// died asks for the relay through `node` (its node now), sent to the
// session's meeting node (the home of the token); when both parties' halves
// are there, with the same token and each naming the other, the meeting
// node tells each side's node where the other side is (ResumeMatched).
struct ResumeHalf {
  std::uint64_t session_id = 0;
  PublicKey identity{};
  PublicKey peer{};
  Key token{};
  NodeId node = 0;
  bool operator==(const ResumeHalf&) const = default;
};
struct ResumeMatched {
  std::uint64_t session_id = 0;
  PublicKey identity{};  // the party at the receiving node
  PublicKey peer{};
  NodeId peer_node = 0;
  bool operator==(const ResumeMatched&) const = default;
};

using Body = std::variant<Hello, Goodbye, Held, Released, Evict, Route, Offer, NotFound, Offered, SessionMade,
                          Rejected, Relay, ResumeHalf, ResumeMatched>;

}  // namespace cluster

struct ClusterHeader {
  ClusterType type = ClusterType::Hello;
  NodeId sender = 0;
  NodeId destination = 0;  // 0: every node
  std::uint64_t sequence = 0;
  bool operator==(const ClusterHeader&) const = default;
};

struct ClusterMessage {
  ClusterHeader header;
  cluster::Body body;
};

enum class ClusterError : std::uint8_t {
  TooShort,            // shorter than header + tag
  BadMagic,
  UnsupportedVersion,
  UnknownType,
  BadTag,              // not sealed with this cluster's key, or altered
  Truncated,
  TrailingBytes,
  TooManyRecords,
  BadFlags,
  BadReason,
  PayloadTooLarge,
  BadPeer,             // an endpoint or NatInfo that fails messages.hpp's checks
  ZeroId,              // sender, sequence, invitation, session or origin of 0
};
std::string_view to_string(ClusterError error);
std::string_view to_string(ClusterType type);

ClusterType type_of(const cluster::Body& body);

// Seals `body` from header.sender to header.destination (header.type is
// taken from the body).
std::vector<std::uint8_t> seal_cluster(const ClusterKey& key, ClusterHeader header, const cluster::Body& body);
// Checks the envelope and the tag, then decodes the body. Never throws.
Result<ClusterMessage, ClusterError> open_cluster(const ClusterKey& key, std::span<const std::uint8_t> bytes);

// The plaintext body codec alone (fuzzed directly, below the AEAD).
std::vector<std::uint8_t> encode_cluster_body(const cluster::Body& body);
Result<cluster::Body, ClusterError> decode_cluster_body(ClusterType type, std::span<const std::uint8_t> bytes);

}  // namespace natpunch::rendezvous
