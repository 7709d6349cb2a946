#pragma once
// Monte-Carlo carrier x carrier matrix (the thesis's Tables I and VI): for
// every pair of carriers, `runs` independent attacks of one strategy mode
// (naive, improved, auto) in the simulator, each a pure function of (seed, the two carriers' names, run
// number). So a cell's results do not depend on which other carriers are
// in the matrix, on the thread count, or on scheduling.
#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "punch/naive_birthday.hpp"
#include "sim/carrier_load.hpp"
#include "sim/carrier_presets.hpp"
#include "sim/scenario.hpp"

namespace natpunch::sim {

struct MatrixConfig {
  std::vector<CarrierModel> carriers;
  StrategyMode mode = StrategyMode::Naive;
  // Improved / auto only: use the observed ports (prediction), and how many
  // local sockets an endpoint-independent side spreads its probes over.
  bool predict = true;
  std::uint32_t many_sockets = 256;
  std::size_t runs = 10;
  std::uint64_t probes = 170000;  // per side
  Duration send_interval = punch::kThesisSendInterval;
  punch::LocalPortPolicy local_ports = punch::LocalPortPolicy::Fixed;
  std::uint64_t seed = 1;
  unsigned threads = 1;
  // Table I lists each unordered pair once (row >= column); the full grid
  // runs every ordered pair (A x B and B x A differ only in who is "A").
  bool full_grid = false;
  SidePath path;
  // B starts this much after A: how well the rendezvous synchronised them.
  Duration start_skew{};
  // Other subscribers and quotas, applied to every carrier (none by default).
  CarrierLoad load;
  // Asked before each run; once it holds no new run starts, the runs under
  // way finish, and the result holds only the finished runs (interrupted).
  std::function<bool()> stop;
};

struct RunRecord {
  bool connected = false;
  std::uint64_t probes = 0;  // per side at connection (the larger side), or all sent
  Duration time_to_connect{};
  std::uint64_t events = 0;
  punch::StrategyKind kind = punch::StrategyKind::NaiveBirthday;  // A's strategy (B's is the same or its mirror)
  // Packets both NATs dropped, by nat::Drop: why the probes died.
  std::array<std::uint64_t, kDropReasons> drops{};
};

struct MatrixCell {
  std::size_t row = 0;     // index into MatrixConfig::carriers: peer A
  std::size_t column = 0;  // peer B
  std::vector<RunRecord> runs;

  std::size_t successes() const;
  // Medians over the successful runs; nullopt when none succeeded.
  std::optional<double> median_probes() const;
  std::optional<double> median_seconds() const;
  // The smallest probe budget per side with which at least `fraction` of
  // the runs connected (nullopt: fewer than that connected within the
  // budget that was run). With 100 runs, 0.99 means 99 of them.
  std::optional<std::uint64_t> probes_for_success(double fraction) const;
  // Drops by nat::Drop summed over the runs.
  std::array<std::uint64_t, kDropReasons> drops() const;
};

struct MatrixResult {
  std::vector<MatrixCell> cells;  // row-major, only the pairs that were run
  std::uint64_t events = 0;
  std::uint64_t probes = 0;  // every probe either side sent, over all runs
  // `stop` held: cells hold only their finished runs (some may hold none).
  bool interrupted = false;
};

// (runs finished, runs in all); called from worker threads, one at a time.
using MatrixProgress = std::function<void(std::size_t, std::size_t)>;

// Fails with a message naming the carrier and field when a NAT config is invalid.
Result<MatrixResult, std::string> run_matrix(const MatrixConfig& config, const MatrixProgress& progress = {});

// The seed of one run; exposed so a single cell can be replayed.
std::uint64_t run_seed(std::uint64_t seed, std::string_view row, std::string_view column, std::size_t run);

}  // namespace natpunch::sim
