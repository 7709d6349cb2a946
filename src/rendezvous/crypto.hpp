#pragma once
// The cryptography of the rendezvous protocol, all from libsodium:
// - identities are Ed25519 key pairs (crypto_sign); a Prove is signed with
//   crypto_sign_detached over a context string, the server's key and the
//   encoded message, so a signature is useless against another server;
// - the server's Challenge cookie is a keyed BLAKE2b MAC of (identity,
//   client nonce, issue time, source endpoint, puzzle difficulty) under a
//   secret that never leaves the server: the server keeps no state per
//   unauthenticated client (it remembers used cookies, in fixed memory);
// - the registration puzzle (asked of new identities while the server's
//   table fills up): a 64-bit solution such that BLAKE2b over a context
//   string, the cookie, the identity and the solution starts with
//   `puzzle_bits` zero bits -- about 2^bits hashes to find, one to check;
// - per-registration keys come from X25519 between a fresh X25519 key of
//   the client's (its key share, named in the signed Prove: only the
//   identity's holder can have chosen it) and the server's X25519 key,
//   hashed with the identity, both public keys, the nonce and the cookie,
//   then split with crypto_kdf into a MAC key per direction (so a datagram
//   reflected back never verifies) and a seal key that encrypts session
//   keys (ChaCha20, nonce = sequence). A fresh share per Prove means a
//   stolen identity key does not open recorded registrations, and the
//   server does not convert the client's Ed25519 key to Curve25519 (with
//   its subgroup check, ~45 us: more than the X25519 itself);
// - authenticated messages end in a 16-byte keyed BLAKE2b MAC.
#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "core/endpoint.hpp"
#include "rendezvous/messages.hpp"

namespace natpunch::rendezvous {

// Secure randomness, injected like the clock: real drivers pass
// randombytes_buf, tests a seeded generator so runs replay exactly.
using RandomBytes = std::function<void(std::span<std::uint8_t>)>;
// libsodium's CSPRNG.
RandomBytes system_random_bytes();

using SecretKey = std::array<std::uint8_t, 64>;

// An Ed25519 key pair. The 32-byte seed is all that needs storing.
struct Identity {
  PublicKey public_key{};
  SecretKey secret_key{};
  Key seed{};

  static Identity from_seed(const Key& seed);
  static Identity generate(const RandomBytes& random);
};

// The server's X25519 key pair (derived from its Ed25519 identity, so a
// client can pin the server by one key).
struct KxKeyPair {
  PublicKey public_key{};
  Key secret_key{};
  static KxKeyPair from_identity(const Identity& identity);
};

// The client's X25519 key pair for one Prove.
struct KeyShare {
  PublicKey public_key{};
  Key secret_key{};
  static KeyShare from_secret(const Key& secret);
  static KeyShare generate(const RandomBytes& random);
};

struct RegistrationKeys {
  Key client_to_server{};
  Key server_to_client{};
  Key seal{};
};

// nullopt when the X25519 result is the all-zero point (a small-order key).
// The client's `share` is the one its Prove names (Prove::key_share).
std::optional<RegistrationKeys> derive_client_keys(const Identity& client, const KeyShare& share,
                                                   const Challenge& challenge);
std::optional<RegistrationKeys> derive_server_keys(const KxKeyPair& server, const Prove& prove);

Cookie make_cookie(const Key& server_secret, const PublicKey& identity, const Nonce& client_nonce,
                   std::uint64_t issued_at_ms, const Endpoint& from, std::uint8_t puzzle_bits);

bool puzzle_solved(const Cookie& cookie, const PublicKey& identity, std::uint64_t solution, std::uint8_t bits);
struct PuzzleSolution {
  std::uint64_t solution = 0;
  std::uint64_t hashes = 0;  // the work it took
};
// Tries solutions start, start + 1, ... (2^bits on average).
PuzzleSolution solve_puzzle(const Cookie& cookie, const PublicKey& identity, std::uint8_t bits,
                            std::uint64_t start = 0);

// `encoded` is an encoded Prove whose last 64 bytes are the signature slot.
void sign_prove(std::vector<std::uint8_t>& encoded, const Identity& client, const PublicKey& server_key);
bool verify_prove(std::span<const std::uint8_t> encoded, const PublicKey& identity, const PublicKey& server_key);

// `encoded` is an encoded authenticated message whose last 16 bytes are the tag slot.
void seal(std::vector<std::uint8_t>& encoded, const Key& mac_key);
bool verify_tag(std::span<const std::uint8_t> encoded, const Key& mac_key);

// What a party to a session shows to have its relay resumed elsewhere
// (RelayResume): a keyed BLAKE2b of the session id under the session key,
// which only the two peers and the nodes that made the session know.
Key relay_resume_token(const Key& session_key, std::uint64_t session_id);

// Encrypts or decrypts (XOR stream) a session key sent in the message with
// this sequence number.
Key crypt_session_key(const Key& key, const Key& seal_key, std::uint64_t sequence);
// Encrypts or decrypts (XOR stream) the passwords of a TurnServers message
// sent with this sequence number: one ChaCha20 keystream (from block 1, so
// never the bytes a session key of the same nonce would use) over all of
// them in order.
void crypt_turn_passwords(TurnServers& message, const Key& seal_key, std::uint64_t sequence);

}  // namespace natpunch::rendezvous
