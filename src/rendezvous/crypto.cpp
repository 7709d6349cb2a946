#include "rendezvous/crypto.hpp"

#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "core/bytes.hpp"

namespace natpunch::rendezvous {
namespace {

constexpr std::string_view kProveContext = "natpunch-rendezvous-prove-v1";
constexpr std::string_view kPuzzleContext = "natpunch-rendezvous-puzzle-v1";
constexpr std::string_view kResumeContext = "natpunch-relay-resume-v1";
constexpr char kKdfContext[crypto_kdf_CONTEXTBYTES + 1] = "nprdv_v1";

void ensure_sodium() {
  // Idempotent and thread-safe; -1 only if the system has no entropy source.
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
}

std::optional<RegistrationKeys> finish_keys(const std::array<std::uint8_t, crypto_scalarmult_BYTES>& shared,
                                            const PublicKey& client_identity, const PublicKey& client_share,
                                            const PublicKey& server_key,
                                            const Nonce& nonce, std::uint64_t issued_at_ms, const Cookie& cookie) {
  if (sodium_is_zero(shared.data(), shared.size())) return std::nullopt;
  std::vector<std::uint8_t> input;
  ByteWriter w(input);
  w.bytes(shared);
  w.bytes(client_identity);
  w.bytes(client_share);
  w.bytes(server_key);
  w.bytes(nonce);
  w.u64(issued_at_ms);
  w.bytes(cookie);
  std::array<std::uint8_t, crypto_kdf_KEYBYTES> master{};
  crypto_generichash(master.data(), master.size(), input.data(), input.size(), nullptr, 0);
  sodium_memzero(input.data(), input.size());
  RegistrationKeys keys;
  crypto_kdf_derive_from_key(keys.client_to_server.data(), kKeySize, 1, kKdfContext, master.data());
  crypto_kdf_derive_from_key(keys.server_to_client.data(), kKeySize, 2, kKdfContext, master.data());
  crypto_kdf_derive_from_key(keys.seal.data(), kKeySize, 3, kKdfContext, master.data());
  sodium_memzero(master.data(), master.size());
  return keys;
}

std::vector<std::uint8_t> prove_signed_bytes(std::span<const std::uint8_t> encoded, const PublicKey& server_key) {
  // memcpy into a sized buffer: GCC 12 misreads vector::insert here (-Wstringop-overflow).
  const std::size_t body = encoded.size() - kSignatureSize;
  std::vector<std::uint8_t> m(kProveContext.size() + server_key.size() + body);
  std::memcpy(m.data(), kProveContext.data(), kProveContext.size());
  std::memcpy(m.data() + kProveContext.size(), server_key.data(), server_key.size());
  if (body > 0) std::memcpy(m.data() + kProveContext.size() + server_key.size(), encoded.data(), body);
  return m;
}

}  // namespace

RandomBytes system_random_bytes() {
  ensure_sodium();
  return [](std::span<std::uint8_t> out) { randombytes_buf(out.data(), out.size()); };
}

Identity Identity::from_seed(const Key& seed) {
  ensure_sodium();
  Identity id;
  id.seed = seed;
  crypto_sign_seed_keypair(id.public_key.data(), id.secret_key.data(), seed.data());
  return id;
}

Identity Identity::generate(const RandomBytes& random) {
  Key seed{};
  random(seed);
  return from_seed(seed);
}

KxKeyPair KxKeyPair::from_identity(const Identity& identity) {
  ensure_sodium();
  KxKeyPair kx;
  // A key made by crypto_sign_seed_keypair always converts.
  if (crypto_sign_ed25519_pk_to_curve25519(kx.public_key.data(), identity.public_key.data()) != 0)
    throw std::runtime_error("Ed25519 public key does not convert to X25519");
  crypto_sign_ed25519_sk_to_curve25519(kx.secret_key.data(), identity.secret_key.data());
  return kx;
}

KeyShare KeyShare::from_secret(const Key& secret) {
  ensure_sodium();
  KeyShare share;
  share.secret_key = secret;
  crypto_scalarmult_base(share.public_key.data(), share.secret_key.data());
  return share;
}

KeyShare KeyShare::generate(const RandomBytes& random) {
  Key secret{};
  random(secret);
  KeyShare share = from_secret(secret);
  sodium_memzero(secret.data(), secret.size());
  return share;
}

std::optional<RegistrationKeys> derive_client_keys(const Identity& client, const KeyShare& share,
                                                   const Challenge& challenge) {
  ensure_sodium();
  std::array<std::uint8_t, crypto_scalarmult_BYTES> shared{};
  if (crypto_scalarmult(shared.data(), share.secret_key.data(), challenge.server_key.data()) != 0) return std::nullopt;
  return finish_keys(shared, client.public_key, share.public_key, challenge.server_key, challenge.client_nonce,
                     challenge.issued_at_ms, challenge.cookie);
}

std::optional<RegistrationKeys> derive_server_keys(const KxKeyPair& server, const Prove& prove) {
  ensure_sodium();
  // The share is signed with the Prove: the identity's holder chose it. A
  // small-order share gives the all-zero result (refused); clamping takes
  // care of any other torsion, so no subgroup check is needed.
  std::array<std::uint8_t, crypto_scalarmult_BYTES> shared{};
  if (crypto_scalarmult(shared.data(), server.secret_key.data(), prove.key_share.data()) != 0) return std::nullopt;
  return finish_keys(shared, prove.identity, prove.key_share, server.public_key, prove.client_nonce,
                     prove.issued_at_ms, prove.cookie);
}

Cookie make_cookie(const Key& server_secret, const PublicKey& identity, const Nonce& client_nonce,
                   std::uint64_t issued_at_ms, const Endpoint& from, std::uint8_t puzzle_bits) {
  std::vector<std::uint8_t> input;
  ByteWriter w(input);
  w.bytes(identity);
  w.bytes(client_nonce);
  w.u64(issued_at_ms);
  w.u8(from.address.is_v4() ? 4 : 6);
  w.bytes({from.address.data(), from.address.size()});
  w.u16(from.port);
  w.u8(puzzle_bits);
  Cookie cookie{};
  crypto_generichash(cookie.data(), cookie.size(), input.data(), input.size(), server_secret.data(),
                     server_secret.size());
  return cookie;
}

namespace {

// The hash state after the fixed part of a puzzle's input.
crypto_generichash_state puzzle_prefix(const Cookie& cookie, const PublicKey& identity) {
  ensure_sodium();
  crypto_generichash_state state;
  crypto_generichash_init(&state, nullptr, 0, 16);
  crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(kPuzzleContext.data()),
                            kPuzzleContext.size());
  crypto_generichash_update(&state, cookie.data(), cookie.size());
  crypto_generichash_update(&state, identity.data(), identity.size());
  return state;
}

bool leading_zero_bits(const crypto_generichash_state& prefix, std::uint64_t solution, std::uint8_t bits) {
  crypto_generichash_state state = prefix;
  std::array<std::uint8_t, 8> s{};
  store_be64(s.data(), solution);
  crypto_generichash_update(&state, s.data(), s.size());
  std::array<std::uint8_t, 16> h{};
  crypto_generichash_final(&state, h.data(), h.size());
  const std::uint64_t top = load_be64(h.data());
  return bits == 0 || (top >> (64 - bits)) == 0;
}

}  // namespace

