#pragma once
// Synthetic mapping-collection logs: what `natpunch measure mappings` and
// the thesis apps would write if the carrier's NAT were one of the NAT
// model's allocators. The phone sends from random local ports to random
// server ports every 15 ms, the mapped port comes from the real allocator
// (src/nat/allocator_*), and both sides write their CSV with unsynchronised
// clocks. The analyzer's unit tests, its CLI test and its benchmark all
// read logs from here, so the three agree on what a collection looks like.
#include <cstddef>
#include <cstdint>
#include <string>

#include "analyze/allocator_detect.hpp"
#include "nat/allocator_spec.hpp"

namespace natpunch::analyze {

enum class SyntheticDialect { Natpunch, Thesis };

struct SyntheticLogOptions {
  std::size_t rows = 10'000;
  std::uint64_t seed = 1;
  // How many mappings stay open; older ones are released (time out), as
  // during a real collection. 0 keeps every mapping, which a block
  // allocator needs to keep its block (see nat::BlockSpec).
  std::size_t live_mappings = 64;
  SyntheticDialect dialect = SyntheticDialect::Natpunch;
  // How a block allocator hands out the ports of a held block (BlockOrder
  // is the analyzer's): the NAT model's BlockAllocator takes them in order;
  // Random draws each next port at random among the block's ports not yet
  // handed out in this hold (a random permutation of the block). Ignored
  // for other allocators.
  BlockOrder block_order = BlockOrder::InOrder;
  // 36-character UUID-shaped ids as the thesis apps wrote (benchmark), or
  // short "id-SEED-ROW" ones (tests: easier to read in a failure).
  bool uuid_ids = false;
  // Every `session_rows` rows the phone pauses for `session_pause_ms` and
  // every mapping times out meanwhile: a new collection run (a "session",
  // see allocator_detect.hpp). 0: one session.
  std::size_t session_rows = 0;
  double session_pause_ms = 600'000;
  // The phone sends every 15 ms, plus this much more in each later session
  // (logs taken at several rates, as the real carriers' runs were).
  double session_interval_step_ms = 0;
};

struct SyntheticLogs {
  std::string client;
  std::string server;
  std::size_t rows = 0;  // rows written to both logs (an exhausted allocator drops some)
};

// `spec` must be valid (nat::validate).
SyntheticLogs make_synthetic_logs(const nat::AllocatorSpec& spec, const SyntheticLogOptions& options);

}  // namespace natpunch::analyze
