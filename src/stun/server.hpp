#pragma once
// STUN server logic (RFC 8489 Binding, RFC 5780 NAT behaviour discovery,
// RFC 3489 classic clients) as a sans-IO function of (now, datagram, source,
// receiving socket). The driver owns up to four sockets:
//
//   PrimaryIpPrimaryPort  (primary IP,   primary port)
//   PrimaryIpAltPort      (primary IP,   alternate port)
//   AltIpPrimaryPort      (alternate IP, primary port)
//   AltIpAltPort          (alternate IP, alternate port)
//
// and sends each Reply from the socket it names. Without an alternate only
// the first socket exists.
//
// Hardening, because a public STUN server is a reflection tool if careless:
// - only Binding requests are answered; responses, indications, other
//   methods and anything that fails to decode are dropped silently;
// - token buckets per source port under a per-address budget, in tables of
//   fixed size (no growth under spoofed floods; fair among the ports of one
//   carrier address), drop excess requests before any response is built;
// - responses are as small as the RFCs allow: XOR-MAPPED-ADDRESS alone for
//   an RFC 8489 request (MAPPED-ADDRESS only for a classic one), RFC 5780's
//   OTHER-ADDRESS and RESPONSE-ORIGIN only with an alternate, SOFTWARE only
//   when the response stays no larger than the request, FINGERPRINT only
//   when the request had one. A bare 20-byte request gets 32 bytes (IPv4;
//   44 over IPv6), 56 with an alternate (92 over IPv6): the factors
//   SECURITY.md quotes;
// - a response is never longer than max(request length, the smallest
//   response): PADDING is honoured only by padding the response up to the
//   request's own length (see handle()).
//
// handle() does not allocate: the request is decoded in place and the
// response is written into the caller's buffer.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/endpoint.hpp"
#include "core/time.hpp"
#include "stun/source_rate_limiter.hpp"

namespace natpunch::stun {

// Bit 1 = alternate IP, bit 0 = alternate port, so a change request is an XOR.
enum class SocketIndex : std::uint8_t {
  PrimaryIpPrimaryPort = 0,
  PrimaryIpAltPort = 1,
  AltIpPrimaryPort = 2,
  AltIpAltPort = 3,
};

constexpr SocketIndex changed_socket(SocketIndex from, bool change_ip, bool change_port) {
  return static_cast<SocketIndex>(static_cast<unsigned>(from) ^ (change_ip ? 2u : 0u) ^ (change_port ? 1u : 0u));
}

struct ServerConfig {
  Endpoint primary;
  // Alternate IP *and* port. RFC 5780 §6 requires both to differ from the
  // primary; only with it can the server answer CHANGE-REQUEST and report
  // OTHER-ADDRESS.
  std::optional<Endpoint> alternate;
  // SOFTWARE attribute value (see software_error()); empty (the default)
  // sends none. Sent only in responses that stay no larger than their
  // request.
  std::string software;
  // nullopt disables rate limiting (tests, lab).
  std::optional<RateLimitConfig> rate_limit = RateLimitConfig{};
  // The address budgets of every worker serving one socket group
  // (io/stun_server_runner.cpp): with it, a carrier address whose ports the
  // kernel spreads over the workers still gets exactly its budget.
  // nullptr: this server's own.
  std::shared_ptr<AddressBudgets> shared_address_budgets;
  // Keys the source hash so an attacker cannot aim a flood at the hash set
  // of a victim's address. Real drivers pass OS randomness.
  std::uint64_t hash_seed = 0;
};

struct ServerCounters {
  std::uint64_t received = 0;
  std::uint64_t answered = 0;              // success responses sent
  std::uint64_t errors_sent = 0;           // 400 / 420 error responses sent
  std::uint64_t dropped_malformed = 0;     // not a well-formed STUN message
  std::uint64_t dropped_not_request = 0;   // well-formed, but not a Binding request
  std::uint64_t dropped_rate_limited = 0;  // source over its rate
  std::uint64_t dropped_no_room = 0;       // `out` too small for the response (driver bug)
};

struct Reply {
  SocketIndex socket;      // send from this socket
  Endpoint to;             // to this destination
  std::size_t length = 0;  // the response is out[0, length)
};

// Why `software` cannot be a SOFTWARE value (RFC 8489 section 14.14: fewer
// than 128 characters of UTF-8, here without control characters), or
// nullopt when it can.
std::optional<std::string> software_error(std::string_view software);

class Server {
 public:
  explicit Server(ServerConfig config);

  // Processes one datagram received on `received_on` from `from`; returns
  // the response to send, written into `out`, or nullopt to stay silent.
  //
  // Responses: success with XOR-MAPPED-ADDRESS (magic-cookie requests) and
  // MAPPED-ADDRESS (always); with an alternate configured, OTHER-ADDRESS +
  // RESPONSE-ORIGIN (RFC 5780) or CHANGED-ADDRESS + SOURCE-ADDRESS (classic
  // requests, no cookie); FINGERPRINT if the request had one. Errors (sent
  // from the receiving socket to `from`): 420 + UNKNOWN-ATTRIBUTES for
  // unknown comprehension-required attributes, RESPONSE-ADDRESS, or a
  // CHANGE-REQUEST the server cannot honour; 400 for RESPONSE-PORT with
  // PADDING or port 0.
  //
  // Size rule: a request with PADDING gets a response padded to exactly the
  // request's length when that is at least the unpadded response plus the
  // 4-byte PADDING header (and fits `out`); otherwise no PADDING. So the
  // response length is always <= max(request length, unpadded length).
  std::optional<Reply> handle(TimePoint now, std::span<const std::uint8_t> datagram, const Endpoint& from,
                              SocketIndex received_on, std::span<std::uint8_t> out);

  // The local address of a socket. Without an alternate every index maps to
  // the primary.
  Endpoint socket_endpoint(SocketIndex socket) const;
  bool has_alternate() const { return config_.alternate.has_value(); }

  const ServerConfig& config() const { return config_; }
  const ServerCounters& counters() const { return counters_; }
  std::size_t tracked_sources() const { return limiter_ ? limiter_->tracked() : 0; }

 private:
  ServerConfig config_;
  std::optional<SourceRateLimiter> limiter_;
  ServerCounters counters_;
};

}  // namespace natpunch::stun
