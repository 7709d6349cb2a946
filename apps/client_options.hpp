#pragma once
// Options every STUN client subcommand shares: servers, local bind address,
// retransmission schedule, JSON output.
#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli_checks.hpp"
#include "commands.hpp"
#include "natpunch/nat_discovery.hpp"

namespace natpunch::cli {

struct ClientOptions {
  std::vector<std::string> servers;
  std::string local;  // empty: the wildcard of the first server's family
  int rto_ms = 300;
  int rc = 4;
  int rm = 8;
  bool json = false;

  void fill(StunOptions& o) const {
    o.servers = servers;
    o.local = local;
    o.rto = std::chrono::milliseconds(rto_ms);
    o.rc = rc;
    o.rm = rm;
  }
};

inline void add_client_options(CLI::App& cmd, ClientOptions& o) {
  cmd.add_option("servers", o.servers,
                 "STUN server(s): HOST, HOST:PORT, IP:PORT or [IPv6]:PORT (default port 3478); tried in order "
                 "until one answers")
      ->required()
      ->check(server_address(3478));
  cmd.add_option("--local", o.local,
                 "Local IP:PORT to bind, e.g. 0.0.0.0:0 or [::]:0 (default: any address of the first server's "
                 "family, IPv4 or IPv6, random port)")
      ->check(bind_address());
  cmd.add_option("--rto", o.rto_ms,
                 "Initial retransmission timeout in ms (doubles per retry; RFC 8489 default is 500)")
      ->default_val(300)
      ->check(CLI::Range(1, 60000));
  cmd.add_option("--rc", o.rc, "Requests sent per transaction, first included (RFC 8489: 7)")
      ->default_val(4)
      ->check(CLI::Range(1, 20));
  cmd.add_option("--rm", o.rm, "Wait rm x rto after the last request before giving up (RFC 8489: 16)")
      ->default_val(8)
      ->check(CLI::Range(0, 100));
  cmd.add_flag("--json", o.json, "Print one JSON object on stdout (for scripts)");
}

// A failed query under --json still prints one object (scripts read
// stdout, not the stderr line): `fields` set to null, plus the error.
// The exit code of a failed query (commands.hpp).
inline int exit_code_of(const Error& e) {
  switch (e.kind) {
    case ErrorKind::kBadInput: return kExitUsage;
    case ErrorKind::kInterrupted: return kExitInterrupted;
    case ErrorKind::kNoAnswer:
    case ErrorKind::kServerKeyMismatch:
    case ErrorKind::kNoSession:
    case ErrorKind::kSocket: break;
  }
  return kExitNoAnswer;
}

inline void print_json_failure(const Error& e, std::initializer_list<const char*> fields) {
  nlohmann::json j = nlohmann::json::object();
  for (const char* f : fields) j[f] = nullptr;
  j["error"] = e.message;
  j["error_kind"] = to_string(e.kind);
  j["interrupted"] = e.kind == ErrorKind::kInterrupted;
  std::cout << j.dump() << "\n";
}

}  // namespace natpunch::cli
