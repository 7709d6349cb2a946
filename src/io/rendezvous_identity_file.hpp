#pragma once
// An Ed25519 identity kept in a file: one line "natpunch-ed25519-seed-v1
// <64 hex digits>". Created with mode 0600 (write to a temporary file, then
// rename, so a crash never leaves half a key); an unreadable, corrupt or
// group/world-readable file is an error that says what to do.
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "rendezvous/crypto.hpp"

namespace natpunch::io {

struct LoadedIdentity {
  rendezvous::Identity identity;
  bool created = false;  // the file did not exist and was written now
};

Result<LoadedIdentity, std::string> load_or_create_identity(const std::string& path);

// The same kind of file for any 32-byte secret, one line "HEADER <64 hex
// digits>" (the cluster key of rendezvous nodes: natpunch-cluster-key-v1);
// `what` names it in errors ("cluster key file").
struct LoadedSecret {
  rendezvous::Key key{};
  bool created = false;
};
Result<LoadedSecret, std::string> load_or_create_secret(const std::string& path, std::string_view header,
                                                        std::string_view what);

}  // namespace natpunch::io
