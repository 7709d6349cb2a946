// Cost of one packet through nat::NatTable in the traffic the simulator
// pushes through it: birthday-attack probes (a new mapping, or a new filter
// entry, per probe; one probe every 2.98 ms as the thesis's phones managed;
// mappings expire after 120 s, so ~40,000 are live) and the peer's probes
// arriving at random ports (almost all dropped). The baseline does the same
// per-packet work with std::unordered_map (node-based: an allocation per
// insert), measured in the same run.
//
//   natpunch_bench_nat_table --benchmark_repetitions=5 --benchmark_min_time=0.5
#include <benchmark/benchmark.h>

#include <algorithm>
#include <unordered_map>
#include <vector>

#include "core/endpoint.hpp"
#include "core/rng.hpp"
#include "nat/nat_table.hpp"

namespace natpunch::nat {
namespace {

const IpAddress kPublic = IpAddress::v4({198, 51, 100, 1});
const IpAddress kPeerPublic = IpAddress::v4({203, 0, 113, 7});
const Endpoint kPhone{IpAddress::v4({100, 64, 0, 2}), 40000};
constexpr Duration kProbeInterval = std::chrono::microseconds(2980);
constexpr std::size_t kPayload = 64;

NatTable make(MappingBehavior mapping, FilteringBehavior filtering, AllocatorSpec allocator) {
  NatConfig config;
  config.mapping = mapping;
  config.filtering = filtering;
  config.allocator = allocator;
  config.pending_timeout = seconds(120);
  config.established_timeout = seconds(240);
  config.public_addresses = {kPublic};
  Rng rng(42);
  return NatTable::create(config, rng).value();
}

// Random ports drawn up front, so the loop measures the NAT, not the RNG.
std::vector<std::uint16_t> random_ports(std::size_t n, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<std::uint16_t> ports(n);
  for (auto& p : ports) p = static_cast<std::uint16_t>(rng.uniform(1024, 65535));
  return ports;
}

// Remote ports of successive probes: one shuffled pass over 1024..65535,
// repeated, so a port comes back only after 64,512 probes, longer than the
// ~40,000 a mapping lives: every probe opens a new flow (the worst case for
// the table).
const std::vector<std::uint16_t>& probe_ports() {
  static const auto ports = [] {
    Rng rng(1);
    std::vector<std::uint16_t> pass(65536 - 1024);
    for (std::size_t i = 0; i < pass.size(); ++i) pass[i] = static_cast<std::uint16_t>(1024 + i);
    std::shuffle(pass.begin(), pass.end(), rng.engine());
    return pass;
  }();
  return ports;
}

std::uint16_t probe_port(std::size_t i) { return probe_ports()[i % probe_ports().size()]; }

// Sends probes until the table is in its steady state (pending timeout
// worth of probes live), returning the time reached.
TimePoint warm_up(NatTable& nat, std::size_t& cursor) {
  TimePoint now = kTimeZero;
  for (int i = 0; i < 50000; ++i, now += kProbeInterval)
    nat.outbound(now, kPhone, Endpoint{kPeerPublic, probe_port(cursor++)}, kPayload);
  return now;
}

void add_min_max(benchmark::internal::Benchmark* b) {
  b->ComputeStatistics("min", [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); });
  b->ComputeStatistics("max", [](const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); });
}

// Symmetric NAT (KPN, Orange BE): every probe to a new remote port opens a
// new mapping; allocator as named.
void outbound_probe(benchmark::State& state, AllocatorSpec allocator) {
  auto nat = make(MappingBehavior::AddressAndPortDependent, FilteringBehavior::AddressAndPortDependent, allocator);
  std::size_t cursor = 0;
  TimePoint now = warm_up(nat, cursor);
  std::size_t dropped = 0;
  for (auto _ : state) {
    auto out = nat.outbound(now, kPhone, Endpoint{kPeerPublic, probe_port(cursor++)}, kPayload);
    dropped += !out.ok();
    benchmark::DoNotOptimize(out);
    now += kProbeInterval;
  }
  state.counters["live_mappings"] = double(nat.mapping_count());
  state.counters["dropped"] = double(dropped);
}
void BM_OutboundProbe_Symmetric_RandomFully(benchmark::State& state) { outbound_probe(state, RandomFullySpec{}); }
void BM_OutboundProbe_Symmetric_Block256(benchmark::State& state) { outbound_probe(state, BlockSpec{}); }
void BM_OutboundProbe_Symmetric_BetaVodafone(benchmark::State& state) { outbound_probe(state, BetaSpec{}); }
BENCHMARK(BM_OutboundProbe_Symmetric_RandomFully)->Apply(add_min_max);
BENCHMARK(BM_OutboundProbe_Symmetric_Block256)->Apply(add_min_max);
BENCHMARK(BM_OutboundProbe_Symmetric_BetaVodafone)->Apply(add_min_max);

