#pragma once
// The thesis's experiment as one simulated run: peer A behind NAT A and
// peer B behind NAT B on a simulated internet, both starting a punching
// strategy at the same moment (the rendezvous gives a common start time),
// until one of them completes the handshake or both give up.
//
// run_naive_pair: Algorithm 1 exactly as the thesis ran it (no rendezvous
// knowledge). run_strategy_pair: first each peer registers at a rendezvous
// server (one datagram from its socket 0, which makes the mapping whose
// external port the server "observes" and tells the other peer), then both
// run the strategy of `mode` built from what they know: the peer's mapping
// and filtering behaviour and allocator (its carrier profile = its NAT
// config here) and its observed port.
#include <array>
#include <cstdint>
#include <optional>

#include "core/result.hpp"
#include "nat/nat_config.hpp"
#include "punch/naive_birthday.hpp"
#include "punch/strategies.hpp"
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
  // Used for both sides; peer_address, session_id, key and role (a: caller) are filled in.
  punch::NaiveBirthdayConfig attack;
  Duration start_offset_b{};  // B starts this much after A
};

enum class StrategyMode : std::uint8_t {
  Naive,     // Algorithm 1 (uniform ports with repeats, one socket), as in run_naive_pair
  Improved,  // the improved birthday attack for every pair (prediction, carrier-biased order, sockets)
  Auto,      // what punch::choose_strategy picks for the pair
};

struct StrategyPairScenario {
  nat::NatConfig nat_a;
  nat::NatConfig nat_b;
  // What each peer is told of the other's allocator (its carrier profile),
  // when the NAT runs something else: a trace of a real carrier's ports
  // behind the profile fitted to them. nullopt: the NAT's own allocator.
  std::optional<nat::AllocatorSpec> told_allocator_a;
  std::optional<nat::AllocatorSpec> told_allocator_b;
  SidePath path_a;
  SidePath path_b;
  StrategyMode mode = StrategyMode::Auto;
  // Budgets, rate, sockets, prediction; peer_address, session_id, key and
  // role (a: caller) are filled in per side.
  punch::StrategyParams params;
  Duration start_offset_b{};
  // Registration happens this long before the common start.
  Duration registration_lead = milliseconds(100);
};

struct PairOutcome {
  bool connected = false;
  // From A's start to the first side that completed the handshake.
  Duration time_to_connect{};
  // Probes each side had sent by then (or in all, on failure).
  std::uint64_t probes_a = 0;
  std::uint64_t probes_b = 0;
  punch::PunchResult a;
  punch::PunchResult b;
  punch::StrategyKind kind_a = punch::StrategyKind::NaiveBirthday;
  punch::StrategyKind kind_b = punch::StrategyKind::NaiveBirthday;
  std::uint64_t events = 0;  // simulator events processed, for throughput figures
  // Packets each NAT dropped, indexed by nat::Drop: why probes died
  // (no mapping, filtered, expired, capacity, ...).
  std::array<std::uint64_t, kDropReasons> drops_a{};
  std::array<std::uint64_t, kDropReasons> drops_b{};
};
using NaivePairOutcome = PairOutcome;

// Pure functions of (scenario, seed). Fail only on an invalid NAT config.
Result<PairOutcome, nat::NatConfigError> run_naive_pair(const NaivePairScenario& scenario, std::uint64_t seed);
Result<PairOutcome, nat::NatConfigError> run_strategy_pair(const StrategyPairScenario& scenario, std::uint64_t seed);

}  // namespace natpunch::sim
