#include "sim/network.hpp"

#include <algorithm>

namespace natpunch::sim {
namespace {

// Two links in a row, as one: latencies and jitters add, losses compound,
// the smaller payload limit holds.
LinkConfig in_series(const LinkConfig& first, const LinkConfig& second) {
  const double keep = (1 - std::clamp(first.loss, 0.0, 1.0)) * (1 - std::clamp(second.loss, 0.0, 1.0));
  return LinkConfig{first.latency + second.latency, first.jitter + second.jitter, 1 - keep,
                    std::min(first.max_payload, second.max_payload)};
}

}  // namespace

void Outbox::send(const Endpoint& from, const Endpoint& to, std::span<const std::uint8_t> payload) {
  network_.send_from_host(now_, host_, from, to, payload);
}

Network::Network(std::uint64_t seed) : rng_(seed) {}

std::uint32_t Network::add_link(const LinkConfig& config, LinkEnd end) {
  const auto id = static_cast<std::uint32_t>(links_.size());
  links_.emplace_back(config, rng_.next_u64());
  link_ends_.push_back(end);
  link_sources_.push_back(queue_.add_source());
  source_owner_.push_back(id);
  return id;
}

std::uint32_t Network::add_attachment(const LinkConfig& uplink, LinkEnd end) {
  attachments_.push_back(Attachment{uplink, end, {}});
  return static_cast<std::uint32_t>(attachments_.size() - 1);
}

std::uint32_t Network::path(std::uint32_t from_attachment, std::uint32_t to_attachment) {
  std::vector<std::uint32_t>& paths = attachments_[from_attachment].paths;
  if (paths.size() <= to_attachment) paths.resize(to_attachment + 1, kNone);
  if (paths[to_attachment] == kNone) {
    const Attachment& to = attachments_[to_attachment];
    paths[to_attachment] = add_link(in_series(attachments_[from_attachment].uplink, to.uplink), to.end);
  }
  return paths[to_attachment];
}

Result<NatId, nat::NatConfigError> Network::add_nat(const nat::NatConfig& config, const LinkConfig& uplink) {
  auto table = nat::NatTable::create(config, rng_);
  if (!table) return Unexpected{table.error()};
  const auto id = static_cast<NatId>(nats_.size());
  nats_.emplace_back(std::move(*table));
  const std::uint32_t attachment = add_attachment(uplink, LinkEnd{Sink::NatInbound, id});
  nat_attachment_.push_back(attachment);
  for (const IpAddress& address : config.public_addresses) routes_.push_back(Route{address, attachment});
  return id;
}

HostId Network::add_public_host(const IpAddress& address, const LinkConfig& uplink, HostApp& app) {
  const auto id = static_cast<HostId>(hosts_.size());
  const std::uint32_t attachment = add_attachment(uplink, LinkEnd{Sink::Host, id});
  const EventQueue::SourceId timer = queue_.add_source();
  source_owner_.push_back(id | kHostSource);
  hosts_.push_back(Host{&app, kNone, kNone, attachment, timer, {}});
  routes_.push_back(Route{address, attachment});
  reschedule_host(id);
  return id;
}

HostId Network::add_inside_host(NatId nat, const IpAddress& address, const LinkConfig& access, HostApp& app) {
  const auto id = static_cast<HostId>(hosts_.size());
  const std::uint32_t up = add_link(access, LinkEnd{Sink::NatOutbound, nat});
  const std::uint32_t down = add_link(access, LinkEnd{Sink::Host, id});
  const EventQueue::SourceId timer = queue_.add_source();
  source_owner_.push_back(id | kHostSource);
  hosts_.push_back(Host{&app, up, down, kNone, timer, {}});
  nats_[nat].attach_inside(address, id);
  reschedule_host(id);
  return id;
}

void Network::add_address(HostId host, const IpAddress& address) {
  routes_.push_back(Route{address, hosts_[host].attachment});
}

void Network::add_public_address(HostId host, const IpAddress& address, const LinkConfig& uplink) {
  const std::uint32_t attachment = add_attachment(uplink, LinkEnd{Sink::Host, host});
  hosts_[host].own.emplace_back(address, attachment);
  routes_.push_back(Route{address, attachment});
}

void Network::reschedule_link(std::uint32_t link) {
  if (links_[link].empty()) queue_.clear(link_sources_[link]);
  else queue_.set(link_sources_[link], links_[link].front_arrival());
}

void Network::reschedule_host(HostId host) { queue_.set(hosts_[host].timer, hosts_[host].app->next_deadline()); }

void Network::push(TimePoint now, std::uint32_t link, const Endpoint& from, const Endpoint& to,
                   std::span<const std::uint8_t> payload) {
  const bool was_empty = links_[link].empty();
  // Only a link's head decides its next event, so a push behind others
  // needs no rescheduling.
  if (links_[link].push(now, from, to, payload) && was_empty) reschedule_link(link);
}

void Network::send_on_internet(TimePoint now, std::uint32_t from_attachment, const Endpoint& from, const Endpoint& to,
                               std::span<const std::uint8_t> payload) {
  if (filter && filter(now, from, to)) {
    ++counters_.filtered;
    return;
  }
  for (const Route& r : routes_) {
    if (r.address == to.address) {
      push(now, path(from_attachment, r.attachment), from, to, payload);
      return;
    }
  }
  ++counters_.unroutable;
}

void Network::send_from_host(TimePoint now, HostId host, const Endpoint& from, const Endpoint& to,
                             std::span<const std::uint8_t> payload) {
  const Host& h = hosts_[host];
  for (const auto& [address, attachment] : h.own)
    if (address == from.address) return send_on_internet(now, attachment, from, to, payload);
  if (h.attachment == kNone && filter && filter(now, from, to)) {  // public hosts: asked on the internet
    ++counters_.filtered;
    return;
  }
  if (h.attachment != kNone) send_on_internet(now, h.attachment, from, to, payload);
  else push(now, h.up, from, to, payload);
}

void Network::deliver(TimePoint now, std::uint32_t link) {
  // Stays valid while the packet is passed on: links_ is a deque, and a
  // packet never goes back onto the link it is leaving.
  const Packet& packet = links_[link].front();
  const LinkEnd end = link_ends_[link];
  switch (end.sink) {
    case Sink::Host: {
      Outbox out(*this, end.index, now);
      hosts_[end.index].app->on_datagram(now, packet, out);
      reschedule_host(end.index);
      break;
    }
    case Sink::NatOutbound: {
      NatBox& box = nats_[end.index];
      if (box.routes_inside()) {
        if (auto host = box.inside_host(packet.to.address)) {
          push(now, hosts_[*host].down, packet.from, packet.to, packet.payload());
          break;
        }
      }
      auto translated = box.table().outbound(now, packet.from, packet.to, packet.size());
      if (!translated) {
        box.count_drop(translated.error());
      } else if (translated->route == nat::Translated::Route::Outside) {
        send_on_internet(now, nat_attachment_[end.index], translated->source, translated->destination,
                         packet.payload());
      } else if (auto host = box.inside_host(translated->destination.address)) {
        push(now, hosts_[*host].down, translated->source, translated->destination, packet.payload());
      } else {
        ++counters_.unroutable;
      }
      break;
    }
    case Sink::NatInbound: {
      NatBox& box = nats_[end.index];
      auto internal = box.table().inbound(now, packet.from, packet.to, packet.size());
      if (!internal) box.count_drop(internal.error());
      else if (auto host = box.inside_host(internal->address))
        push(now, hosts_[*host].down, packet.from, *internal, packet.payload());
      else
        ++counters_.unroutable;
      break;
    }
  }
  links_[link].pop();
  reschedule_link(link);
}

std::uint64_t Network::lost_packets() const {
  std::uint64_t lost = 0;
  for (const Link& l : links_) lost += l.counters().lost;
  return lost;
}

bool Network::step(TimePoint limit) {
  const auto due = queue_.earliest();
  if (!due || due->time > limit) return false;
  // A host's deadline may lie in the past ("at once"): time never runs back.
  now_ = std::max(now_, due->time);
  ++counters_.events;
  const std::uint32_t owner = source_owner_[due->source];
  if (owner & kHostSource) {
    const HostId host = owner & ~kHostSource;
    Outbox out(*this, host, now_);
    hosts_[host].app->on_timer(now_, out);
    reschedule_host(host);
  } else {
    deliver(now_, owner);
  }
  return true;
}

}  // namespace natpunch::sim