// Port-restricted cone: one mapping, a new filter entry per probe.
void BM_OutboundProbe_PortRestrictedCone(benchmark::State& state) {
  auto nat = make(MappingBehavior::EndpointIndependent, FilteringBehavior::AddressAndPortDependent, UniformSpec{});
  std::size_t cursor = 0;
  TimePoint now = warm_up(nat, cursor);
  for (auto _ : state) {
    auto out = nat.outbound(now, kPhone, Endpoint{kPeerPublic, probe_port(cursor++)}, kPayload);
    benchmark::DoNotOptimize(out);
    now += kProbeInterval;
  }
}
BENCHMARK(BM_OutboundProbe_PortRestrictedCone)->Apply(add_min_max);

// The peer's probes arriving at random external ports of a symmetric NAT
// holding ~40,000 mappings: nearly every one is dropped (filtered or no
// mapping), which is the common case of a birthday attack.
void inbound_probe(benchmark::State& state, MappingBehavior mapping, FilteringBehavior filtering) {
  auto nat = make(mapping, filtering, RandomFullySpec{});
  std::size_t cursor = 0;
  TimePoint now = warm_up(nat, cursor);
  const auto arrivals = random_ports(1 << 20, 2);
  std::size_t admitted = 0;
  std::size_t i = 0;
  for (auto _ : state) {
    const std::uint16_t from_port = arrivals[(i + 7) & (arrivals.size() - 1)];
    auto in = nat.inbound(now, Endpoint{kPeerPublic, from_port}, Endpoint{kPublic, arrivals[i & (arrivals.size() - 1)]},
                          kPayload);
    admitted += in.ok();
    benchmark::DoNotOptimize(in);
    ++i;
  }
  state.counters["admitted"] = double(admitted);
}
void BM_InboundProbe_Symmetric(benchmark::State& state) {
  inbound_probe(state, MappingBehavior::AddressAndPortDependent, FilteringBehavior::AddressAndPortDependent);
}
void BM_InboundProbe_PortRestrictedCone(benchmark::State& state) {
  inbound_probe(state, MappingBehavior::EndpointIndependent, FilteringBehavior::AddressAndPortDependent);
}
BENCHMARK(BM_InboundProbe_Symmetric)->Apply(add_min_max);
BENCHMARK(BM_InboundProbe_PortRestrictedCone)->Apply(add_min_max);

// An established flow (keepalive or data after the punch): lookup + refresh.
void BM_EstablishedFlow_OutboundAndInbound(benchmark::State& state) {
  auto nat = make(MappingBehavior::EndpointIndependent, FilteringBehavior::AddressAndPortDependent, UniformSpec{});
  const Endpoint peer{kPeerPublic, 50000};
  TimePoint now = kTimeZero;
  const Endpoint external = nat.outbound(now, kPhone, peer, kPayload)->source;
  for (auto _ : state) {
    auto out = nat.outbound(now, kPhone, peer, kPayload);
    auto in = nat.inbound(now, peer, external, kPayload);
    benchmark::DoNotOptimize(out);
    benchmark::DoNotOptimize(in);
    now += kProbeInterval;
  }
  state.SetItemsProcessed(state.iterations() * 2);  // two packets per iteration
}
BENCHMARK(BM_EstablishedFlow_OutboundAndInbound)->Apply(add_min_max);

// Baseline: the per-probe work of a symmetric NAT done with a node-based
// std::unordered_map: insert the new flow, erase the one that expired.
struct FlowKey {
  Endpoint internal;
  Endpoint remote;
  bool operator==(const FlowKey&) const = default;
};
struct FlowKeyHash {
  std::size_t operator()(const FlowKey& k) const noexcept {
    return std::hash<Endpoint>{}(k.internal) * 31 + std::hash<Endpoint>{}(k.remote);
  }
};
void BM_Baseline_UnorderedMapInsertErase(benchmark::State& state) {
  std::unordered_map<FlowKey, std::uint16_t, FlowKeyHash> flows;
  const std::size_t live = 40268;  // 120 s / 2.98 ms
  std::size_t cursor = 0;
  for (; cursor < live; ++cursor)
    flows[FlowKey{kPhone, Endpoint{kPeerPublic, probe_port(cursor)}}] = static_cast<std::uint16_t>(cursor);
  for (auto _ : state) {
    const std::size_t i = cursor++;
    flows.erase(FlowKey{kPhone, Endpoint{kPeerPublic, probe_port(i - live)}});
    auto [it, inserted] = flows.try_emplace(FlowKey{kPhone, Endpoint{kPeerPublic, probe_port(i)}}, std::uint16_t(i));
    benchmark::DoNotOptimize(it);
    benchmark::DoNotOptimize(inserted);
  }
}
BENCHMARK(BM_Baseline_UnorderedMapInsertErase)->Apply(add_min_max);

}  // namespace
}  // namespace natpunch::nat

BENCHMARK_MAIN();
