#include "stun/discovery.hpp"

#include <algorithm>
#include <utility>

#include "stun/binding_request.hpp"

namespace natpunch::stun {

NatDiscovery::NatDiscovery(DiscoveryConfig config, Rng& rng, TimePoint now)
    : config_(std::move(config)), rng_(rng.next_u64()), followup_(config_.retransmit) {
  if (config_.filtering_socket == SocketId{0}) config_.filtering_socket.reset();  // socket 0 runs them anyway
  if (config_.servers.empty()) {
    add_note("no STUN server configured");
    finish();
    return;
  }
  start(Test::Binding, config_.servers.front(), config_.servers.front(), now);
}

void NatDiscovery::start(Test test, const Endpoint& to, const Endpoint& expect_from, TimePoint now, SocketId socket) {
  TransactionId id{};
  rng_.fill(id);
  const bool change_ip = test == Test::ChangeBoth;
  const bool change_port = test == Test::ChangeBoth || test == Test::ChangePort;
  const RetransmitPolicy& policy = test == Test::Binding ? config_.retransmit : followup_;
  probes_.push_back(Probe{test, socket, now,
                          ClientTransaction(make_binding_request(id, change_ip, change_port), to, policy, now),
                          expect_from, false, false, std::nullopt, std::nullopt});
}

NatDiscovery::Probe* NatDiscovery::find(Test test) {
  for (auto& p : probes_)
    if (p.test == test) return &p;
  return nullptr;
}

void NatDiscovery::drop(Test test) {
  std::erase_if(probes_, [test](const Probe& p) { return p.test == test; });
}

std::optional<Transmit> NatDiscovery::poll_transmit(TimePoint now) {
  for (auto& p : probes_) {
    if (p.answered) continue;  // a hairpinned request leaves its transaction pending
    if (auto bytes = p.transaction.poll_transmit(now)) return Transmit{p.socket, p.transaction.destination(), *bytes};
  }
  return std::nullopt;
}

std::optional<DiscoveryEvent> NatDiscovery::poll_event() {
  if (!done() || reported_) return std::nullopt;
  reported_ = true;
  return discovery_event::Done{result_};
}

std::optional<TimePoint> NatDiscovery::next_deadline() const {
  std::optional<TimePoint> earliest;
  for (const auto& p : probes_) {
    if (p.finished()) continue;
    if (auto d = p.transaction.next_deadline(); d && (!earliest || *d < *earliest)) earliest = d;
  }
  return earliest;
}

void NatDiscovery::on_timer(TimePoint now) {
  for (auto& p : probes_)
    if (!p.answered) p.transaction.on_timer(now);
  advance(now);
}

void NatDiscovery::on_datagram(TimePoint now, SocketId socket, const Endpoint& from,
                               std::span<const std::uint8_t> datagram) {
  if ((socket != 0 && socket != config_.filtering_socket) || done()) return;
  const auto decoded = MessageView::decode(datagram);
  if (!decoded) return;
  const MessageView& message = decoded.value();

  for (auto& p : probes_) {
    if (p.finished() || p.socket != socket) continue;
    if (p.test == Test::Hairpin) {
      // Our own request, looped back by the NAT. Its source is whatever the
      // NAT translated it to, so only the 96-bit random id authenticates it.
      if (message.message_class() == MessageClass::Request &&
          message.method_value() == static_cast<std::uint16_t>(Method::Binding) &&
          message.cookie() == p.transaction.cookie() && message.transaction_id() == p.transaction.id()) {
        p.answered = true;
        break;
      }
      continue;
    }
    if (from != p.expect_from || !p.transaction.on_response(message)) continue;
    p.answered = true;
    if (p.transaction.state() == TransactionState::Succeeded) {
      p.mapped = message.reflexive_address();
      p.alternate = message.alternate_address();
    }
    p.error = !p.mapped;
    break;
  }
  advance(now);
}

void NatDiscovery::advance(TimePoint now) {
  switch (phase_) {
    case Phase::Binding:
      if (probes_.front().finished()) finish_binding(now);
      break;
    case Phase::Filtering:
      if (filtering_settled()) finish_filtering(now);
      break;
    case Phase::Mapping:
      if (mapping_settled()) finish_mapping(now);
      break;
    case Phase::Hairpinning: {
      const Probe* hairpin = find(Test::Hairpin);
      if (hairpin->finished()) {
        result_.hairpinning = hairpin->answered ? nat::Hairpinning::Yes : nat::Hairpinning::No;
        finish();
      }
      break;
    }
    case Phase::Concurrent:
      advance_concurrent();
      break;
    case Phase::Done:
      break;
  }
}

bool NatDiscovery::filtering_settled() {
  const Probe* both = find(Test::ChangeBoth);
  const Probe* port = find(Test::ChangePort);
  // An answer to change-both settles it; otherwise both must run out.
  return both->succeeded() || (both->finished() && port->finished());
}

bool NatDiscovery::mapping_settled() {
  const Probe* alt_ip = find(Test::AltIpPrimaryPort);
  const Probe* alt_both = find(Test::AltIpAltPort);
  return (alt_ip->succeeded() && alt_ip->mapped == result_.mapped) || (alt_ip->finished() && alt_both->finished());
}

void NatDiscovery::finish_binding(TimePoint now) {
  const Probe probe = std::move(probes_.front());
  probes_.clear();
  const Endpoint server = config_.servers[server_index_];

  if (!probe.succeeded()) {
    if (probe.answered) {
      any_server_answered_ = true;
      add_note("server " + server.to_string() + " answered without a usable mapped address");
    } else {
      add_note("server " + server.to_string() + " did not answer");
    }
    if (++server_index_ < config_.servers.size()) {
      start(Test::Binding, config_.servers[server_index_], config_.servers[server_index_], now);
      return;
    }
    // An error response proves UDP gets through, so that is not "blocked".
    result_.classic = any_server_answered_ ? nat::ClassicType::Unknown : nat::ClassicType::UdpBlocked;
    if (!any_server_answered_) add_note("no server answered: UDP blocked");
    finish();
    return;
  }

  if (server_index_ > 0) add_note("used " + server.to_string());
  result_.server = server;
  result_.mapped = probe.mapped;
  result_.server_alternate = probe.alternate;
  result_.round_trip = now - probe.started;
  if (config_.adapt_to_round_trip) followup_.rto = std::max(followup_.rto, 2 * *result_.round_trip);
  const bool behind_nat = *probe.mapped != config_.local;
  if (config_.local.address.is_unspecified()) add_note("local address not given: assuming a NAT");
  if (!behind_nat) {
    result_.mapping = nat::MappingBehavior::None;
    add_note("no NAT: mapped address equals local address");
  }

  // Change-IP and change-port tests mean nothing unless the alternate differs
  // in both (RFC 5780 §6).
  const auto& alt = probe.alternate;
  if (!alt || alt->address == server.address || alt->port == server.port) {
    const std::string why = alt ? "server " + server.to_string() + " gave alternate address " + alt->to_string() +
                                      ", which does not differ in both IP and port"
                                : "server " + server.to_string() + " has no alternate address";
    add_note(why + (behind_nat ? ": filtering/mapping behaviour unknown" : ": filtering behaviour unknown"));
    result_.classic = nat::classic_type(result_.mapping, result_.filtering);
    if (behind_nat) {
      start_hairpinning_or_finish(now);
    } else {
      finish();
    }
    return;
  }

  if (config_.filtering_socket) {
    start_concurrent(now);
    return;
  }
  phase_ = Phase::Filtering;
  // Both to the primary, so neither opens the NAT's filter for the
  // addresses the answers come from.
  start(Test::ChangeBoth, server, *alt, now);
  start(Test::ChangePort, server, Endpoint{server.address, alt->port}, now);
}

void NatDiscovery::start_concurrent(TimePoint now) {
  phase_ = Phase::Concurrent;
  const Endpoint& server = *result_.server;
  const Endpoint& alt = *result_.server_alternate;
  // The filtering socket has sent nothing but these, to the primary.
  start(Test::ChangeBoth, server, alt, now, *config_.filtering_socket);
  start(Test::ChangePort, server, Endpoint{server.address, alt.port}, now, *config_.filtering_socket);
  if (!behind_nat()) return;  // no mapping to test, and hairpinning is a NAT's
  const Endpoint alt_ip{alt.address, server.port};
  start(Test::AltIpPrimaryPort, alt_ip, alt_ip, now);
  start(Test::AltIpAltPort, alt, alt, now);
  // Last: on an endpoint-dependent NAT it takes a port, after the mapping tests'.
  if (config_.test_hairpinning) start(Test::Hairpin, *result_.mapped, *result_.mapped, now);
}

void NatDiscovery::advance_concurrent() {
  // Each group is judged once it settles; its tests stop there.
  if (find(Test::ChangeBoth) && filtering_settled()) {
    judge_filtering();
    drop(Test::ChangeBoth);
    drop(Test::ChangePort);
  }
  if (find(Test::AltIpPrimaryPort) && mapping_settled()) {
    judge_mapping();
    drop(Test::AltIpPrimaryPort);
    drop(Test::AltIpAltPort);
  }
  if (const Probe* hairpin = find(Test::Hairpin); hairpin && hairpin->finished()) {
    result_.hairpinning = hairpin->answered ? nat::Hairpinning::Yes : nat::Hairpinning::No;
    drop(Test::Hairpin);
  }
  if (!probes_.empty()) return;
  result_.classic =
      endpoint_dependent_ ? nat::ClassicType::Symmetric : nat::classic_type(result_.mapping, result_.filtering);
  finish();
}

void NatDiscovery::judge_filtering() {
  const Probe* both = find(Test::ChangeBoth);
  const Probe* port = find(Test::ChangePort);
  if (both->succeeded()) {
    result_.filtering = behind_nat() ? nat::FilteringBehavior::EndpointIndependent : nat::FilteringBehavior::None;
  } else if (both->error || port->error) {
    add_note("server refused CHANGE-REQUEST: filtering behaviour unknown");
  } else if (port->succeeded()) {
    result_.filtering = nat::FilteringBehavior::AddressDependent;
  } else {
    result_.filtering = nat::FilteringBehavior::AddressAndPortDependent;
  }
}

void NatDiscovery::finish_filtering(TimePoint now) {
  judge_filtering();
  probes_.clear();

  if (!behind_nat()) {
    // Hairpinning is a NAT property; without one there is nothing to test.
    result_.classic = nat::classic_type(result_.mapping, result_.filtering);
    finish();
    return;
  }

  phase_ = Phase::Mapping;
  const Endpoint& server = *result_.server;
  const Endpoint& alt = *result_.server_alternate;
  const Endpoint alt_ip{alt.address, server.port};
  start(Test::AltIpPrimaryPort, alt_ip, alt_ip, now);
  start(Test::AltIpAltPort, alt, alt, now);
}

void NatDiscovery::finish_mapping(TimePoint now) {
  judge_mapping();
  result_.classic =
      endpoint_dependent_ ? nat::ClassicType::Symmetric : nat::classic_type(result_.mapping, result_.filtering);
  start_hairpinning_or_finish(now);
}

void NatDiscovery::judge_mapping() {
  const Probe* alt_ip = find(Test::AltIpPrimaryPort);
  const Probe* alt_both = find(Test::AltIpAltPort);
  const Endpoint& m1 = *result_.mapped;
  if (alt_ip->succeeded()) result_.mapped_alt_ip = alt_ip->mapped;
  if (alt_both->succeeded()) result_.mapped_alt_both = alt_both->mapped;
  bool& endpoint_dependent = endpoint_dependent_;

  if (alt_ip->succeeded()) {
    if (*alt_ip->mapped == m1) {
      result_.mapping = nat::MappingBehavior::EndpointIndependent;
    } else if (alt_both->succeeded()) {
      result_.mapping = *alt_both->mapped == *alt_ip->mapped ? nat::MappingBehavior::AddressDependent
                                                             : nat::MappingBehavior::AddressAndPortDependent;
    } else {
      endpoint_dependent = true;
      add_note(alt_both->expect_from.to_string() + " did not answer: mapping is endpoint-dependent, kind unknown");
    }
  } else if (alt_both->succeeded()) {
    add_note(alt_ip->expect_from.to_string() + " did not answer");
    if (*alt_both->mapped == m1) {
      result_.mapping = nat::MappingBehavior::EndpointIndependent;
    } else {
      endpoint_dependent = true;
      add_note("mapping is endpoint-dependent, kind unknown");
    }
  } else {
    add_note("server alternate address did not answer: mapping behaviour unknown");
  }
}

void NatDiscovery::start_hairpinning_or_finish(TimePoint now) {
  probes_.clear();
  if (!config_.test_hairpinning) {
    finish();
    return;
  }
  phase_ = Phase::Hairpinning;
  start(Test::Hairpin, *result_.mapped, *result_.mapped, now);
}

void NatDiscovery::finish() {
  phase_ = Phase::Done;
  probes_.clear();
  if (result_.note.empty() && result_.server) add_note("all tests ran against " + result_.server->to_string());
}

void NatDiscovery::add_note(const std::string& text) {
  if (!result_.note.empty()) result_.note += "; ";
  result_.note += text;
}

}  // namespace natpunch::stun
