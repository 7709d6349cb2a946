#pragma once
// The thesis's experiment as one simulated run: peer A behind NAT A and
// peer B behind NAT B on a simulated internet, both starting the naive
// birthday attack (Algorithm 1) at the same moment (the rendezvous gives a
// common start time), until one of them hears the other or both give up.
#include <array>
#include <cstdint>

#include "core/result.hpp"
#include "nat/nat_config.hpp"
#include "punch/naive_birthday.hpp"
#include "sim/link.hpp"
#include "sim/nat_box.hpp"

namespace natpunch::sim {

// One side's path: phone <-> its NAT, and NAT <-> the internet core.
struct SidePath {
  LinkConfig access{milliseconds(10)};
  LinkConfig uplink{milliseconds(5)};
};

struct NaivePairScenario {
  // Empty public_addresses get 203.0.113.1 (A) and 203.0.113.2 (B).
  nat::NatConfig nat_a;
  nat::NatConfig nat_b;
  SidePath path_a;
  SidePath path_b;
  // Used for both sides; peer_address and session_id are filled in.
  punch::NaiveBirthdayConfig attack;
  Duration start_offset_b{};  // B starts this much after A
};

struct NaivePairOutcome {
  bool connected = false;
  // From A's start to the first side that heard the other.
  Duration time_to_connect{};
  // Probes each side had sent by then (or in all, on failure).
  std::uint64_t probes_a = 0;
  std::uint64_t probes_b = 0;
  punch::NaiveBirthdayResult a;
  punch::NaiveBirthdayResult b;
  std::uint64_t events = 0;  // simulator events processed, for throughput figures
  // Packets each NAT dropped, indexed by nat::Drop: why probes died
  // (no mapping, filtered, expired, capacity, ...).
  std::array<std::uint64_t, kDropReasons> drops_a{};
  std::array<std::uint64_t, kDropReasons> drops_b{};
};

// A pure function of (scenario, seed). Fails only on an invalid NAT config.
Result<NaivePairOutcome, nat::NatConfigError> run_naive_pair(const NaivePairScenario& scenario, std::uint64_t seed);

}  // namespace natpunch::sim
