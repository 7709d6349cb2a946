#include "turn/turn_error.hpp"

#include <cctype>

namespace natpunch::turn {
namespace {

// The server's reason phrase is wire text: keep the one-line message one
// line and printable, and short.
std::string printable(std::string_view text) {
  constexpr std::size_t kMaxReason = 80;
  std::string out;
  for (const char c : text.substr(0, kMaxReason)) out += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
  return out;
}

std::string_view standard_reason(int code) {
  switch (code) {
    case 300: return "Try Alternate";
    case 400: return "Bad Request";
    case 401: return "Unauthenticated";
    case 403: return "Forbidden";
    case 420: return "Unknown Attribute";
    case 437: return "Allocation Mismatch";
    case 438: return "Stale Nonce";
    case 440: return "Address Family not Supported";
    case 441: return "Wrong Credentials";
    case 442: return "Unsupported Transport Protocol";
    case 443: return "Peer Address Family Mismatch";
    case 486: return "Allocation Quota Reached";
    case 500: return "Server Error";
    case 508: return "Insufficient Capacity";
    default: return "";
  }
}

std::string_view advice(int code) {
  switch (code) {
    case 300: return "the server redirects elsewhere; natpunch does not follow redirects, use that server";
    case 401:
    case 441: return "the username or password is wrong, or REST API credentials expired; mint new ones";
    case 403: return "the server's policy refuses it: a peer address it does not relay to, or a client it blocks";
    case 437: return "the server has no allocation here or already one for this address and port; retry later";
    case 438: return "the server keeps rejecting its own nonce; check the server's clock and configuration";
    case 440:
    case 443: return "the server does not relay this address family";
    case 442: return "the server does not relay UDP";
    case 486: return "the server allows no more allocations for these credentials; close one or wait for it to expire";
    case 508: return "the server is out of relay ports or bandwidth; try another server or later";
    default: return "";
  }
}

}  // namespace

std::string_view to_string(Transport transport) {
  switch (transport) {
    case Transport::kUdp: return "udp";
    case Transport::kTcp: return "tcp";
    case Transport::kTls: return "tls";
  }
  return "?";
}

std::string_view to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kNoAnswer: return "no-answer";
    case ErrorKind::kWrongCredentials: return "wrong-credentials";
    case ErrorKind::kForbidden: return "forbidden";
    case ErrorKind::kAllocationMismatch: return "allocation-mismatch";
    case ErrorKind::kQuotaReached: return "quota-reached";
    case ErrorKind::kInsufficientCapacity: return "insufficient-capacity";
    case ErrorKind::kUnsupportedTransport: return "unsupported-transport";
    case ErrorKind::kStaleNonce: return "stale-nonce";
    case ErrorKind::kRejected: return "rejected";
    case ErrorKind::kIntegrityViolation: return "integrity-violation";
    case ErrorKind::kDowngrade: return "downgrade";
    case ErrorKind::kBadAnswer: return "bad-answer";
    case ErrorKind::kConnectionClosed: return "connection-closed";
  }
  return "unknown";
}

ErrorKind kind_of_error_code(int code) {
  switch (code) {
    case 401:
    case 441: return ErrorKind::kWrongCredentials;
    case 403: return ErrorKind::kForbidden;
    case 437: return ErrorKind::kAllocationMismatch;
    case 438: return ErrorKind::kStaleNonce;
    case 442: return ErrorKind::kUnsupportedTransport;
    case 486: return ErrorKind::kQuotaReached;
    case 508: return ErrorKind::kInsufficientCapacity;
    default: return ErrorKind::kRejected;
  }
}

std::string describe_error_code(int code, std::string_view reason) {
  std::string out = std::to_string(code);
  const std::string given = printable(reason);
  const std::string_view name = given.empty() ? standard_reason(code) : std::string_view(given);
  if (!name.empty()) out += " " + std::string(name);
  if (const auto hint = advice(code); !hint.empty()) out += " (" + std::string(hint) + ")";
  return out;
}

}  // namespace natpunch::turn
