#pragma once
// natpunch public API: the one error type every call returns (NAT discovery,
// sessions, listeners), inside a natpunch::Result.
#include <cstdint>
#include <string>
#include <utility>

namespace natpunch {

enum class ErrorKind {
  kBadInput,  // malformed address, key, identity file, profile or option
  // No server answered: a STUN server (or only with a STUN error), or the
  // rendezvous server (or it refused the registration).
  kNoAnswer,
  // The rendezvous answered with another key than the pinned one
  // (SessionOptions::server_key): a wrong key, or someone in between.
  kServerKeyMismatch,
  kNoSession,    // the peer did not accept / no session before the deadline
  kSocket,       // the local socket could not be opened or bound
  kInterrupted,  // the caller's stop predicate held
};

// "bad_input", "no_answer", "server_key_mismatch", "no_session", "socket",
// "interrupted": the spellings of the CLI's --json "error_kind".
const char* to_string(ErrorKind kind);

struct Error {
  Error() = default;
  Error(ErrorKind error_kind, std::string text) : kind(error_kind), message(std::move(text)) {}

  ErrorKind kind = ErrorKind::kBadInput;
  std::string message;  // one line, says what to do
  // connect()/listen() only, for reports: how far the session got
  // (0 / empty: not that far, or another call).
  std::uint64_t session_id = 0;
  std::string strategy;
  std::uint64_t probes_sent = 0;
};

}  // namespace natpunch
