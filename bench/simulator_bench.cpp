// Simulator throughput: events/s and probes/s of one naive birthday attack
// between two carrier NATs (Algorithm 1, 20,000 probes per side, the
// thesis's send rate), the unit `natpunch simulate matrix` repeats 250 times
// for Table I. The pairs span the NAT work per probe: two symmetric NATs
// (KPN: a new mapping per probe), an endpoint-independent pair (Lebara x
// Vodafone: one mapping, many filter entries), and a pair with loss 1 on
// every link, where each run sends its whole budget. The baseline in the
// same run is the event agenda alone (the same number of push/pop as the
// symmetric run's events, without NATs, links or machines).
//
//   natpunch_bench_simulator --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// bench/matrix_bench.sh times the whole 5 x 5 x 10-run matrix.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <queue>
#include <stdexcept>
#include <vector>

#include "core/rng.hpp"
#include "sim/carrier_presets.hpp"
#include "sim/scenario.hpp"

namespace natpunch::sim {
namespace {

constexpr std::uint64_t kBudget = 20000;

void add_min_max(benchmark::internal::Benchmark* b) {
  b->ComputeStatistics("min", [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); });
  b->ComputeStatistics("max", [](const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); });
}

NaivePairScenario pair(const char* a, const char* b, double loss) {
  NaivePairScenario s;
  auto ca = carrier_preset(a), cb = carrier_preset(b);
  if (!ca || !cb) throw std::runtime_error("unknown carrier preset");
  s.nat_a = ca->nat;
  s.nat_b = cb->nat;
  s.attack.probe_budget = kBudget;
  for (auto* path : {&s.path_a, &s.path_b}) {
    path->access.loss = loss;
    path->uplink.loss = loss;
  }
  return s;
}

void run_pair(benchmark::State& state, const NaivePairScenario& scenario) {
  std::uint64_t seed = 1, events = 0, probes = 0, connected = 0;
  for (auto _ : state) {
    auto outcome = run_naive_pair(scenario, seed++);
    if (!outcome) throw std::runtime_error("invalid NAT config");
    events += outcome->events;
    probes += outcome->probes_a + outcome->probes_b;
    connected += outcome->connected ? 1 : 0;
  }
  state.counters["events_per_s"] = benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
  state.counters["probes_per_s"] = benchmark::Counter(static_cast<double>(probes), benchmark::Counter::kIsRate);
  state.counters["events_per_run"] =
      benchmark::Counter(static_cast<double>(events), benchmark::Counter::kAvgIterations);
  state.counters["connected"] = benchmark::Counter(static_cast<double>(connected), benchmark::Counter::kAvgIterations);
}

void Simulator_NaivePair_KpnKpn(benchmark::State& state) { run_pair(state, pair("kpn", "kpn", 0)); }
BENCHMARK(Simulator_NaivePair_KpnKpn)->Unit(benchmark::kMillisecond)->Apply(add_min_max);

void Simulator_NaivePair_LebaraVodafone(benchmark::State& state) { run_pair(state, pair("lebara", "vodafone", 0)); }
BENCHMARK(Simulator_NaivePair_LebaraVodafone)->Unit(benchmark::kMillisecond)->Apply(add_min_max);

void Simulator_NaivePair_KpnKpnAllLost(benchmark::State& state) { run_pair(state, pair("kpn", "kpn", 1)); }
BENCHMARK(Simulator_NaivePair_KpnKpnAllLost)->Unit(benchmark::kMillisecond)->Apply(add_min_max);

// Baseline: a binary-heap agenda doing as many push/pop pairs as a full
// symmetric run has events (2 x 20,000 probes x ~2.95 events per probe).
void Simulator_BaselineHeapAgenda(benchmark::State& state) {
  constexpr std::uint64_t kEvents = 2 * kBudget * 295 / 100;
  Rng rng(1);
  std::vector<std::uint64_t> jitter(1024);
  for (auto& j : jitter) j = rng.uniform(0, 5000);
  std::uint64_t events = 0;
  for (auto _ : state) {
    std::priority_queue<std::uint64_t, std::vector<std::uint64_t>, std::greater<>> agenda;
    for (int i = 0; i < 64; ++i) agenda.push(static_cast<std::uint64_t>(i));
    for (std::uint64_t e = 0; e < kEvents; ++e) {
      const std::uint64_t now = agenda.top();
      agenda.pop();
      agenda.push(now + 1 + jitter[e & 1023]);
    }
    benchmark::DoNotOptimize(agenda.top());
    events += kEvents;
  }
  state.counters["events_per_s"] = benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
}
BENCHMARK(Simulator_BaselineHeapAgenda)->Unit(benchmark::kMillisecond)->Apply(add_min_max);

}  // namespace
}  // namespace natpunch::sim

BENCHMARK_MAIN();
