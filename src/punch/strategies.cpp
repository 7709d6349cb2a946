#include "punch/strategies.hpp"

#include "punch/port_chooser_chain.hpp"
#include "punch/port_chooser_factory.hpp"
#include "punch/port_chooser_uniform.hpp"

namespace natpunch::punch {
namespace {

ProbingConfig base_config(const StrategyParams& p) {
  ProbingConfig c;
  c.peer_address = p.peer_address;
  c.session_id = p.session_id;
  c.key = p.key;
  c.role = p.role;
  c.probe_budget = p.probe_budget;
  c.time_budget = p.time_budget;
  c.send_interval = p.send_interval;
  c.linger = p.linger;
  c.candidates = p.candidates;
  return c;
}

PeerPortKnowledge port_knowledge(const SideKnowledge& peer, const StrategyParams& p) {
  PeerPortKnowledge k;
  k.allocator = peer.allocator;
  k.mapping = peer.mapping;
  k.observed_port = peer.observed_port;
  k.predict = p.predict;
  return k;
}

// Knock on the peer's known endpoint; with none known, only listen (and
// answer) for as long as the budgets would have lasted.
std::unique_ptr<PunchStrategy> at_known_endpoint(ProbingConfig config, const SideKnowledge& peer, Rng& rng,
                                                 TimePoint start) {
  if (endpoint_known_and_stable(peer))
    return std::make_unique<ProbingMachine>(config, std::make_unique<RepeatPortChooser>(*peer.observed_port, config.probe_budget),
                                            rng, start);
  config.linger = config.time_budget.value_or(config.send_interval * static_cast<Duration::rep>(config.probe_budget));
  return std::make_unique<ProbingMachine>(config, std::make_unique<RepeatPortChooser>(0, 0), rng, start);
}

}  // namespace

std::unique_ptr<PunchStrategy> make_strategy(StrategyKind kind, const SideKnowledge& local, const SideKnowledge& peer,
                                             const StrategyParams& params, Rng& rng, TimePoint start) {
  ProbingConfig config = base_config(params);
  switch (kind) {
    case StrategyKind::RelayOnly:
      return std::make_unique<RelayOnlyStrategy>();
    case StrategyKind::Direct:
    case StrategyKind::HolePunch:
      return at_known_endpoint(config, peer, rng, start);
    case StrategyKind::OneHardSide:
      if (endpoint_known_and_stable(local))
        return std::make_unique<ProbingMachine>(config, make_port_chooser(port_knowledge(peer, params)), rng, start);
      config.sockets = params.many_sockets;
      return at_known_endpoint(config, peer, rng, start);
    case StrategyKind::NaiveBirthday:
      return std::make_unique<ProbingMachine>(
          config, std::make_unique<UniformPortChooser>(nat::kFirstUsablePort, nat::kLastPort, Repeats::Allowed), rng,
          start);
    case StrategyKind::ImprovedBirthday:
      if (local.mapping == nat::MappingBehavior::EndpointIndependent) config.sockets = params.many_sockets;
      return std::make_unique<ProbingMachine>(config, make_port_chooser(port_knowledge(peer, params)), rng, start);
  }
  return std::make_unique<RelayOnlyStrategy>();
}

}  // namespace natpunch::punch
