#pragma once
// What a pair of NAT kinds should end in -- route and strategy -- from the
// strategy table of punch/strategy_selection.hpp and what each strategy can
// reach. The lab's pair table (tests/lab/lab_connect_test.cpp, real
// packets) and the simulator's session grid (tests/sim/
// sim_session_grid_test.cpp, virtual time) assert this same table.
#include <cstdint>
#include <string>

namespace natpunch::test_support {

// How a NAT kind behaves towards punching.
enum class NatClass {
  Open,     // public or full cone: the other side sends straight to it
  Easy,     // endpoint-independent mapping (or a firewalled public host)
  Hard,     // endpoint-dependent mapping, ports not predictable
  Blocks,   // KPN: endpoint-dependent, but 256-port blocks in order
  Blocked,  // no UDP at all: not even the rendezvous is reachable
};

struct PairExpectation {
  std::string route = "direct";  // "direct", "relay", or "none" (a side cannot reach the rendezvous)
  std::string strategy;          // what the connecting side reports
  // Hard x hard: a small budget (the lab's 150 probes / 1.5 s): whatever does
  // not connect by prediction at once is a birthday attack over ~64k ports,
  // whose odds with 150 probes per side are ~5e-6 (both random) to ~0.25 %.
  bool hard_budget = false;
  std::uint64_t max_probes = 0;  // 0: no bound asserted
};

inline bool hard(NatClass c) { return c == NatClass::Hard || c == NatClass::Blocks; }

// `a` connects, `b` listens (the table is symmetric).
inline PairExpectation expected_pair(NatClass a, NatClass b) {
  PairExpectation e;
  if (a == NatClass::Blocked || b == NatClass::Blocked) {
    e.route = "none";
  } else if (a == NatClass::Open || b == NatClass::Open) {
    e.strategy = "direct";
  } else if (!hard(a) && !hard(b)) {
    e.strategy = "hole-punch";
  } else if (!hard(a) || !hard(b)) {
    e.strategy = "one-hard-side";
  } else {
    e.strategy = "improved";
    e.hard_budget = true;
    if (a == NatClass::Blocks && b == NatClass::Blocks) {
      // Both predict the rest of the other's block in lockstep: the first
      // round trip connects (the simulator needs ~21 probes). The probes
      // sent meanwhile grow with the time that round trip takes (109 with
      // a CPU hog beside the suite); a birthday attack would not connect
      // within the 150 of one stage's budget, so that is the bound.
      e.max_probes = 150;
    } else {
      e.route = "relay";
    }
  }
  return e;
}

}  // namespace natpunch::test_support
