// What registering costs each side of the rendezvous server (issue 23):
// - the server's price of a forged Prove (a valid cookie, a well-formed
//   fake signature): the signature check it costs once per cookie, and what
//   every further Prove with the spent cookie costs (a refusal);
// - the registration puzzle: the server's check of a solution, and the
//   client's work for a 16-bit puzzle (2^16 attempts on average; a b-bit
//   puzzle costs 2^(b-16) times as much).
//
//   natpunch_bench_rendezvous_admission --benchmark_repetitions=3 --benchmark_min_time=0.3
#include <benchmark/benchmark.h>

#include "core/rng.hpp"
#include "rendezvous/crypto.hpp"
#include "rendezvous/server.hpp"

namespace natpunch::rendezvous {
namespace {

struct ForgedProve {
  Server server;
  Endpoint from{IpAddress::v4({203, 0, 113, 66}), 4444};
  std::vector<std::uint8_t> prove;

  explicit ForgedProve(Rng& rng)
      : server(config(), [&rng](std::span<std::uint8_t> out) { rng.fill(out); }, kTimeZero + seconds(1000)) {
    const Identity claimed = Identity::generate([&rng](std::span<std::uint8_t> out) { rng.fill(out); });
    Register r;
    r.identity = claimed.public_key;
    const auto replies = server.handle(kTimeZero + seconds(1000), encode(r), from);
    const auto c = std::get<Challenge>(*decode(replies.at(0).bytes));
    Prove p;
    p.identity = claimed.public_key;
    p.issued_at_ms = c.issued_at_ms;
    p.cookie = c.cookie;
    prove = encode(p);
    prove.back() ^= 1;  // well-formed, never valid
  }
  static ServerConfig config() {
    ServerConfig c;
    c.rate_limit.reset();
    c.admission.verifications.reset();
    return c;
  }
};

// Before issue 23 every such Prove (within the cookie's 10 s) cost this.
void Rendezvous_ForgedProve_SignatureCheck(benchmark::State& state) {
  Rng rng(1);
  std::uint64_t n = 0;
  for (auto _ : state) {
    state.PauseTiming();
    ForgedProve f(rng);  // a fresh cookie each time: its one check
    state.ResumeTiming();
    auto out = f.server.handle(kTimeZero + seconds(1000), f.prove, f.from);
    benchmark::DoNotOptimize(out);
    ++n;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(n));
}
BENCHMARK(Rendezvous_ForgedProve_SignatureCheck)->Iterations(2000);

// Now every further one with the same cookie costs this.
void Rendezvous_ForgedProve_SpentCookie(benchmark::State& state) {
  Rng rng(2);
  ForgedProve f(rng);
  f.server.handle(kTimeZero + seconds(1000), f.prove, f.from);  // spends the cookie
  for (auto _ : state) {
    auto out = f.server.handle(kTimeZero + seconds(1000), f.prove, f.from);
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(Rendezvous_ForgedProve_SpentCookie);

// The server's check of a puzzle solution (one hash, from scratch).
void Rendezvous_PuzzleCheck(benchmark::State& state) {
  Cookie cookie{};
  cookie.fill(3);
  PublicKey identity{};
  identity.fill(4);
  std::uint64_t attempts = 0;
  std::uint64_t start = 0;
  for (auto _ : state) {
    // 64 bits can never be met: every call tries exactly `batch` solutions.
    constexpr std::uint64_t kBatch = 1024;
    for (std::uint64_t i = 0; i < kBatch; ++i) benchmark::DoNotOptimize(puzzle_solved(cookie, identity, start + i, 64));
    start += kBatch;
    attempts += kBatch;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(attempts));
}
BENCHMARK(Rendezvous_PuzzleCheck);

void Rendezvous_SolvePuzzle16(benchmark::State& state) {
  Cookie cookie{};
  PublicKey identity{};
  identity.fill(4);
  std::uint64_t hashes = 0, puzzles = 0;
  for (auto _ : state) {
    cookie[0] = static_cast<std::uint8_t>(puzzles);
    cookie[1] = static_cast<std::uint8_t>(puzzles >> 8);
    hashes += solve_puzzle(cookie, identity, 16).hashes;
    ++puzzles;
  }
  state.counters["hashes_per_puzzle"] = static_cast<double>(hashes) / static_cast<double>(puzzles);
}
BENCHMARK(Rendezvous_SolvePuzzle16)->Iterations(64)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace natpunch::rendezvous

BENCHMARK_MAIN();
