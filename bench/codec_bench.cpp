// Micro-benchmarks of the per-packet building blocks issue 7 lists that no
// other bench program covers on its own: the STUN codec (encode and decode
// of the Binding messages the server and client exchange) and the port
// choosers a birthday attack draws every probe's destination from. Each
// group has a baseline measured in the same run: copying the datagram for
// the codec, one plain uniform draw from the same Rng for the choosers.
//
//   natpunch_bench_codec --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// (MAC cost per probe: natpunch_bench_probe_mac; NAT table operations:
// natpunch_bench_nat_table; simulator events/s: bench/matrix_bench.sh.)
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

#include "core/endpoint.hpp"
#include "core/rng.hpp"
#include "nat/allocator_spec_text.hpp"
#include "punch/port_chooser_factory.hpp"
#include "stun/message.hpp"

namespace natpunch {
namespace {

void add_min_max(benchmark::internal::Benchmark* b) {
  b->ComputeStatistics("min", [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); });
  b->ComputeStatistics("max", [](const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); });
}

const stun::TransactionId kId{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
const Endpoint kMapped{IpAddress::v4({198, 51, 100, 7}), 40123};
const Endpoint kOrigin{IpAddress::v4({203, 0, 113, 10}), 3478};
const Endpoint kOther{IpAddress::v4({203, 0, 113, 11}), 3479};

// What natpunch stun-server answers: XOR-MAPPED-ADDRESS, MAPPED-ADDRESS
// (RFC 3489 clients), RESPONSE-ORIGIN, OTHER-ADDRESS, SOFTWARE, FINGERPRINT.
std::size_t encode_response(std::span<std::uint8_t> buffer) {
  stun::MessageBuilder b(buffer, stun::Method::Binding, stun::MessageClass::SuccessResponse, kId);
  b.add_xor_address(stun::attr::kXorMappedAddress, kMapped);
  b.add_address(stun::attr::kMappedAddress, kMapped);
  b.add_address(stun::attr::kResponseOrigin, kOrigin);
  b.add_address(stun::attr::kOtherAddress, kOther);
  b.add_string(stun::attr::kSoftware, "natpunch");
  b.add_fingerprint();
  return b.ok() ? b.size() : 0;
}

// What a discovery client sends: CHANGE-REQUEST and FINGERPRINT.
std::size_t encode_request(std::span<std::uint8_t> buffer) {
  stun::MessageBuilder b(buffer, stun::Method::Binding, stun::MessageClass::Request, kId);
  b.add_change_request(true, false);
  b.add_fingerprint();
  return b.ok() ? b.size() : 0;
}

void StunEncode_Response(benchmark::State& state) {
  std::array<std::uint8_t, 548> buffer{};
  for (auto _ : state) {
    const std::size_t n = encode_response(buffer);
    benchmark::DoNotOptimize(n);
    benchmark::DoNotOptimize(buffer.data());
  }
  state.counters["bytes"] = static_cast<double>(encode_response(buffer));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(StunEncode_Response)->Apply(add_min_max);

void StunEncode_Request(benchmark::State& state) {
  std::array<std::uint8_t, 548> buffer{};
  for (auto _ : state) {
    const std::size_t n = encode_request(buffer);
    benchmark::DoNotOptimize(n);
    benchmark::DoNotOptimize(buffer.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(StunEncode_Request)->Apply(add_min_max);

// Decode + validate (every attribute, the FINGERPRINT CRC) + read the
// reflexive and alternate addresses, as a client does with a response.
void StunDecode_Response(benchmark::State& state) {
  std::array<std::uint8_t, 548> buffer{};
  const std::size_t n = encode_response(buffer);
  const std::span<const std::uint8_t> datagram(buffer.data(), n);
  for (auto _ : state) {
    auto view = stun::MessageView::decode(datagram);
    if (!view) throw std::runtime_error("the response does not decode");
    auto mapped = view->reflexive_address();
    auto other = view->alternate_address();
    benchmark::DoNotOptimize(mapped);
    benchmark::DoNotOptimize(other);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(StunDecode_Response)->Apply(add_min_max);

// What the server does first with every request.
void StunDecode_Request(benchmark::State& state) {
  std::array<std::uint8_t, 548> buffer{};
  const std::size_t n = encode_request(buffer);
  const std::span<const std::uint8_t> datagram(buffer.data(), n);
  for (auto _ : state) {
    auto view = stun::MessageView::decode(datagram);
    if (!view) throw std::runtime_error("the request does not decode");
    auto change = view->change_request();
    benchmark::DoNotOptimize(change);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(StunDecode_Request)->Apply(add_min_max);

// A datagram that is not STUN (a probe): the demultiplexer's early reject.
void StunDecode_RejectNonStun(benchmark::State& state) {
  std::array<std::uint8_t, 52> probe{};
  probe[0] = 'N';
  probe[1] = 'P';
  for (auto _ : state) {
    const bool maybe = stun::MessageView::looks_like_stun(probe);
    auto view = stun::MessageView::decode(probe);
    benchmark::DoNotOptimize(maybe);
    benchmark::DoNotOptimize(view);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(StunDecode_RejectNonStun)->Apply(add_min_max);

// Baseline: only copying the response's bytes.
void StunBaseline_CopyResponse(benchmark::State& state) {
  std::array<std::uint8_t, 548> buffer{};
  const std::size_t n = encode_response(buffer);
  std::array<std::uint8_t, 548> copy{};
  for (auto _ : state) {
    benchmark::DoNotOptimize(buffer.data());
    std::memcpy(copy.data(), buffer.data(), n);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(StunBaseline_CopyResponse)->Apply(add_min_max);

// --- port choosers: one destination port per probe

punch::PeerPortKnowledge knowledge(const char* allocator, nat::MappingBehavior mapping, bool observed) {
  punch::PeerPortKnowledge k;
  auto spec = nat::parse_allocator_spec(allocator);
  if (!spec) throw std::runtime_error(std::string("bad allocator spec ") + allocator);
  k.allocator = *spec;
  k.mapping = mapping;
  if (observed) k.observed_port = 40000;
  return k;
}

// Draws ports from a fresh chooser until `state` is done; a chooser that
// runs dry (a no-repeat order exhausted) is rebuilt outside the timing.
void run_chooser(benchmark::State& state, const punch::PeerPortKnowledge& k) {
  Rng rng(7);
  auto chooser = punch::make_port_chooser(k);
  std::uint64_t rebuilt = 0;
  for (auto _ : state) {
    auto port = chooser->next(rng);
    if (!port) {
      state.PauseTiming();
      chooser = punch::make_port_chooser(k);
      ++rebuilt;
      state.ResumeTiming();
      port = chooser->next(rng);
    }
    benchmark::DoNotOptimize(port);
  }
  state.counters["orders_exhausted"] = static_cast<double>(rebuilt);
  state.SetItemsProcessed(state.iterations());
}

const auto kSymmetric = nat::MappingBehavior::AddressAndPortDependent;

// LycaMobile: uniform over [2048, 65535] without repeats.
void PortChooser_UniformNoRepeat(benchmark::State& state) {
  run_chooser(state, knowledge("uniform:2048-65535", kSymmetric, false));
}
BENCHMARK(PortChooser_UniformNoRepeat)->Apply(add_min_max);

// Lebara (endpoint-independent, 256-port blocks), no observed port:
// offset-major blocks (block starts first).
void PortChooser_BlockOrder(benchmark::State& state) {
  run_chooser(state, knowledge("block:256", nat::MappingBehavior::EndpointIndependent, false));
}
BENCHMARK(PortChooser_BlockOrder)->Apply(add_min_max);

// KPN (symmetric, 256-port blocks) with the observed port: the rest of its
// block in lockstep, then uniform without repeats.
void PortChooser_BlockPrediction(benchmark::State& state) {
  run_chooser(state, knowledge("block:256", kSymmetric, true));
}
BENCHMARK(PortChooser_BlockPrediction)->Apply(add_min_max);

// Vodafone: the Beta fit's densest ports first.
void PortChooser_BetaDensest(benchmark::State& state) {
  run_chooser(state, knowledge("beta", kSymmetric, false));
}
BENCHMARK(PortChooser_BetaDensest)->Apply(add_min_max);

// Baseline: one uniform draw from the same Rng (Algorithm 1's choice).
void PortChooser_BaselineUniformDraw(benchmark::State& state) {
  Rng rng(7);
  for (auto _ : state) {
    auto port = static_cast<std::uint16_t>(rng.uniform(1024, 65535));
    benchmark::DoNotOptimize(port);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(PortChooser_BaselineUniformDraw)->Apply(add_min_max);

}  // namespace
}  // namespace natpunch

BENCHMARK_MAIN();
