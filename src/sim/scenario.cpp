#include "sim/scenario.hpp"

#include <algorithm>

#include "sim/network.hpp"
#include "sim/machine_host.hpp"

namespace natpunch::sim {
namespace {

const IpAddress kPeerA = IpAddress::v4({100, 64, 0, 2});
const IpAddress kPeerB = IpAddress::v4({100, 64, 0, 3});
const IpAddress kNatA = IpAddress::v4({203, 0, 113, 1});
const IpAddress kNatB = IpAddress::v4({203, 0, 113, 2});
const Endpoint kRendezvous{IpAddress::v4({198, 51, 100, 1}), 3478};
constexpr std::uint16_t kFirstLocalPort = 40000;

wire::SessionKey session_key(Rng& seeds) {
  wire::SessionKey key{};
  for (std::size_t i = 0; i < key.size(); i += 8) {
    const std::uint64_t v = seeds.next_u64();
    for (std::size_t j = 0; j < 8; ++j) key[i + j] = static_cast<std::uint8_t>(v >> (8 * j));
  }
  return key;
}

// Two NATs on a fresh network; the pieces both kinds of run share.
struct Rig {
  explicit Rig(Rng& seeds) : network(seeds.next_u64()) {}
  Network network;
  nat::NatConfig config_a;
  nat::NatConfig config_b;
  NatId nat_a = 0;
  NatId nat_b = 0;
};

std::optional<nat::NatConfigError> build(Rig& rig, const nat::NatConfig& a, const nat::NatConfig& b, const SidePath& path_a,
                                         const SidePath& path_b) {
  rig.config_a = a;
  rig.config_b = b;
  if (rig.config_a.public_addresses.empty()) rig.config_a.public_addresses = {kNatA};
  if (rig.config_b.public_addresses.empty()) rig.config_b.public_addresses = {kNatB};
  auto nat_a = rig.network.add_nat(rig.config_a, path_a.uplink);
  if (!nat_a) return nat_a.error();
  auto nat_b = rig.network.add_nat(rig.config_b, path_b.uplink);
  if (!nat_b) return nat_b.error();
  rig.nat_a = *nat_a;
  rig.nat_b = *nat_b;
  return std::nullopt;
}

// A punching strategy on a host: socket i is local port first_port + i, all bound from the start.
using StrategyHost = MachineHost<punch::PunchStrategy>;
std::unique_ptr<StrategyHost> strategy_host(const IpAddress& address, std::uint16_t first_port,
                                            std::unique_ptr<punch::PunchStrategy> strategy) {
  const SocketId sockets = strategy->socket_count();
  return std::make_unique<StrategyHost>(address, first_port, std::move(strategy), sockets);
}

// Runs both hosts until one side connects or both are done.
PairOutcome run(Rig& rig, StrategyHost& peer_a, StrategyHost& peer_b, const SidePath& path_a, const SidePath& path_b,
                TimePoint start, TimePoint limit) {
  rig.network.add_inside_host(rig.nat_a, kPeerA, path_a.access, peer_a);
  rig.network.add_inside_host(rig.nat_b, kPeerB, path_b.access, peer_b);
  using punch::PunchOutcome;
  const auto connected = [&] {
    return peer_a.machine().result().outcome == PunchOutcome::Connected ||
           peer_b.machine().result().outcome == PunchOutcome::Connected;
  };
  rig.network.run(limit, [&] { return connected() || (peer_a.machine().done() && peer_b.machine().done()); });

  PairOutcome outcome;
  outcome.a = peer_a.machine().result();
  outcome.b = peer_b.machine().result();
  outcome.connected = connected();
  outcome.probes_a = outcome.a.probes_sent;
  outcome.probes_b = outcome.b.probes_sent;
  if (outcome.connected) {
    const bool a_first = outcome.a.outcome == PunchOutcome::Connected;
    outcome.time_to_connect = (a_first ? outcome.a.connected_at : outcome.b.connected_at) - start;
  }
  outcome.events = rig.network.counters().events;
  for (std::size_t i = 0; i < outcome.drops_a.size(); ++i) {
    outcome.drops_a[i] = rig.network.nat(rig.nat_a).drops(static_cast<nat::Drop>(i));
    outcome.drops_b[i] = rig.network.nat(rig.nat_b).drops(static_cast<nat::Drop>(i));
  }
  return outcome;
}

// A side's copy of the shared attack settings, pointed at the other side's
// NAT and carrying the session both share (NaiveBirthdayConfig and
// StrategyParams name these fields alike).
template <class Config>
Config config_for_side(Config shared, const nat::NatConfig& peer_nat, std::uint64_t session, const wire::SessionKey& key,
                       wire::SessionRole role) {
  shared.peer_address = peer_nat.public_addresses.front();
  shared.session_id = session;
  shared.key = key;
  shared.role = role;
  return shared;
}

// The rendezvous registration: socket 0's first datagram goes to the
// server, which sees (and reports to the peer) the external port.
std::optional<std::uint16_t> register_at_rendezvous(Network& network, NatId nat, const IpAddress& peer, TimePoint now) {
  auto translated = network.nat(nat).table().outbound(now, Endpoint{peer, kFirstLocalPort}, kRendezvous, 64);
  if (!translated) return std::nullopt;
  return translated->source.port;
}

punch::SideKnowledge knowledge(const nat::NatConfig& config, const std::optional<nat::AllocatorSpec>& told,
                               std::optional<std::uint16_t> observed) {
  punch::SideKnowledge k;
  k.mapping = config.mapping;
  k.filtering = config.filtering;
  k.allocator = told ? told : std::optional<nat::AllocatorSpec>(config.allocator);
  k.observed_port = observed;
  return k;
}

punch::StrategyKind strategy_for_side(StrategyMode mode, const punch::SideKnowledge& self,
                                      const punch::SideKnowledge& peer) {
  switch (mode) {
    case StrategyMode::Naive: return punch::StrategyKind::NaiveBirthday;
    case StrategyMode::Improved: return punch::StrategyKind::ImprovedBirthday;
    case StrategyMode::Auto: return punch::choose_strategy(self, peer).kind;
  }
  return punch::StrategyKind::NaiveBirthday;
}

}  // namespace

Result<PairOutcome, nat::NatConfigError> run_naive_pair(const NaivePairScenario& scenario, std::uint64_t seed) {
  Rng seeds(seed);
  Rig rig(seeds);
  if (auto bad = build(rig, scenario.nat_a, scenario.nat_b, scenario.path_a, scenario.path_b)) return Unexpected{*bad};

  const std::uint64_t session = seeds.next_u64();
  const wire::SessionKey key = session_key(seeds);
  const auto attack_a = config_for_side(scenario.attack, rig.config_b, session, key, wire::SessionRole::Caller);
  const auto attack_b = config_for_side(scenario.attack, rig.config_a, session, key, wire::SessionRole::Callee);

  Rng rng_a(seeds.next_u64());
  Rng rng_b(seeds.next_u64());
  const TimePoint start = kTimeZero;
  auto machine_a = std::make_unique<punch::NaiveBirthday>(attack_a, rng_a, start);
  auto machine_b = std::make_unique<punch::NaiveBirthday>(attack_b, rng_b, start + scenario.start_offset_b);
  const std::uint16_t first_a = machine_a->local_port(0);
  const std::uint16_t first_b = machine_b->local_port(0);
  auto peer_a = strategy_host(kPeerA, first_a, std::move(machine_a));
  auto peer_b = strategy_host(kPeerB, first_b, std::move(machine_b));
  // Both machines finish on their own (budget + linger); the limit only
  // guards against a machine that never does.
  const TimePoint limit = start + scenario.start_offset_b +
                          scenario.attack.send_interval * static_cast<Duration::rep>(scenario.attack.probe_budget) +
                          scenario.attack.linger + std::chrono::minutes(10);
  return run(rig, *peer_a, *peer_b, scenario.path_a, scenario.path_b, start, limit);
}

Result<PairOutcome, nat::NatConfigError> run_strategy_pair(const StrategyPairScenario& scenario, std::uint64_t seed) {
  Rng seeds(seed);
  Rig rig(seeds);
  if (auto bad = build(rig, scenario.nat_a, scenario.nat_b, scenario.path_a, scenario.path_b)) return Unexpected{*bad};

  const std::uint64_t session = seeds.next_u64();
  const wire::SessionKey key = session_key(seeds);
  const TimePoint start = kTimeZero + scenario.registration_lead;
  const auto observed_a = register_at_rendezvous(rig.network, rig.nat_a, kPeerA, kTimeZero);
  const auto observed_b = register_at_rendezvous(rig.network, rig.nat_b, kPeerB, kTimeZero);
  const punch::SideKnowledge side_a = knowledge(rig.config_a, scenario.told_allocator_a, observed_a);
  const punch::SideKnowledge side_b = knowledge(rig.config_b, scenario.told_allocator_b, observed_b);

  const punch::StrategyKind kind_a = strategy_for_side(scenario.mode, side_a, side_b);
  const punch::StrategyKind kind_b = strategy_for_side(scenario.mode, side_b, side_a);
  const auto params_a = config_for_side(scenario.params, rig.config_b, session, key, wire::SessionRole::Caller);
  const auto params_b = config_for_side(scenario.params, rig.config_a, session, key, wire::SessionRole::Callee);

  Rng rng_a(seeds.next_u64());
  Rng rng_b(seeds.next_u64());
  auto peer_a = strategy_host(kPeerA, kFirstLocalPort, punch::make_strategy(kind_a, side_a, side_b, params_a, rng_a, start));
  auto peer_b = strategy_host(kPeerB, kFirstLocalPort,
                              punch::make_strategy(kind_b, side_b, side_a, params_b, rng_b, start + scenario.start_offset_b));
  const Duration sending = scenario.params.send_interval * static_cast<Duration::rep>(scenario.params.probe_budget);
  const TimePoint limit = start + scenario.start_offset_b + std::min(sending, scenario.params.time_budget.value_or(sending)) +
                          scenario.params.linger + std::chrono::minutes(10);
  PairOutcome outcome = run(rig, *peer_a, *peer_b, scenario.path_a, scenario.path_b, start, limit);
  outcome.kind_a = kind_a;
  outcome.kind_b = kind_b;
  return outcome;
}

}  // namespace natpunch::sim
