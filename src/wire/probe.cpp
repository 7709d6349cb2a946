#include "wire/probe.hpp"

#include <sodium.h>

#include <cstring>

#include "core/bytes.hpp"

namespace natpunch::wire {
namespace {

constexpr std::uint8_t kMagic0 = 'N';
constexpr std::uint8_t kMagic1 = 'P';

constexpr std::size_t kSessionAt = 4;
constexpr std::size_t kSequenceAt = 12;
constexpr std::size_t kEchoSequenceAt = 16;
constexpr std::size_t kNonceAt = 20;
constexpr std::size_t kEchoNonceAt = 28;

void seal(ProbeBytes& bytes, const ProbeKey& key) {
  key.seal(std::span<const std::uint8_t, kProbeHeaderSize>(bytes.data(), kProbeHeaderSize),
           std::span<std::uint8_t, kProbeMacSize>(bytes.data() + kProbeHeaderSize, kProbeMacSize));
}

// BLAKE2b-128 keyed with the session key over the direction's label.
std::array<std::uint8_t, 16> direction_key(const SessionKey& key, SessionRole sender) {
  static constexpr char kFromCaller[] = "natpunch probe mac v3 caller->callee";
  static constexpr char kFromCallee[] = "natpunch probe mac v3 callee->caller";
  const char* label = sender == SessionRole::Caller ? kFromCaller : kFromCallee;
  std::array<std::uint8_t, 16> out{};
  crypto_generichash(out.data(), out.size(), reinterpret_cast<const unsigned char*>(label), sizeof kFromCaller - 1,
                     key.data(), key.size());
  return out;
}

}  // namespace

const char* to_string(SessionRole role) { return role == SessionRole::Caller ? "caller" : "callee"; }

ProbeKey::ProbeKey(const SessionKey& key, SessionRole own) : own_(own) {
  static_assert(crypto_shorthash_siphashx24_KEYBYTES == 16 && crypto_shorthash_siphashx24_BYTES == kProbeMacSize);
  static_assert(sizeof "natpunch probe mac v3 caller->callee" == sizeof "natpunch probe mac v3 callee->caller");
  // sodium_init() is idempotent and thread-safe.
  if (sodium_init() < 0) __builtin_trap();
  sending_ = direction_key(key, own);
  receiving_ = direction_key(key, other(own));
}

void ProbeKey::seal(std::span<const std::uint8_t, kProbeHeaderSize> header,
                    std::span<std::uint8_t, kProbeMacSize> out) const {
  crypto_shorthash_siphashx24(out.data(), header.data(), header.size(), sending_.data());
}

void ProbeKey::expected(std::span<const std::uint8_t, kProbeHeaderSize> header,
                        std::span<std::uint8_t, kProbeMacSize> out) const {
  crypto_shorthash_siphashx24(out.data(), header.data(), header.size(), receiving_.data());
}

std::uint64_t NonceKey::nonce(ProbeKind kind, std::uint32_t sequence, std::uint16_t port) const {
  std::array<std::uint8_t, 7> input{};
  input[0] = static_cast<std::uint8_t>(kind);
  store_be32(input.data() + 1, sequence);
  store_be16(input.data() + 5, port);
  std::array<std::uint8_t, crypto_shorthash_siphash24_BYTES> out{};
  crypto_shorthash_siphash24(out.data(), input.data(), input.size(), secret_.data());
  return load_be64(out.data());
}

const char* to_string(ProbeError error) {
  switch (error) {
    case ProbeError::WrongSize: return "wrong size";
    case ProbeError::BadMagic: return "bad magic";
    case ProbeError::BadVersion: return "unsupported version";
    case ProbeError::BadKind: return "unknown kind";
    case ProbeError::BadMac: return "MAC does not verify";
  }
  return "unknown error";
}

ProbeBytes encode(const ProbeMessage& message, const ProbeKey& key) {
  ProbeBytes out{};
  out[0] = kMagic0;
  out[1] = kMagic1;
  out[2] = kProbeVersion;
  out[3] = static_cast<std::uint8_t>(message.kind);
  store_be64(out.data() + kSessionAt, message.session_id);
  store_be32(out.data() + kSequenceAt, message.sequence);
  store_be32(out.data() + kEchoSequenceAt, message.echo_sequence);
  store_be64(out.data() + kNonceAt, message.nonce);
  store_be64(out.data() + kEchoNonceAt, message.echo_nonce);
  seal(out, key);
  return out;
}

void restamp(ProbeBytes& bytes, std::uint32_t sequence, std::uint64_t nonce, const ProbeKey& key) {
  store_be32(bytes.data() + kSequenceAt, sequence);
  store_be64(bytes.data() + kNonceAt, nonce);
  seal(bytes, key);
}

Result<ProbeMessage, ProbeError> decode_probe(std::span<const std::uint8_t> bytes, const ProbeKey& key) {
  if (bytes.size() != kProbeSize) return Unexpected{ProbeError::WrongSize};
  if (bytes[0] != kMagic0 || bytes[1] != kMagic1) return Unexpected{ProbeError::BadMagic};
  if (bytes[2] != kProbeVersion) return Unexpected{ProbeError::BadVersion};
  if (bytes[3] < static_cast<std::uint8_t>(ProbeKind::Probe) || bytes[3] > static_cast<std::uint8_t>(ProbeKind::Confirm))
    return Unexpected{ProbeError::BadKind};
  std::array<std::uint8_t, kProbeMacSize> expected{};
  key.expected(std::span<const std::uint8_t, kProbeHeaderSize>(bytes.data(), kProbeHeaderSize), expected);
  if (sodium_memcmp(expected.data(), bytes.data() + kProbeHeaderSize, kProbeMacSize) != 0)
    return Unexpected{ProbeError::BadMac};
  return ProbeMessage{static_cast<ProbeKind>(bytes[3]),        load_be64(bytes.data() + kSessionAt),
                      load_be32(bytes.data() + kSequenceAt),     load_be32(bytes.data() + kEchoSequenceAt),
                      load_be64(bytes.data() + kNonceAt),        load_be64(bytes.data() + kEchoNonceAt)};
}

}  // namespace natpunch::wire
