// The analyzer on a 1,000,000-row mapping collection (issue 6: < 2 s):
// parse both logs, join on the id, detect the allocator. Logs come from the
// NAT model's allocators, ids are UUID-shaped (36 characters) as the thesis
// apps wrote them. The baseline only splits both texts into lines, measured
// in the same run: the floor any CSV reader pays.
//
//   natpunch_bench_analyze --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstdio>
#include <deque>
#include <string>
#include <string_view>

#include "analyze/allocator_detect.hpp"
#include "analyze/mapping_join.hpp"
#include "analyze/mapping_log.hpp"
#include "core/rng.hpp"
#include "nat/allocator_spec.hpp"

namespace natpunch::analyze {
namespace {

constexpr std::size_t kRows = 1'000'000;

struct Logs {
  std::string client, server;
};

// Mappings older than the last `live_mappings` time out. A block allocator
// needs more than one block's worth live, or it would give up its block.
Logs make_logs(const nat::AllocatorSpec& spec, std::size_t live_mappings) {
  Rng rng(1);
  auto allocator = nat::make_allocator(spec);
  std::deque<std::uint16_t> live;
  Logs logs;
  logs.client = "uuid,time_ms,local_port,server_port\n";
  logs.server = "uuid,time_ms,observed_port,server_port\n";
  char line[128];
  for (std::size_t i = 0; i < kRows; ++i) {
    const auto local = static_cast<unsigned>(rng.uniform(1024, 65535));
    const auto server_port = static_cast<unsigned>(rng.uniform(2000, 2999));
    const auto now = kTimeZero + milliseconds(15 * i);
    const auto mapped = allocator->allocate(now, nat::PortRequest{0, static_cast<std::uint16_t>(local)}, rng);
    if (!mapped) continue;
    if (live_mappings > 0) {
      live.push_back(*mapped);
      if (live.size() > live_mappings) {
        allocator->release(now, live.front());
        live.pop_front();
      }
    }
    const auto a = rng.next_u64(), b = rng.next_u64();
    char id[40];
    std::snprintf(id, sizeof id, "%08llx-%04llx-4%03llx-a%03llx-%012llx", (unsigned long long)(a >> 32),
                  (unsigned long long)(a >> 16 & 0xffff), (unsigned long long)(a & 0xfff),
                  (unsigned long long)(b >> 48 & 0xfff), (unsigned long long)(b & 0xffffffffffffULL));
    std::snprintf(line, sizeof line, "%s,%zu,%u,%u\n", id, 15 * i, local, server_port);
    logs.client += line;
    std::snprintf(line, sizeof line, "%s,%zu,%u,%u\n", id, 15 * i + 3'600'000, unsigned{*mapped}, server_port);
    logs.server += line;
  }
  return logs;
}

void run_pipeline(benchmark::State& state, const nat::AllocatorSpec& spec, std::size_t live, AllocatorKind expected) {
  const Logs logs = make_logs(spec, live);
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
BENCHMARK(Analyze1M_Uniform)->Unit(benchmark::kMillisecond);
BENCHMARK(Analyze1M_BetaVodafone)->Unit(benchmark::kMillisecond);
BENCHMARK(Phase1M_ParseBoth)->Unit(benchmark::kMillisecond);
BENCHMARK(Phase1M_Join)->Unit(benchmark::kMillisecond);
BENCHMARK(Phase1M_DetectBlock)->Unit(benchmark::kMillisecond);
BENCHMARK(Baseline_SplitLines)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace natpunch::analyze

BENCHMARK_MAIN();
