// Cost of authenticating one punching probe (wire/probe.hpp): stamping a
// sequence + nonce into the encoded template and recomputing its
// SipHash-128 MAC, as ProbingMachine does per probe; verifying a received
// one; and, measured in the same run, the two baselines: stamping the
// unauthenticated way (a plain field write, what v1 probes cost) and the
// keyed BLAKE2b-128 MAC the format could have used instead.
//
//   natpunch_bench_probe_mac --benchmark_repetitions=5 --benchmark_min_time=0.5
#include <benchmark/benchmark.h>

#include <sodium.h>

#include <cstring>

#include "wire/probe.hpp"

namespace natpunch::wire {
namespace {

SessionKey test_key() {
  SessionKey key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(i * 7 + 1);
  return key;
}

void BM_StampPlainBaseline(benchmark::State& state) {
  ProbeBytes bytes{};
  std::uint32_t sequence = 0;
  for (auto _ : state) {
    ++sequence;
    std::memcpy(bytes.data() + 12, &sequence, sizeof sequence);
    benchmark::DoNotOptimize(bytes);
  }
}
BENCHMARK(BM_StampPlainBaseline);

void BM_StampAndMac(benchmark::State& state) {
  const ProbeKey key(test_key(), SessionRole::Caller);
  const NonceKey nonces({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16});
  ProbeBytes bytes = encode(ProbeMessage{ProbeKind::Probe, 42, 0, 0, 0, 0}, key);
  std::uint32_t sequence = 0;
  for (auto _ : state) {
    ++sequence;
    restamp(bytes, sequence, nonces.nonce(ProbeKind::Probe, sequence, static_cast<std::uint16_t>(sequence)), key);
    benchmark::DoNotOptimize(bytes);
  }
}
BENCHMARK(BM_StampAndMac);

void BM_MacOnly(benchmark::State& state) {
  const ProbeKey key(test_key(), SessionRole::Caller);
  ProbeBytes bytes = encode(ProbeMessage{ProbeKind::Probe, 42, 0, 0, 0, 0}, key);
  for (auto _ : state) {
    key.seal(std::span<const std::uint8_t, kProbeHeaderSize>(bytes.data(), kProbeHeaderSize),
            std::span<std::uint8_t, kProbeMacSize>(bytes.data() + kProbeHeaderSize, kProbeMacSize));
    benchmark::DoNotOptimize(bytes);
  }
}
BENCHMARK(BM_MacOnly);

void BM_KeyedBlake2b128Alternative(benchmark::State& state) {
  const SessionKey key = test_key();
  ProbeBytes bytes = encode(ProbeMessage{ProbeKind::Probe, 42, 0, 0, 0, 0}, ProbeKey(key, SessionRole::Caller));
  for (auto _ : state) {
    crypto_generichash(bytes.data() + kProbeHeaderSize, kProbeMacSize, bytes.data(), kProbeHeaderSize, key.data(),
                       key.size());
    benchmark::DoNotOptimize(bytes);
  }
}
BENCHMARK(BM_KeyedBlake2b128Alternative);

void BM_NonceOnly(benchmark::State& state) {
  const NonceKey nonces({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16});
  std::uint32_t sequence = 0;
  for (auto _ : state) {
    ++sequence;
    benchmark::DoNotOptimize(nonces.nonce(ProbeKind::Probe, sequence, 4242));
  }
}
BENCHMARK(BM_NonceOnly);

void BM_DecodeAndVerify(benchmark::State& state) {
  const ProbeKey key(test_key(), SessionRole::Caller), peer(test_key(), SessionRole::Callee);
  const ProbeBytes bytes = encode(ProbeMessage{ProbeKind::Ack, 42, 7, 3, 99, 100}, key);
  for (auto _ : state) benchmark::DoNotOptimize(decode_probe(bytes, peer));
}
BENCHMARK(BM_DecodeAndVerify);

void BM_DecodeForged(benchmark::State& state) {
  const ProbeKey key(test_key(), SessionRole::Caller), peer(test_key(), SessionRole::Callee);
  ProbeBytes bytes = encode(ProbeMessage{ProbeKind::Ack, 42, 7, 3, 99, 100}, key);
  bytes[kProbeSize - 1] ^= 1;
  for (auto _ : state) benchmark::DoNotOptimize(decode_probe(bytes, peer));
}
BENCHMARK(BM_DecodeForged);

}  // namespace
}  // namespace natpunch::wire

BENCHMARK_MAIN();
