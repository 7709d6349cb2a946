#pragma once
// natpunch's punching datagrams: a PROBE sent to a guessed port of the peer
// and the ACK a peer returns when a probe gets through. Fixed size, so a
// strategy builds one on the stack per probe (the naive attack sends
// ~170,000 of them per side).
//
// Layout (network byte order), 16 bytes:
//   0  'N' 'P'          magic, so stray traffic is rejected cheaply
//   2  version (1)
//   3  kind             1 = probe, 2 = ack
//   4  session id       64 bits, handed to both peers by the rendezvous
//   12 sequence         32 bits, the sender's probe counter (for logs)
//
// Authentication seam (issue 5): a MAC under the session key will follow
// the sequence field; decode() then verifies it and rejects anything that
// fails. Until then the session id is the only check, which keeps stray
// traffic out but not an attacker who has seen a probe.
#include <array>
#include <cstdint>
#include <optional>
#include <span>

namespace natpunch::wire {

inline constexpr std::size_t kProbeSize = 16;
inline constexpr std::uint8_t kProbeVersion = 1;

enum class ProbeKind : std::uint8_t { Probe = 1, Ack = 2 };

struct ProbeMessage {
  ProbeKind kind = ProbeKind::Probe;
  std::uint64_t session_id = 0;
  std::uint32_t sequence = 0;
  bool operator==(const ProbeMessage&) const = default;
};

using ProbeBytes = std::array<std::uint8_t, kProbeSize>;

ProbeBytes encode(const ProbeMessage& message);
// Rewrites only the sequence field: a strategy encodes one probe and
// stamps each copy, instead of encoding 170,000 times.
void set_sequence(ProbeBytes& bytes, std::uint32_t sequence);
// nullopt for anything that is not exactly a well-formed probe or ack.
std::optional<ProbeMessage> decode_probe(std::span<const std::uint8_t> bytes);

}  // namespace natpunch::wire
