#include "sim/scenario.hpp"

#include <algorithm>

#include "sim/naive_birthday_app.hpp"
#include "sim/network.hpp"

namespace natpunch::sim {
namespace {

const IpAddress kPeerA = IpAddress::v4({100, 64, 0, 2});
const IpAddress kPeerB = IpAddress::v4({100, 64, 0, 3});
const IpAddress kNatA = IpAddress::v4({203, 0, 113, 1});
const IpAddress kNatB = IpAddress::v4({203, 0, 113, 2});

}  // namespace

Result<NaivePairOutcome, nat::NatConfigError> run_naive_pair(const NaivePairScenario& scenario, std::uint64_t seed) {
  Rng seeds(seed);
  Network network(seeds.next_u64());

  nat::NatConfig config_a = scenario.nat_a;
  nat::NatConfig config_b = scenario.nat_b;
  if (config_a.public_addresses.empty()) config_a.public_addresses = {kNatA};
  if (config_b.public_addresses.empty()) config_b.public_addresses = {kNatB};
  auto nat_a = network.add_nat(config_a, scenario.path_a.uplink);
  if (!nat_a) return Unexpected{nat_a.error()};
  auto nat_b = network.add_nat(config_b, scenario.path_b.uplink);
  if (!nat_b) return Unexpected{nat_b.error()};

  const std::uint64_t session = seeds.next_u64();
  punch::NaiveBirthdayConfig attack_a = scenario.attack;
  attack_a.peer_address = config_b.public_addresses.front();
  attack_a.session_id = session;
  punch::NaiveBirthdayConfig attack_b = scenario.attack;
  attack_b.peer_address = config_a.public_addresses.front();
  attack_b.session_id = session;

  Rng rng_a(seeds.next_u64());
  Rng rng_b(seeds.next_u64());
  const TimePoint start = kTimeZero;
  NaiveBirthdayApp peer_a(kPeerA, attack_a, rng_a, start);
  NaiveBirthdayApp peer_b(kPeerB, attack_b, rng_b, start + scenario.start_offset_b);
  network.add_inside_host(*nat_a, kPeerA, scenario.path_a.access, peer_a);
  network.add_inside_host(*nat_b, kPeerB, scenario.path_b.access, peer_b);

  using punch::PunchOutcome;
  const auto connected = [&] {
    return peer_a.attack().result().outcome == PunchOutcome::Connected ||
           peer_b.attack().result().outcome == PunchOutcome::Connected;
  };
  // Both machines finish on their own (budget + linger); the limit only
  // guards against a machine that never does.
  const TimePoint limit = start + scenario.start_offset_b +
                          scenario.attack.send_interval * static_cast<Duration::rep>(scenario.attack.probe_budget) +
                          scenario.attack.linger + std::chrono::minutes(10);
  network.run(limit, [&] { return connected() || (peer_a.attack().done() && peer_b.attack().done()); });

  NaivePairOutcome outcome;
  outcome.a = peer_a.attack().result();
  outcome.b = peer_b.attack().result();
  outcome.connected = connected();
  outcome.probes_a = outcome.a.probes_sent;
  outcome.probes_b = outcome.b.probes_sent;
  if (outcome.connected) {
    const bool a_first = outcome.a.outcome == PunchOutcome::Connected;
    outcome.time_to_connect = (a_first ? outcome.a.connected_at : outcome.b.connected_at) - start;
  }
  outcome.events = network.counters().events;
  for (std::size_t i = 0; i < outcome.drops_a.size(); ++i) {
    outcome.drops_a[i] = network.nat(*nat_a).drops(static_cast<nat::Drop>(i));
    outcome.drops_b[i] = network.nat(*nat_b).drops(static_cast<nat::Drop>(i));
  }
  return outcome;
}

}  // namespace natpunch::sim
