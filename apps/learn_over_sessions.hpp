#pragma once
// `natpunch learn --rendezvous ...`: this process is one peer of a real
// training run over natpunch Sessions (see learn_over_sessions.cpp).
#include <cstdint>
#include <optional>
#include <string>

#include "learn/learning_setup.hpp"
#include "rendezvous_stream_options.hpp"

namespace natpunch::cli {

struct LearnSessionOptions {
  std::string rendezvous;
  std::string identity_file;
  std::string server_key;
  std::string peers;        // every peer's public key, comma-separated, ours included
  std::string profile;      // own carrier profile (id or file)
  std::string mapping = "unknown";
  std::string filtering = "unknown";
  int wait_s = 60;
  int hole_punch_ms = 2000;
  int punch_timeout_ms = 10000;
  bool force_relay = false;
  bool wait_direct = false;  // open each session only when its punch ended (not at the pairing)
  RendezvousStreamOptions stream;  // a network that blocks UDP
  int start_wait_ms = 15000;
  std::string data;
  bool json = false;
  std::string csv;
  bool quiet = false;
  std::optional<double> expect_within;
};

// `config` carries the training settings shared with --simulate (peers is
// filled in from the key list). Returns the process exit code.
int run_learn_over_sessions(const LearnSessionOptions& options, learn::SimulationConfig config);

}  // namespace natpunch::cli
