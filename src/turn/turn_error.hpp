#pragma once
// What can go wrong with a TURN server, as one kind per cause the user can
// act on, and the one-line message that names the server and says what to
// do. The STUN error codes are RFC 8656 §19's and RFC 8489 §14.8's.
#include <cstdint>
#include <string>
#include <string_view>

namespace natpunch::turn {

enum class Transport : std::uint8_t { kUdp, kTcp, kTls };
std::string_view to_string(Transport transport);
constexpr bool is_stream(Transport transport) { return transport != Transport::kUdp; }

enum class ErrorKind : std::uint8_t {
  kNoAnswer,               // requests went unanswered (retransmissions / stream timeout used up)
  kWrongCredentials,       // 401 after sending credentials, or 441 Wrong Credentials
  kForbidden,              // 403: the server's policy refuses this request or peer
  kAllocationMismatch,     // 437: no allocation where one was expected, or one already there
  kQuotaReached,           // 486 Allocation Quota Reached
  kInsufficientCapacity,   // 508 Insufficient Capacity
  kUnsupportedTransport,   // 442: no UDP relaying on this server
  kStaleNonce,             // 438 again after retrying with the nonce it just gave
  kRejected,               // any other error response
  kIntegrityViolation,     // answers failed the MESSAGE-INTEGRITY check
  kDowngrade,              // announced password algorithms missing, or none we support
  kBadAnswer,              // bytes that are not TURN (a stream cannot be framed any more)
  kConnectionClosed,       // the TCP/TLS connection ended
};
std::string_view to_string(ErrorKind kind);

struct TurnError {
  ErrorKind kind = ErrorKind::kNoAnswer;
  int code = 0;         // the STUN error code the server sent, 0 when none
  std::string message;  // one line, names the server
};

// The kind a STUN error code means for a TURN client.
ErrorKind kind_of_error_code(int code);
// "486 Allocation Quota Reached (the server allows no more allocations for
// these credentials: close one or wait for it to expire)": the code, the
// server's reason when it gave one, and advice.
std::string describe_error_code(int code, std::string_view reason);

}  // namespace natpunch::turn
