#include "natpunch/error.hpp"

namespace natpunch {

const char* to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kBadInput: return "bad_input";
    case ErrorKind::kNoAnswer: return "no_answer";
    case ErrorKind::kServerKeyMismatch: return "server_key_mismatch";
    case ErrorKind::kNoSession: return "no_session";
    case ErrorKind::kSocket: return "socket";
    case ErrorKind::kInterrupted: return "interrupted";
  }
  return "unknown";
}

}  // namespace natpunch