bool puzzle_solved(const Cookie& cookie, const PublicKey& identity, std::uint64_t solution, std::uint8_t bits) {
  if (bits == 0) return true;
  if (bits > 64) return false;
  return leading_zero_bits(puzzle_prefix(cookie, identity), solution, bits);
}

PuzzleSolution solve_puzzle(const Cookie& cookie, const PublicKey& identity, std::uint8_t bits, std::uint64_t start) {
  if (bits == 0) return {start, 0};
  const auto prefix = puzzle_prefix(cookie, identity);
  PuzzleSolution s{start, 0};
  while (true) {
    ++s.hashes;
    if (leading_zero_bits(prefix, s.solution, bits)) return s;
    ++s.solution;
  }
}

void sign_prove(std::vector<std::uint8_t>& encoded, const Identity& client, const PublicKey& server_key) {
  if (encoded.size() < kSignatureSize) return;
  const auto m = prove_signed_bytes(encoded, server_key);
  crypto_sign_detached(encoded.data() + encoded.size() - kSignatureSize, nullptr, m.data(), m.size(),
                       client.secret_key.data());
}

bool verify_prove(std::span<const std::uint8_t> encoded, const PublicKey& identity, const PublicKey& server_key) {
  if (encoded.size() < kSignatureSize) return false;
  const auto m = prove_signed_bytes(encoded, server_key);
  return crypto_sign_verify_detached(encoded.data() + encoded.size() - kSignatureSize, m.data(), m.size(),
                                     identity.data()) == 0;
}

void seal(std::vector<std::uint8_t>& encoded, const Key& mac_key) {
  if (encoded.size() < kTagSize) return;
  const std::size_t n = encoded.size() - kTagSize;
  crypto_generichash(encoded.data() + n, kTagSize, encoded.data(), n, mac_key.data(), mac_key.size());
}

bool verify_tag(std::span<const std::uint8_t> encoded, const Key& mac_key) {
  if (encoded.size() < kTagSize) return false;
  const std::size_t n = encoded.size() - kTagSize;
  Tag expected{};
  crypto_generichash(expected.data(), expected.size(), encoded.data(), n, mac_key.data(), mac_key.size());
  return sodium_memcmp(expected.data(), encoded.data() + n, kTagSize) == 0;
}

namespace {
std::array<std::uint8_t, crypto_stream_chacha20_ietf_NONCEBYTES> sequence_nonce(std::uint64_t sequence) {
  std::array<std::uint8_t, crypto_stream_chacha20_ietf_NONCEBYTES> nonce{};
  store_be64(nonce.data() + 4, sequence);
  return nonce;
}
}  // namespace

void crypt_turn_passwords(TurnServers& message, const Key& seal_key, std::uint64_t sequence) {
  std::vector<std::uint8_t> joined;
  for (const TurnServer& s : message.servers) joined.insert(joined.end(), s.password.begin(), s.password.end());
  if (joined.empty()) return;
  const auto nonce = sequence_nonce(sequence);
  crypto_stream_chacha20_ietf_xor_ic(joined.data(), joined.data(), joined.size(), nonce.data(), 1, seal_key.data());
  std::size_t offset = 0;
  for (TurnServer& s : message.servers) {
    std::copy_n(joined.begin() + static_cast<std::ptrdiff_t>(offset), s.password.size(), s.password.begin());
    offset += s.password.size();
  }
}

Key relay_resume_token(const Key& session_key, std::uint64_t session_id) {
  ensure_sodium();
  std::array<std::uint8_t, kResumeContext.size() + 8> input{};
  std::memcpy(input.data(), kResumeContext.data(), kResumeContext.size());
  store_be64(input.data() + kResumeContext.size(), session_id);
  Key token{};
  crypto_generichash(token.data(), token.size(), input.data(), input.size(), session_key.data(), session_key.size());
  return token;
}

Key crypt_session_key(const Key& key, const Key& seal_key, std::uint64_t sequence) {
  const auto nonce = sequence_nonce(sequence);
  Key out{};
  crypto_stream_chacha20_ietf_xor(out.data(), key.data(), key.size(), nonce.data(), seal_key.data());
  return out;
}

}  // namespace natpunch::rendezvous
