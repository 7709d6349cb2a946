// `natpunch predict` over 50,000 mappings with the whole curve to N = 1,024
// (issue 17: < 2 s): every chooser proposes up to 1,024 ports before each
// mapping. The sequence comes from the NAT model's window allocator with
// the real Vodafone NL logs' profile (32-port windows at offset 31, random
// order, held 61 s, at one mapping per 424 ms as the phone sent, windows
// placed by a Beta law)
// and from the uniform allocator (LycaMobile NL), where no chooser hits
// early and every one draws its full 1,024 ports. The baseline, measured in
// the same run, draws 1,024 uniform ports per mapping with nothing else, on
// one thread: the floor of one chooser at this budget (the replay runs its
// choosers on all cores). Wall time: the replay is multi-threaded.
//
//   natpunch_bench_predict --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <vector>

#include "core/rng.hpp"
#include "nat/allocator_spec.hpp"
#include "punch/port_chooser_uniform.hpp"
#include "punch/prediction_replay.hpp"
#include "sim/carrier_presets.hpp"

namespace natpunch::punch {
namespace {

constexpr std::size_t kRows = 50'000;
constexpr std::size_t kBudget = 1024;

// The simulator's Vodafone NL: profiles/vodafone-nl.json's allocator.
nat::AllocatorSpec vodafone_like() { return sim::carrier_preset("vodafone")->nat.allocator; }

std::vector<std::uint16_t> sequence(const nat::AllocatorSpec& spec) {
  auto allocator = nat::make_allocator(spec);
  Rng rng(1);
  std::vector<std::uint16_t> ports;
  TimePoint now = kTimeZero;
  for (std::size_t i = 0; i < kRows; ++i) {
    const auto port = allocator->allocate(now, nat::PortRequest{0, 40000}, rng);
    ports.push_back(*port);
    allocator->release(now, *port);
    now += milliseconds(424);
  }
  return ports;
}

void replay(benchmark::State& state, const nat::AllocatorSpec& spec) {
  const std::vector<std::vector<std::uint16_t>> runs{sequence(spec)};
  std::vector<ReplayChooser> choosers{profile_chooser(spec)};
  for (auto& plain : plain_choosers(spec)) choosers.push_back(std::move(plain));
  for (auto _ : state) {
    const auto curves = replay_predictions(runs, choosers, kBudget, 1);
    benchmark::DoNotOptimize(curves.front().hits.back());
  }
  state.counters["choosers"] = static_cast<double>(choosers.size());
}

void Predict50k_VodafoneWindows(benchmark::State& state) { replay(state, vodafone_like()); }
void Predict50k_UniformLycaMobile(benchmark::State& state) { replay(state, nat::UniformSpec{2048, 65535}); }

// The floor: 1,024 fresh uniform ports per mapping, one chooser.
void Baseline_UniformDraws50k(benchmark::State& state) {
  Rng rng(1);
  for (auto _ : state) {
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < kRows; ++i) {
      UniformPortChooser chooser(2048, 65535, Repeats::Never);
      for (std::size_t n = 0; n < kBudget; ++n) sum += *chooser.next(rng);
    }
    benchmark::DoNotOptimize(sum);
  }
}

BENCHMARK(Predict50k_VodafoneWindows)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(Predict50k_UniformLycaMobile)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(Baseline_UniformDraws50k)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace natpunch::punch

BENCHMARK_MAIN();
