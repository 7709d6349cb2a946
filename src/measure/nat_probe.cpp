#include "measure/nat_probe.hpp"

#include <algorithm>
#include <utility>

#include "stun/binding_request.hpp"
#include "stun/message.hpp"

namespace natpunch::measure {

namespace {

stun::DiscoveryConfig discovery_config(const NatProbeConfig& c) {
  stun::DiscoveryConfig d;
  d.servers = {c.server};
  d.local = c.local;
  d.retransmit = c.retransmit;
  d.test_hairpinning = c.test_hairpinning;
  d.filtering_socket = c.first_sample_socket;
  d.adapt_to_round_trip = true;
  return d;
}

void add_note(std::string& note, const std::string& text) {
  if (!note.empty()) note += "; ";
  note += text;
}

}  // namespace

NatProbe::NatProbe(NatProbeConfig config, Rng& rng, TimePoint now)
    : config_(std::move(config)),
      started_(now),
      rng_(rng.next_u64()),
      discovery_(discovery_config(config_), rng_, now) {
  config_.samples = std::max<std::uint32_t>(config_.samples, 1);
  if (config_.first_sample_socket == 0) config_.first_sample_socket = 1;
  for (std::uint32_t i = 0; i < config_.samples; ++i) {
    stun::TransactionId id{};
    rng_.fill(id);
    samples_.push_back(Sample{config_.first_sample_socket + i,
                              stun::ClientTransaction(stun::make_binding_request(id), config_.server,
                                                      config_.retransmit, now),
                              std::nullopt});
  }
}

std::optional<Transmit> NatProbe::poll_transmit(TimePoint now) {
  if (done_) return std::nullopt;
  // Discovery's first: its Binding makes socket 0's mapping before the sample's.
  if (auto t = discovery_.poll_transmit(now)) return t;
  for (auto& s : samples_) {
    if (s.transaction.finished()) continue;
    if (auto bytes = s.transaction.poll_transmit(now)) return Transmit{s.socket, s.transaction.destination(), *bytes};
  }
  return std::nullopt;
}

std::optional<TimePoint> NatProbe::next_deadline() const {
  if (done_) return std::nullopt;
  std::optional<TimePoint> earliest = discovery_.next_deadline();
  for (const auto& s : samples_) {
    if (s.transaction.finished()) continue;
    if (auto d = s.transaction.next_deadline(); d && (!earliest || *d < *earliest)) earliest = d;
  }
  return earliest;
}

void NatProbe::on_timer(TimePoint now) {
  if (done_) return;
  discovery_.on_timer(now);
  for (auto& s : samples_)
    if (!s.transaction.finished()) s.transaction.on_timer(now);
  check_done(now);
}

void NatProbe::on_datagram(TimePoint now, SocketId socket, const Endpoint& from,
                           std::span<const std::uint8_t> bytes) {
  if (done_) return;
  discovery_.on_datagram(now, socket, from, bytes);  // ignores sockets it does not use
  if (socket >= config_.first_sample_socket && socket - config_.first_sample_socket < samples_.size() &&
      from == config_.server) {
    Sample& s = samples_[socket - config_.first_sample_socket];
    if (auto message = stun::MessageView::decode(bytes); message && s.transaction.on_response(*message) &&
                                                         s.transaction.state() == stun::TransactionState::Succeeded)
      s.mapped = message->reflexive_address();
  }
  check_done(now);
}

std::optional<NatProbeEvent> NatProbe::poll_event() {
  if (!done_ || reported_) return std::nullopt;
  reported_ = true;
  return nat_probe_event::Done{result_};
}

void NatProbe::check_done(TimePoint now) {
  if (!discovery_.done()) return;
  for (const auto& s : samples_)
    if (!s.transaction.finished()) return;
  finish(now);
}

std::optional<std::uint16_t> NatProbe::local_port(SocketId socket) const {
  if (socket == 0 && config_.local.port != 0) return config_.local.port;
  if (config_.local_port) return config_.local_port(socket);
  return std::nullopt;
}

void NatProbe::finish(TimePoint now) {
  done_ = true;
  result_.discovery = discovery_.result();
  const stun::DiscoveryResult& d = result_.discovery;
  nat::NatKnowledge& k = result_.knowledge;
  k.note = d.note;

  // The mappings in the order the NAT made them.
  auto& sample = result_.sample;
  if (d.mapped) sample.push_back(ProbeMapping{local_port(0), d.mapped->port});
  std::size_t answered = 0;
  for (const auto& s : samples_) {
    if (!s.mapped) continue;
    ++answered;
    sample.push_back(ProbeMapping{local_port(s.socket), s.mapped->port});
  }
  // Socket 0's later mappings, where the destination made new ones.
  if (d.mapped_alt_ip && d.mapped_alt_ip != d.mapped) sample.push_back(ProbeMapping{local_port(0), d.mapped_alt_ip->port});
  if (d.mapped_alt_both && d.mapped_alt_both != d.mapped && d.mapped_alt_both != d.mapped_alt_ip)
    sample.push_back(ProbeMapping{local_port(0), d.mapped_alt_both->port});
  if (answered < samples_.size())
    add_note(k.note, std::to_string(samples_.size() - answered) + " of " + std::to_string(samples_.size()) +
                         " sample sockets got no answer");

  k.no_answer = !d.server && answered == 0;
  k.mapping = d.mapping;
  if (k.mapping == nat::MappingBehavior::Unknown && d.classic == nat::ClassicType::Symmetric) {
    // Endpoint-dependent, which way unknown: the harder kind is the safe one to plan with.
    k.mapping = nat::MappingBehavior::AddressAndPortDependent;
    add_note(k.note, "taken as address-and-port-dependent");
  }
  k.filtering = d.filtering;
  k.hairpinning = d.hairpinning;
  k.mapped = d.mapped;
  k.server = d.server;
  k.took = now - started_;
  k.allocator = classify_allocator_sample(sample, k.mapping);
}

}  // namespace natpunch::measure
