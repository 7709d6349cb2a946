// The analyzer on a 1,000,000-row mapping collection (issue 6: < 2 s):
// parse both logs, join on the id, detect the allocator. Logs come from the
// NAT model's allocators, ids are UUID-shaped (36 characters) as the thesis
// apps wrote them. The baseline only splits both texts into lines, measured
// in the same run: the floor any CSV reader pays.
//
//   natpunch_bench_analyze --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <string>
#include <string_view>

#include "analyze/allocator_detect.hpp"
#include "analyze/mapping_join.hpp"
#include "analyze/mapping_log.hpp"
#include "analyze/plot_data.hpp"
#include "analyze/synthetic_log.hpp"
#include "nat/allocator_spec.hpp"

namespace natpunch::analyze {
namespace {

constexpr std::size_t kRows = 1'000'000;

using Logs = SyntheticLogs;

// Mappings older than the last `live_mappings` time out. A block allocator
// needs more than one block's worth live, or it would give up its block.
Logs make_logs(const nat::AllocatorSpec& spec, std::size_t live_mappings, BlockOrder order = BlockOrder::InOrder) {
  SyntheticLogOptions o;
  o.rows = kRows;
  o.seed = 1;
  o.live_mappings = live_mappings;
  o.uuid_ids = true;
  o.block_order = order;
  return make_synthetic_logs(spec, o);
}

void run_pipeline(benchmark::State& state, const nat::AllocatorSpec& spec, std::size_t live, AllocatorKind expected,
                  BlockOrder order = BlockOrder::InOrder) {
  const Logs logs = make_logs(spec, live, order);
  for (auto _ : state) {
    const auto client = parse_mapping_log(logs.client, LogSide::Client);
    const auto server = parse_mapping_log(logs.server, LogSide::Server);
    const auto joined = join_mappings(client, server);
    const auto detected = detect_allocator(joined.rows);
    if (detected.kind != expected) state.SkipWithError("wrong allocator detected");
    benchmark::DoNotOptimize(detected);
  }
  state.counters["rows"] = static_cast<double>(kRows);
}

void Analyze1M_Block256(benchmark::State& state) { run_pipeline(state, nat::BlockSpec{}, 1024, AllocatorKind::Block); }
void Analyze1M_Block256RandomOrder(benchmark::State& state) {
  run_pipeline(state, nat::BlockSpec{}, 1024, AllocatorKind::Block, BlockOrder::Random);
}
void Analyze1M_Uniform(benchmark::State& state) {
  run_pipeline(state, nat::UniformSpec{2048, 65535}, 64, AllocatorKind::Uniform);
}
void Analyze1M_BetaVodafone(benchmark::State& state) {
  run_pipeline(state, nat::BetaSpec{}, 64, AllocatorKind::Beta);
}

// The phases of Analyze1M_Block256 on their own, to see where time goes.
void Phase1M_ParseBoth(benchmark::State& state) {
  const Logs logs = make_logs(nat::BlockSpec{}, 1024);
  for (auto _ : state) {
    const auto client = parse_mapping_log(logs.client, LogSide::Client);
    const auto server = parse_mapping_log(logs.server, LogSide::Server);
    benchmark::DoNotOptimize(client.records.data());
    benchmark::DoNotOptimize(server.records.data());
  }
}
void Phase1M_Join(benchmark::State& state) {
  const Logs logs = make_logs(nat::BlockSpec{}, 1024);
  const auto client = parse_mapping_log(logs.client, LogSide::Client);
  const auto server = parse_mapping_log(logs.server, LogSide::Server);
  for (auto _ : state) benchmark::DoNotOptimize(join_mappings(client, server).rows.data());
}
void Phase1M_DetectBlock(benchmark::State& state) {
  const Logs logs = make_logs(nat::BlockSpec{}, 1024);
  const auto joined = join_mappings(parse_mapping_log(logs.client, LogSide::Client),
                                    parse_mapping_log(logs.server, LogSide::Server));
  for (auto _ : state) benchmark::DoNotOptimize(detect_allocator(joined.rows).kind);
}

// What --plots adds before the drawing: the figures' CSV data.
void PlotData1M_Uniform(benchmark::State& state) {
  const Logs logs = make_logs(nat::UniformSpec{2048, 65535}, 64);
  const auto joined = join_mappings(parse_mapping_log(logs.client, LogSide::Client),
                                    parse_mapping_log(logs.server, LogSide::Server));
  const auto detected = detect_allocator(joined.rows);
  for (auto _ : state) {
    benchmark::DoNotOptimize(mappings_csv(joined.rows, 30'000).size());
    benchmark::DoNotOptimize(run_lengths_csv(detected.evidence).size());
    benchmark::DoNotOptimize(histogram_csv(joined.rows, detected).size());
  }
}

void Baseline_SplitLines(benchmark::State& state) {
  const Logs logs = make_logs(nat::BlockSpec{}, 1024);
  for (auto _ : state) {
    std::size_t lines = 0, bytes = 0;
    for (const std::string* text : {&logs.client, &logs.server}) {
      std::string_view rest = *text;
      while (!rest.empty()) {
        const auto newline = rest.find('\n');
        const auto line = rest.substr(0, newline);
        bytes += line.size();
        ++lines;
        rest = newline == std::string_view::npos ? std::string_view{} : rest.substr(newline + 1);
      }
    }
    benchmark::DoNotOptimize(lines);
    benchmark::DoNotOptimize(bytes);
  }
}

BENCHMARK(Analyze1M_Block256)->Unit(benchmark::kMillisecond);
BENCHMARK(Analyze1M_Block256RandomOrder)->Unit(benchmark::kMillisecond);
BENCHMARK(Analyze1M_Uniform)->Unit(benchmark::kMillisecond);
BENCHMARK(Analyze1M_BetaVodafone)->Unit(benchmark::kMillisecond);
BENCHMARK(Phase1M_ParseBoth)->Unit(benchmark::kMillisecond);
BENCHMARK(Phase1M_Join)->Unit(benchmark::kMillisecond);
BENCHMARK(Phase1M_DetectBlock)->Unit(benchmark::kMillisecond);
BENCHMARK(PlotData1M_Uniform)->Unit(benchmark::kMillisecond);
BENCHMARK(Baseline_SplitLines)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace natpunch::analyze

BENCHMARK_MAIN();
