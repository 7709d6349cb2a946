#include "nat/ipv4_nat_datapath.hpp"

#include <algorithm>

#include "nat/icmp_messages.hpp"
#include "nat/ipv4_wire.hpp"

namespace natpunch::nat {

namespace {

void earliest(std::optional<TimePoint>& current, std::optional<TimePoint> candidate) {
  if (candidate && (!current || *candidate < *current)) current = candidate;
}

}  // namespace

Ipv4NatDatapath::Ipv4NatDatapath(NatTable& udp, NatTable queries, DatapathConfig config)
    : udp_table_(udp), query_table_(std::move(queries)), config_(config),
      // The kernel verified headers before routing packets into the device.
      udp_(udp_table_, TranslatorOptions{.verify_header_checksum = false}),
      icmp_(udp_table_, query_table_, TranslatorOptions{.verify_header_checksum = false}),
      reassembler_(config.reassembly) {
  if (config_.impair_outbound.active()) impair_outbound_.emplace(config_.impair_outbound, config_.seed * 3 + 1);
  if (config_.impair_inbound.active()) impair_inbound_.emplace(config_.impair_inbound, config_.seed * 3 + 2);
  if (config_.background && config_.background->subscribers > 0)
    background_.emplace(*config_.background, udp_table_, config_.seed * 3 + 3);
}

void Ipv4NatDatapath::handle(TimePoint now, std::span<std::uint8_t> packet, const PacketEmitter& emit) {
  auto header = parse_ipv4_header(packet, false);
  if (!header) {
    ++counters_.malformed[static_cast<std::size_t>(header.error())];
    return;
  }
  Side from;
  if (config_.inside.contains(header->source)) {
    from = Side::Inside;
  } else if (header->destination == config_.public_address) {
    from = Side::Outside;
  } else {
    ++counters_.not_ours;
    return;
  }
  if (!header->is_fragment()) {
    process(now, from, packet.first(header->total_length), *header, emit);
    return;
  }
  ++counters_.fragments_received;
  auto whole = reassembler_.add(now, packet.first(header->total_length), *header);
  if (!whole) {
    ++counters_.reassembly_errors[static_cast<std::size_t>(whole.error())];
    return;
  }
  if (whole->empty()) return;
  ++counters_.reassembled;
  auto whole_header = parse_ipv4_header(*whole, false);
  if (!whole_header) {  // cannot happen: the reassembler wrote it
    ++counters_.malformed[static_cast<std::size_t>(whole_header.error())];
    return;
  }
  process(now, from, *whole, *whole_header, emit);
}

void Ipv4NatDatapath::process(TimePoint now, Side from, std::span<std::uint8_t> packet, const Ipv4Header& header,
                              const PacketEmitter& emit) {
  if (config_.path_mtu && header.total_length > *config_.path_mtu && header.dont_fragment()) {
    // Like a router whose next hop has the smaller MTU: the sender hears it
    // from the router's address on its own side (RFC 1191).
    const std::uint32_t router = from == Side::Inside ? config_.inside_gateway : config_.public_address;
    const std::size_t length = make_fragmentation_needed(packet, router, static_cast<std::uint16_t>(*config_.path_mtu),
                                                         icmp_scratch_);
    ++counters_.too_big;
    // The error travels back towards the sender, i.e. in the other direction.
    send_whole(now, from == Side::Inside ? Side::Outside : Side::Inside,
               std::span<const std::uint8_t>(icmp_scratch_.data(), length), emit);
    return;
  }
  Result<TranslatedPacket, TranslateError> result = Unexpected{TranslateError{PacketError::UnsupportedProtocol}};
  if (header.protocol == wire::kProtocolUdp) {
    result = udp_.translate(now, from, packet);
  } else if (header.protocol == wire::kProtocolIcmp) {
    result = icmp_.translate(now, from, packet);
    if (result) ++counters_.icmp_translated;
  }
  if (!result) {
    if (const auto* malformed = std::get_if<PacketError>(&result.error()))
      ++counters_.malformed[static_cast<std::size_t>(*malformed)];
    else
      ++counters_.dropped[static_cast<std::size_t>(std::get<Drop>(result.error()))];
    return;
  }
  if (result->route == Translated::Route::Hairpin)
    ++counters_.hairpinned;
  else
    ++(from == Side::Inside ? counters_.outbound : counters_.inbound);
  send(now, from, packet.first(result->length), emit);
}

void Ipv4NatDatapath::send(TimePoint now, Side from, std::span<const std::uint8_t> packet,
                           const PacketEmitter& emit) {
  const std::size_t limit = config_.path_mtu.value_or(config_.link_mtu);
  if (packet.size() <= limit) {
    send_whole(now, from, packet, emit);
    return;
  }
  ++counters_.fragmented;
  counters_.fragments_sent += fragment_ipv4(packet, limit, fragment_scratch_, [&](std::span<const std::uint8_t> f) {
    send_whole(now, from, f, emit);
  });
}

void Ipv4NatDatapath::send_whole(TimePoint now, Side from, std::span<const std::uint8_t> packet,
                                 const PacketEmitter& emit) {
  auto& impairment = from == Side::Inside ? impair_outbound_ : impair_inbound_;
  if (!impairment) {
    emit(packet);
    return;
  }
  impairment->push(now, packet);
  impairment->pop_due(now, emit);  // undelayed packets (reordered ones) leave at once
}

void Ipv4NatDatapath::poll(TimePoint now, const PacketEmitter& emit) {
  if (impair_outbound_) impair_outbound_->pop_due(now, emit);
  if (impair_inbound_) impair_inbound_->pop_due(now, emit);
  counters_.reassembly_expired += reassembler_.expire(now);
  if (background_) background_->run_until(now);
}

std::optional<TimePoint> Ipv4NatDatapath::next_deadline() const {
  std::optional<TimePoint> next;
  if (impair_outbound_) earliest(next, impair_outbound_->next_deadline());
  if (impair_inbound_) earliest(next, impair_inbound_->next_deadline());
  earliest(next, reassembler_.next_deadline());
  if (background_) earliest(next, background_->next_deadline());
  return next;
}

}  // namespace natpunch::nat
