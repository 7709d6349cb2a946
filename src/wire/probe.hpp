#pragma once
// natpunch's punching datagrams, authenticated under the session key the
// rendezvous hands both peers. Three kinds make a handshake that an
// attacker without the key cannot complete, not even by replaying what it
// captured:
//
//   PROBE    A -> guessed port of B. Carries A's nonce for this probe.
//   ACK      B -> the probe's source. Echoes the probe's sequence and nonce
//            (proving B holds the key *and* saw this very probe) and carries
//            B's own nonce. A is connected when an ACK echoes a nonce A made.
//   CONFIRM  A -> the ACK's source. Echoes the ACK's sequence and nonce.
//            B is connected only now: a replayed PROBE makes B send an ACK,
//            but nobody without the key can answer it with a CONFIRM.
//
// A nonce is a keyed hash of (sequence, the port the message went to) under
// a secret the sender never sends (NonceKey), so the answer must also come
// from that very port: a genuine ACK replayed from elsewhere fails too.
//
// Each direction has its own MAC key (caller -> callee, callee -> caller;
// both sides know their role from the rendezvous), so a machine's own
// datagram bounced back to it never verifies as the peer's: without that,
// an attacker who reflects a PROBE and then the ACK it provokes completes a
// handshake of a machine with itself (issue 23).
//
// Layout (network byte order), 52 bytes:
//   0  'N' 'P'          magic, so stray traffic is rejected cheaply
//   2  version (3)
//   3  kind             1 = probe, 2 = ack, 3 = confirm
//   4  session id       64 bits, handed to both peers by the rendezvous
//   12 sequence         32 bits, the sender's counter for this kind
//   16 echo sequence    32 bits, ack/confirm: the sequence answered; probe: 0
//   20 nonce            64 bits, the sender's nonce (confirm: 0)
//   28 echo nonce       64 bits, ack/confirm: the nonce answered; probe: 0
//   36 MAC              16 bytes: SipHash-2-4-128 of bytes [0, 36) under the
//                       sender's direction's 128-bit MAC key =
//                       BLAKE2b-128(key = session key, "natpunch probe mac v3
//                       caller->callee" or "... callee->caller")
//
// Why SipHash and not keyed BLAKE2b over the header directly: both are
// keyed PRFs and either is a sound MAC for a 36-byte message, but BLAKE2b
// costs two 128-byte compressions per probe (~250 ns) where SipHash-128
// costs ~30 ns (bench/probe_mac_bench.cpp measures both), and the
// simulator MACs ~31 M probes per carrier matrix (issue 3's 10 s budget).
// The 32-byte session key is used only through BLAKE2b, once per session.
#include <array>
#include <cstdint>
#include <span>

#include "core/result.hpp"

namespace natpunch::wire {

inline constexpr std::size_t kProbeHeaderSize = 36;
inline constexpr std::size_t kProbeMacSize = 16;
inline constexpr std::size_t kProbeSize = kProbeHeaderSize + kProbeMacSize;
inline constexpr std::uint8_t kProbeVersion = 3;
inline constexpr std::size_t kSessionKeySize = 32;

enum class ProbeKind : std::uint8_t { Probe = 1, Ack = 2, Confirm = 3 };

struct ProbeMessage {
  ProbeKind kind = ProbeKind::Probe;
  std::uint64_t session_id = 0;
  std::uint32_t sequence = 0;
  std::uint32_t echo_sequence = 0;
  std::uint64_t nonce = 0;
  std::uint64_t echo_nonce = 0;
  bool operator==(const ProbeMessage&) const = default;
};

using ProbeBytes = std::array<std::uint8_t, kProbeSize>;
using SessionKey = std::array<std::uint8_t, kSessionKeySize>;

// Which end of a session this side is: the rendezvous tells each peer
// (the caller asked for the session, the callee accepted it). Every
// session message is sealed under its sender's direction.
enum class SessionRole : std::uint8_t { Caller, Callee };
constexpr SessionRole other(SessionRole role) {
  return role == SessionRole::Caller ? SessionRole::Callee : SessionRole::Caller;
}
const char* to_string(SessionRole role);

// The two MAC keys derived from the session key (see the layout above),
// made once per session: one seals what `own` sends, the other verifies
// what the peer sends. Immutable after construction.
class ProbeKey {
 public:
  ProbeKey(const SessionKey& key, SessionRole own);
  // The 16-byte MAC of `header` (kProbeHeaderSize bytes) in our direction / the peer's.
  void seal(std::span<const std::uint8_t, kProbeHeaderSize> header, std::span<std::uint8_t, kProbeMacSize> out) const;
  void expected(std::span<const std::uint8_t, kProbeHeaderSize> header,
                std::span<std::uint8_t, kProbeMacSize> out) const;
  SessionRole own() const { return own_; }

 private:
  SessionRole own_;
  std::array<std::uint8_t, 16> sending_{};
  std::array<std::uint8_t, 16> receiving_{};
};

// The sender's secret for nonces: nonce = SipHash-2-4(secret, kind ||
// sequence || port the message was sent to). Never leaves the host. The
// kind keeps a probe's nonce from ever standing for an ack's.
class NonceKey {
 public:
  explicit NonceKey(const std::array<std::uint8_t, 16>& secret) : secret_(secret) {}
  std::uint64_t nonce(ProbeKind kind, std::uint32_t sequence, std::uint16_t port) const;

 private:
  std::array<std::uint8_t, 16> secret_;
};

enum class ProbeError : std::uint8_t {
  WrongSize,   // not exactly kProbeSize bytes
  BadMagic,    // not 'N' 'P'
  BadVersion,  // another version of the format
  BadKind,     // not probe, ack or confirm
  BadMac,      // not made with this session key (forged, corrupted or another session)
};
const char* to_string(ProbeError error);

// Header fields plus MAC, sealed in `key`'s own direction.
ProbeBytes encode(const ProbeMessage& message, const ProbeKey& key);
// Rewrites the sequence and nonce of an encoded message and recomputes its
// MAC: a strategy encodes one probe template and stamps each copy.
void restamp(ProbeBytes& bytes, std::uint32_t sequence, std::uint64_t nonce, const ProbeKey& key);
// The fields of a well-formed message whose MAC verifies in the peer's
// direction (constant-time compare); a distinct error otherwise (our own
// message is BadMac). Never reads outside `bytes`.
Result<ProbeMessage, ProbeError> decode_probe(std::span<const std::uint8_t> bytes, const ProbeKey& key);

}  // namespace natpunch::wire
