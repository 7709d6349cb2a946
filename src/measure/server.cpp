#include "measure/server.hpp"

#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <variant>

#include "core/bytes.hpp"

namespace natpunch::measure {

namespace {

constexpr std::size_t kCookieMacSize = 10;  // cookie = port u16, issued s u32, MAC

std::int64_t whole_seconds(TimePoint t) {
  return std::chrono::duration_cast<seconds>(t.time_since_epoch()).count();
}

std::size_t share_of(std::size_t table, double fraction) {
  return std::max<std::size_t>(1, static_cast<std::size_t>(static_cast<double>(table) * fraction));
}

}  // namespace

Server::Server(ServerConfig config, std::vector<std::uint16_t> socket_ports, CollectionSink sink)
    : config_(std::move(config)),
      ports_(std::move(socket_ports)),
      sink_(std::move(sink)),
      addresses_(16, SourceKeyHash{splitmix64(config_.hash_seed ^ 0x6d73)}),
      networks_(16, SourceKeyHash{splitmix64(config_.hash_seed ^ 0x6e74)}) {
  config_.socket_count = std::max<std::size_t>(1, config_.socket_count);
  ports_.resize(config_.socket_count, 0);
  if (config_.rate_limit) limiter_.emplace(*config_.rate_limit, config_.hash_seed);
}

Outgoing Server::reflection(std::uint32_t id, wire::MeasureKind answered, const Endpoint& from,
                            std::size_t socket) const {
  Outgoing out;
  out.socket = socket;
  out.to = from;
  out.bytes = wire::encode(wire::Reflection{id, answered, from, ports_[socket]});
  out.length = wire::kReflectionSize;
  return out;
}

Outgoing Server::refusal(std::uint32_t id, wire::MeasureKind refused, wire::RefusalReason reason, const Endpoint& to,
                         std::size_t socket) {
  Outgoing out;
  out.socket = socket;
  out.to = to;
  const auto bytes = wire::encode(wire::Refusal{id, refused, reason});
  std::copy(bytes.begin(), bytes.end(), out.bytes.begin());
  out.length = bytes.size();
  return out;
}

// A keyed BLAKE2b MAC of (address, port, issue time) under the server's
// secret: stateless, bound to the address the grant was sent to.
wire::MeasureCookie Server::make_cookie(TimePoint now, const Endpoint& to) const {
  wire::MeasureCookie cookie{};
  const auto issued = static_cast<std::uint32_t>(whole_seconds(now));
  store_be16(cookie.data(), to.port);
  store_be32(cookie.data() + 2, issued);
  std::array<std::uint8_t, 1 + 16 + 6> input{};
  input[0] = to.address.is_v4() ? 4 : 6;
  std::copy_n(to.address.data(), to.address.size(), input.begin() + 1);
  std::copy_n(cookie.begin(), 6, input.begin() + 17);
  std::array<std::uint8_t, 16> mac{};
  crypto_generichash(mac.data(), mac.size(), input.data(), input.size(), config_.cookie_secret.data(),
                     config_.cookie_secret.size());
  std::copy_n(mac.begin(), kCookieMacSize, cookie.begin() + 6);
  return cookie;
}

std::optional<std::uint16_t> Server::cookie_port(TimePoint now, const wire::MeasureCookie& cookie,
                                                 const IpAddress& from) const {
  const std::uint16_t port = load_be16(cookie.data());
  const std::uint32_t issued = load_be32(cookie.data() + 2);
  const std::int64_t age = whole_seconds(now) - static_cast<std::int64_t>(issued);
  if (age < 0 || age > std::chrono::duration_cast<seconds>(config_.cookie_lifetime).count()) return std::nullopt;
  // Recompute for the issue time the cookie claims.
  const TimePoint issued_at{seconds(issued)};
  const auto expected = make_cookie(issued_at, Endpoint{from, port});
  if (sodium_memcmp(expected.data() + 6, cookie.data() + 6, kCookieMacSize) != 0) return std::nullopt;
  return port;
}

std::optional<wire::RefusalReason> Server::schedule(TimePoint due, Outgoing out) {
  if (queue_.size() >= config_.max_pending) {
    ++counters_.dropped_queue_full;
    return wire::RefusalReason::QueueShareFull;
  }
  const SourceKey address = subscriber_key(out.to.address);
  const SourceKey network = network_key(out.to.address);
  AddressShare& share = addresses_[address];
  std::uint32_t& in_network = networks_[network];
  const std::int64_t second = whole_seconds(due);
  auto forget_if_empty = [&] {
    if (share.queued == 0) addresses_.erase(address);
    if (in_network == 0) networks_.erase(network);
  };
  if (share.queued >= share_of(config_.max_pending, config_.queue_per_address) ||
      in_network >= share_of(config_.max_pending, config_.queue_per_network)) {
    ++counters_.dropped_queue_full;
    forget_if_empty();
    return wire::RefusalReason::QueueShareFull;
  }
  if (share.due_per_second[second] >= config_.max_due_per_second) {
    ++counters_.dropped_piled;
    if (share.due_per_second[second] == 0) share.due_per_second.erase(second);
    forget_if_empty();
    return wire::RefusalReason::TooManyAtOnce;
  }
  ++share.queued;
  ++share.due_per_second[second];
  ++in_network;
  queue_.push(Scheduled{due, sequence_++, out});
  ++counters_.scheduled;
  return std::nullopt;
}

void Server::unshare(const Scheduled& s) {
  const SourceKey address = subscriber_key(s.out.to.address);
  if (auto a = addresses_.find(address); a != addresses_.end()) {
    auto& share = a->second;
    if (auto d = share.due_per_second.find(whole_seconds(s.due)); d != share.due_per_second.end() && --d->second == 0)
      share.due_per_second.erase(d);
    if (share.queued > 0 && --share.queued == 0) addresses_.erase(a);
  }
  if (auto n = networks_.find(network_key(s.out.to.address)); n != networks_.end() && (n->second == 0 || --n->second == 0))
    networks_.erase(n);
}

std::size_t Server::pending_for(const IpAddress& address) const {
  auto a = addresses_.find(subscriber_key(address));
  return a == addresses_.end() ? 0 : a->second.queued;
}

std::optional<Outgoing> Server::handle(TimePoint now, std::span<const std::uint8_t> datagram, const Endpoint& from,
                                       std::size_t received_on) {
  ++counters_.received;
  if (received_on >= config_.socket_count) received_on = 0;
  auto decoded = wire::decode_measure(datagram);
  if (!decoded) {
    ++counters_.dropped_malformed;
    return std::nullopt;
  }
  const auto& message = *decoded;
  if (std::holds_alternative<wire::Reflection>(message) || std::holds_alternative<wire::SizeReport>(message) ||
      std::holds_alternative<wire::CookieGrant>(message) || std::holds_alternative<wire::Refusal>(message)) {
    ++counters_.dropped_not_request;
    return std::nullopt;
  }
  // A request with a valid cookie counts against the port the cookie was
  // granted to: a measurement's probes, each from a fresh socket, share its
  // control socket's budget (and reserve, under a flood from its address).
  const wire::MeasureCookie* cookie = nullptr;
  if (const auto* r = std::get_if<wire::DelayedReflectRequest>(&message)) cookie = &r->cookie;
  if (const auto* r = std::get_if<wire::ScheduleProbeRequest>(&message)) cookie = &r->cookie;
  const std::optional<std::uint16_t> granted = cookie ? cookie_port(now, *cookie, from.address) : std::nullopt;
  const Endpoint charged = granted ? Endpoint{from.address, *granted} : from;
  if (limiter_ && !limiter_->allow(now, charged)) {
    ++counters_.dropped_rate_limited;
    return std::nullopt;
  }
  // Delayed requests: a cookie, a delay within bounds, and room in the
  // source's share; otherwise a Refusal (12 bytes, smaller than the request).
  auto scheduled = [&](std::uint32_t id, wire::MeasureKind kind, std::uint32_t delay_ms,
                       const Outgoing& out) -> std::optional<Outgoing> {
    if (!granted) {
      ++counters_.dropped_no_cookie;
      return refusal(id, kind, wire::RefusalReason::NeedCookie, from, received_on);
    }
    const Duration delay = milliseconds(delay_ms);
    if (delay > config_.max_delay) {
      ++counters_.dropped_delay_too_long;
      return refusal(id, kind, wire::RefusalReason::DelayTooLong, from, received_on);
    }
    if (auto refused = schedule(now + delay, out)) return refusal(id, kind, *refused, from, received_on);
    return std::nullopt;
  };

  if (const auto* r = std::get_if<wire::ReflectRequest>(&message)) {
    ++counters_.replied;
    return reflection(r->id, wire::MeasureKind::Reflect, from, received_on);
  }
  if (const auto* r = std::get_if<wire::CookieRequest>(&message)) {
    Outgoing out;
    out.socket = received_on;
    out.to = from;
    const auto grant = wire::encode(wire::CookieGrant{
        r->id, make_cookie(now, from),
        static_cast<std::uint32_t>(std::chrono::duration_cast<seconds>(config_.cookie_lifetime).count())});
    std::copy(grant.begin(), grant.end(), out.bytes.begin());
    out.length = grant.size();
    ++counters_.cookies_granted;
    return out;
  }
  if (const auto* r = std::get_if<wire::DelayedReflectRequest>(&message))
    return scheduled(r->id, wire::MeasureKind::DelayedReflect, r->delay_ms,
                     reflection(r->id, wire::MeasureKind::DelayedReflect, from, received_on));
  if (const auto* r = std::get_if<wire::ScheduleProbeRequest>(&message)) {
    const std::size_t socket =
        r->from_other_port && config_.socket_count > 1 ? (received_on + 1) % config_.socket_count : received_on;
    return scheduled(r->id, wire::MeasureKind::ScheduleProbe, r->delay_ms,
                     reflection(r->id, wire::MeasureKind::ScheduleProbe, from, socket));
  }
  if (const auto* r = std::get_if<wire::SizeEchoRequest>(&message)) {
    Outgoing out;
    out.socket = received_on;
    out.to = from;
    const auto bytes = wire::encode(wire::SizeReport{r->id, static_cast<std::uint32_t>(r->length)});
    std::copy(bytes.begin(), bytes.end(), out.bytes.begin());
    out.length = bytes.size();
    ++counters_.replied;
    return out;
  }
  if (const auto* c = std::get_if<wire::CollectPacket>(&message)) {
    ++counters_.collected;
    if (sink_) sink_(CollectionRow{c->uuid, c->send_time_ms, from, ports_[received_on], now});
    return std::nullopt;
  }
  ++counters_.dropped_not_request;
  return std::nullopt;
}

std::vector<Outgoing> Server::take_due(TimePoint now) {
  std::vector<Outgoing> due;
  while (!queue_.empty() && queue_.top().due <= now) {
    unshare(queue_.top());
    due.push_back(queue_.top().out);
    queue_.pop();
    ++counters_.sent_scheduled;
  }
  return due;
}

std::optional<TimePoint> Server::next_deadline() const {
  if (queue_.empty()) return std::nullopt;
  return queue_.top().due;
}

}  // namespace natpunch::measure
