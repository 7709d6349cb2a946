#pragma once
// natpunch::listen() on a thread of its own, for the library tests: returns
// once the listener is registered (so a caller can ask for it by key), with
// its key and the future of its session.
#include <future>
#include <memory>
#include <string>

#include <natpunch/session.hpp>

namespace natpunch::cli_test {

using SessionResult = Result<std::unique_ptr<Session>, Error>;

struct BackgroundListen {
  std::string key;                      // the listener's public key, 64 hex digits
  std::future<SessionResult> session;  // natpunch::listen()'s result
};

// `options.on_progress` is replaced. Blocks until the rendezvous answered
// the registration (the identity is reported first, before that).
inline BackgroundListen listen_in_background(SessionOptions options) {
  struct State {
    std::promise<std::string> registered;
    std::string identity;
    bool told = false;
  };
  auto state = std::make_shared<State>();
  auto key = state->registered.get_future();
  options.on_progress = [state](const SessionProgress& p) {
    if (p.kind == SessionProgress::Kind::kIdentity) state->identity = p.message;
    if (p.kind == SessionProgress::Kind::kRegistered && !state->told) {
      state->told = true;
      state->registered.set_value(state->identity);
    }
  };
  BackgroundListen out;
  out.session = std::async(std::launch::async, [options] { return listen(options, {}); });
  out.key = key.get();
  return out;
}

}  // namespace natpunch::cli_test
