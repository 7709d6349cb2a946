#include "turn/client.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <utility>

#include "stun/turn_attributes.hpp"
#include "turn/channel_data.hpp"

namespace natpunch::turn {
namespace {

// Credentials (USERNAME 513, REALM and NONCE 763 bytes at most), SOFTWARE,
// a peer address and the HMACs fit with room to spare.
constexpr std::size_t kMaxRequestSize = 4096;
// 401/438 answers one request may take before giving up (a server that
// keeps changing its realm would otherwise loop).
constexpr int kMaxChallenges = 3;
constexpr std::size_t kIndicationOverhead = 20 + 24 + 4 + 3;  // header, XOR-PEER-ADDRESS (IPv6), DATA header, padding

std::string make_label(const ClientConfig& config) {
  const std::string address = config.server.to_string();
  const std::string where = config.server_name.empty() || config.server_name == address
                                ? address
                                : config.server_name + " (" + address + ")";
  return "TURN server " + where + " over " + std::string(to_string(config.transport));
}

std::string seconds_text(Duration d) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", std::chrono::duration<double>(d).count());
  return text;
}

std::string byte_text(std::uint8_t byte) {
  char text[24];
  if (std::isprint(byte) != 0)
    std::snprintf(text, sizeof text, "0x%02x '%c'", byte, static_cast<char>(byte));
  else
    std::snprintf(text, sizeof text, "0x%02x", byte);
  return text;
}

std::string channel_text(std::uint16_t channel) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%04x", channel);
  return text;
}

}  // namespace

Client::Client(ClientConfig config, Rng& rng)
    : config_(std::move(config)),
      rng_(rng),
      label_(make_label(config_)),
      auth_(config_.credentials),
      next_channel_(kMinChannel) {}

// ----------------------------------------------------------------- requests

void Client::allocate(TimePoint now) {
  if (state_ != State::kIdle) return;
  state_ = State::kAllocating;
  start_request(now, Purpose::kAllocate);
}

void Client::create_permission(TimePoint now, const IpAddress& peer) {
  if (done() || state_ == State::kClosing || find_permission(peer) != nullptr) return;
  permissions_.push_back(Permission{peer});
  start_due_refreshes(now);  // at once when allocated, else when Allocated arrives
}

std::optional<std::uint16_t> Client::bind_channel(TimePoint now, const Endpoint& peer) {
  if (done() || state_ == State::kClosing) return std::nullopt;
  if (const Channel* existing = find_channel(peer)) return existing->number;
  if (next_channel_ > kMaxChannel) return std::nullopt;
  channels_.push_back(Channel{peer, next_channel_++});
  const std::uint16_t number = channels_.back().number;
  start_due_refreshes(now);
  return number;
}

void Client::refresh(TimePoint now) {
  if (state_ != State::kAllocated || refresh_refused_) return;
  if (std::any_of(pending_.begin(), pending_.end(), [](const Pending& p) { return p.purpose == Purpose::kRefresh; }))
    return;
  start_request(now, Purpose::kRefresh);
}

void Client::close(TimePoint now) {
  switch (state_) {
    case State::kIdle:
    case State::kAllocating:
      // Nothing to delete yet (an allocation whose success is still in
      // flight expires at the server, or goes with the stream connection).
      closed();
      return;
    case State::kAllocated:
      pending_.clear();
      state_ = State::kClosing;
      start_request(now, Purpose::kDeallocate);
      return;
    default:
      return;
  }
}

void Client::on_connection_closed(TimePoint) {
  if (state_ == State::kClosing) {
    closed();
    return;
  }
  if (done()) return;
  fail(ErrorKind::kConnectionClosed, 0,
       label_ + " closed the connection" + (state_ == State::kAllocated ? " (the allocation ends with it)" : ""));
}

void Client::start_request(TimePoint now, Purpose purpose, const Endpoint& peer, std::uint16_t channel, int challenges,
                           bool stale_retried) {
  stun::TransactionId id{};
  rng_.fill(id);
  auto request = build_request(purpose, id, peer, channel);
  if (request.empty()) {
    fail(ErrorKind::kRejected, 0,
         "cannot build a request for " + label_ + ": the username or SOFTWARE is too long for a STUN message");
    return;
  }
  const stun::RetransmitPolicy policy =
      is_stream(config_.transport) ? stun::RetransmitPolicy{config_.stream_timeout, 1, 1} : config_.udp_retransmit;
  pending_.push_back(Pending{.purpose = purpose,
                             .transaction = stun::ClientTransaction(std::move(request), config_.server, policy, now),
                             .started = now,
                             .peer = peer,
                             .channel = channel,
                             .signed_request = auth_.ready(),
                             .challenges = challenges,
                             .stale_retried = stale_retried,
                             .integrity_failed = false,
                             .ignored_error = std::nullopt});
}

std::vector<std::uint8_t> Client::build_request(Purpose purpose, const stun::TransactionId& id, const Endpoint& peer,
                                                std::uint16_t channel) const {
  std::vector<std::uint8_t> buffer(kMaxRequestSize);
  stun::Method method = stun::Method::Refresh;
  if (purpose == Purpose::kAllocate) method = stun::Method::Allocate;
  if (purpose == Purpose::kPermission) method = stun::Method::CreatePermission;
  if (purpose == Purpose::kChannelBind) method = stun::Method::ChannelBind;
  stun::MessageBuilder builder(buffer, method, stun::MessageClass::Request, id);
  switch (purpose) {
    case Purpose::kAllocate:
      stun::add_requested_transport(builder, stun::kProtocolUdp);
      stun::add_lifetime(builder, config_.lifetime_seconds);
      if (!config_.software.empty()) builder.add_string(stun::attr::kSoftware, config_.software);
      break;
    case Purpose::kRefresh:
      stun::add_lifetime(builder, config_.lifetime_seconds);
      break;
    case Purpose::kDeallocate:
      stun::add_lifetime(builder, 0);
      break;
    case Purpose::kPermission:
      stun::add_xor_peer_address(builder, peer);
      break;
    case Purpose::kChannelBind:
      stun::add_channel_number(builder, channel);
      stun::add_xor_peer_address(builder, peer);
      break;
  }
  // RFC 8489 §9.2.3.1: the first request goes unsigned; after the 401, all.
  if (auth_.ready()) auth_.sign(builder);
  builder.add_fingerprint();
  buffer.resize(builder.ok() ? builder.size() : 0);
  return buffer;
}

// Refreshes whatever is due, and sends the permissions and channels that
// waited for the allocation.
void Client::start_due_refreshes(TimePoint now) {
  if (state_ != State::kAllocated) return;
  const bool refreshing =
      std::any_of(pending_.begin(), pending_.end(), [](const Pending& p) { return p.purpose == Purpose::kRefresh; });
  if (!refreshing && !refresh_refused_ && now >= refresh_at_) start_request(now, Purpose::kRefresh);
  for (Permission& permission : permissions_) {
    if (permission.in_flight || (permission.installed && now < permission.refresh_at)) continue;
    permission.in_flight = true;
    start_request(now, Purpose::kPermission, Endpoint{permission.peer, 0});
  }
  for (Channel& channel : channels_) {
    if (channel.in_flight || (channel.bound && now < channel.refresh_at)) continue;
    channel.in_flight = true;
    start_request(now, Purpose::kChannelBind, channel.peer, channel.number);
  }
}

void Client::schedule_allocation_refresh(TimePoint base, std::uint32_t lifetime_seconds) {
  const Duration lifetime = seconds(lifetime_seconds);
  allocation_expires_ = base + lifetime;
  const Duration lead = lifetime > 2 * config_.refresh_margin ? config_.refresh_margin : lifetime / 2;
  refresh_at_ = allocation_expires_ - lead;
}

// --------------------------------------------------------------- data path

bool Client::send(TimePoint, const Endpoint& peer, std::span<const std::uint8_t> payload) {
  if (state_ != State::kAllocated) return false;
  std::vector<std::uint8_t> bytes;
  if (const Channel* channel = find_channel(peer); channel != nullptr && channel->bound) {
    if (!append_channel_data(channel->number, payload, is_stream(config_.transport), bytes)) return false;
    ++counters_.sent_channel_data;
  } else {
    if (payload.size() > 0xFFFF - kIndicationOverhead) return false;
    bytes.resize(kIndicationOverhead + payload.size() + 4);
    stun::TransactionId id{};
    rng_.fill(id);
    stun::MessageBuilder builder(bytes, stun::Method::Send, stun::MessageClass::Indication, id);
    stun::add_xor_peer_address(builder, peer);
    stun::add_data(builder, payload);
    if (!builder.ok()) return false;
    bytes.resize(builder.size());
    ++counters_.sent_indications;
  }
  queue(std::move(bytes));
  return true;
}

void Client::queue(std::vector<std::uint8_t> bytes) {
  outbox_.push_back(Transmit{0, config_.server, DatagramBytes(std::move(bytes))});
}

void Client::on_channel_data(std::span<const std::uint8_t> bytes) {
  auto view = decode_channel_data(bytes);
  if (!view) {
    if (counters_.garbage++ == 0 && !bytes.empty()) first_garbage_byte_ = bytes[0];
    return;
  }
  // A channel still being bound counts: over UDP its first data may
  // overtake the ChannelBind success.
  const Channel* channel = find_channel(view->channel);
  if (channel == nullptr || (state_ != State::kAllocated && state_ != State::kClosing)) {
    ++counters_.unmatched;
    return;
  }
  ++counters_.received_channel_data;
  events_.emplace_back(
      client_event::PeerData{channel->peer, {view->payload.begin(), view->payload.end()}, true});
}

void Client::on_data_indication(const stun::MessageView& message) {
  const auto peer = stun::xor_peer_address(message);
  const auto data = stun::data_value(message);
  if (!peer || !data || (state_ != State::kAllocated && state_ != State::kClosing)) {
    ++counters_.unmatched;
    return;
  }
  ++counters_.received_indications;
  events_.emplace_back(client_event::PeerData{*peer, {data->begin(), data->end()}, false});
}

// ------------------------------------------------------------ the contract

void Client::on_datagram(TimePoint now, SocketId, const Endpoint& from, std::span<const std::uint8_t> bytes) {
  if (done() || state_ == State::kIdle) return;
  if (is_stream(config_.transport)) {
    framer_.push(bytes);
    while (!done()) {
      const auto frame = framer_.next();
      if (!frame) break;
      if (frame->kind == FrameKind::kChannelData)
        on_channel_data(frame->bytes);
      else
        on_stun(now, frame->bytes);
    }
    if (framer_.error() && !done())
      fail(ErrorKind::kBadAnswer, 0,
           label_ + " sent bytes that are neither STUN nor ChannelData (a message starting with " +
               byte_text(framer_.offending_byte()) + "): is it a TURN server?");
    return;
  }
  if (from != config_.server) {
    ++counters_.foreign_datagrams;
    return;
  }
  if (looks_like_channel_data(bytes))
    on_channel_data(bytes);
  else
    on_stun(now, bytes);
}

void Client::on_stun(TimePoint now, std::span<const std::uint8_t> bytes) {
  const auto message = stun::MessageView::decode(bytes);
  if (!message) {
    if (is_stream(config_.transport)) {
      fail(ErrorKind::kBadAnswer, 0,
           label_ + " sent a malformed STUN message (" + std::string(stun::to_string(message.error())) + ")");
      return;
    }
    if (counters_.garbage++ == 0 && !bytes.empty()) first_garbage_byte_ = bytes[0];
    return;
  }
  const auto cls = message->message_class();
  if (cls == stun::MessageClass::Indication && message->method() == stun::Method::Data) {
    on_data_indication(*message);
    return;
  }
  if (cls == stun::MessageClass::SuccessResponse || cls == stun::MessageClass::ErrorResponse) {
    for (std::size_t i = 0; i < pending_.size(); ++i) {
      if (pending_[i].transaction.matches(*message)) {
        on_response(now, i, *message);
        return;
      }
    }
  }
  ++counters_.unmatched;
}

std::optional<Transmit> Client::poll_transmit(TimePoint now) {
  if (!outbox_.empty()) {
    Transmit out = std::move(outbox_.front());
    outbox_.pop_front();
    return out;
  }
  for (Pending& pending : pending_) {
    if (const auto bytes = pending.transaction.poll_transmit(now)) {
      ++counters_.requests_sent;
      if (pending.transaction.send_count() > 1) ++counters_.retransmissions;
      return Transmit{0, config_.server, DatagramBytes(*bytes)};
    }
  }
  return std::nullopt;
}

std::optional<TimePoint> Client::next_deadline() const {
  if (done()) return std::nullopt;
  std::optional<TimePoint> deadline;
  const auto consider = [&](TimePoint t) {
    if (!deadline || t < *deadline) deadline = t;
  };
  bool refreshing = false;
  for (const Pending& pending : pending_) {
    if (const auto t = pending.transaction.next_deadline()) consider(*t);
    refreshing = refreshing || pending.purpose == Purpose::kRefresh;
  }
  if (state_ == State::kAllocated) {
    consider(allocation_expires_);
    if (!refreshing && !refresh_refused_) consider(refresh_at_);
    for (const Permission& permission : permissions_)
      if (!permission.in_flight) consider(permission.refresh_at);
    for (const Channel& channel : channels_)
      if (!channel.in_flight) consider(channel.refresh_at);
  }
  return deadline;
}

void Client::on_timer(TimePoint now) {
  if (done()) return;
  for (std::size_t i = 0; i < pending_.size();) {
    pending_[i].transaction.on_timer(now);
    if (pending_[i].transaction.state() != stun::TransactionState::TimedOut) {
      ++i;
      continue;
    }
    Pending request = std::move(pending_[i]);
    pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(i));
    on_timeout(now, std::move(request));
    if (done()) return;
    i = 0;  // on_timeout may have added and removed requests
  }
  if (state_ == State::kAllocated && now >= allocation_expires_) {
    if (refresh_refused_) {
      fail(refresh_refused_->kind, refresh_refused_->code,
           "the allocation on " + label_ + " expired after its refresh was refused (" + refresh_refused_->message + ")");
      return;
    }
    fail(ErrorKind::kNoAnswer, 0, label_ + " did not answer refreshes in time: the allocation expired");
    return;
  }
  start_due_refreshes(now);
}

std::optional<ClientEvent> Client::poll_event() {
  if (events_.empty()) return std::nullopt;
  ClientEvent event = std::move(events_.front());
  events_.pop_front();
  return event;
}

std::optional<TimePoint> Client::expires_at() const {
  if (state_ != State::kAllocated) return std::nullopt;
  return allocation_expires_;
}

// --------------------------------------------------------------- responses

void Client::on_response(TimePoint now, std::size_t index, const stun::MessageView& message) {
  Pending& pending = pending_[index];
  const bool is_error = message.message_class() == stun::MessageClass::ErrorResponse;
  const auto error = message.error_code();
  const int code = error ? error->code : 0;
  const std::string reason = error ? std::string(error->reason) : std::string();

  const auto take = [&] {
    Pending request = std::move(pending_[index]);
    pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(index));
    return request;
  };

  // The long-term mechanism's challenges carry no HMAC (the server cannot
  // know the key yet, or the nonce it was made with is stale).
  if (is_error && (code == 401 || code == 438)) {
    Pending request = take();
    ++counters_.challenges;
    if ((code == 438 && request.stale_retried) || request.challenges >= kMaxChallenges) {
      on_error(now, std::move(request), code, reason);
      return;
    }
    switch (auth_.on_challenge(message, request.signed_request)) {
      case LongTermAuth::Verdict::kRetry:
        start_request(now, request.purpose, request.peer, request.channel, request.challenges + 1,
                      request.stale_retried || code == 438);
        return;
      case LongTermAuth::Verdict::kWrongCredentials:
        on_error(now, std::move(request), code, reason);
        return;
      case LongTermAuth::Verdict::kMissingChallenge: {
        std::string message = label_ + " answered " + what(request) + " with " + std::to_string(code) +
                              " but without the REALM and NONCE the long-term mechanism needs";
        finish_failed(std::move(request), ErrorKind::kBadAnswer, code, std::move(message));
        return;
      }
      case LongTermAuth::Verdict::kDowngrade:
        finish_failed(std::move(request), ErrorKind::kDowngrade, code,
                      label_ + "'s nonce announces password algorithms but its answer lists none: someone on the "
                               "path may have removed them (a downgrade attack); not retrying");
        return;
      case LongTermAuth::Verdict::kUnsupportedAlgorithm:
        finish_failed(std::move(request), ErrorKind::kDowngrade, code,
                      label_ + " offers only password algorithms natpunch does not support (MD5 and SHA-256 are)");
        return;
    }
    return;
  }

  // RFC 8489 §9.2.5: an error 400 without HMAC may be anyone's; ignore it
  // (retransmissions go on) and mention it if the request times out.
  const bool has_mac = message.has_message_integrity() || message.has_message_integrity_sha256();
  if (is_error && code == 400 && !has_mac) {
    pending.ignored_error = code;
    return;
  }
  // Answers to signed requests must carry our HMAC when they are
  // successes; an error that carries one must verify. Errors without one
  // are believed: a server that cannot place the request (e.g. an unknown
  // allocation) has nothing to sign with, and whoever can forge one can as
  // well drop every packet — a clear error beats a timeout.
  if (pending.signed_request && (!is_error || has_mac) && !auth_.verify(message)) {
    ++counters_.integrity_failures;
    if (!is_stream(config_.transport)) {
      pending.integrity_failed = true;  // discarded as if never received
      return;
    }
    Pending request = take();
    std::string text = label_ + "'s answer to " + what(request) +
                       " failed the integrity check: a wrong password, or someone else answering in its place";
    finish_failed(std::move(request), ErrorKind::kIntegrityViolation, code, std::move(text));
    return;
  }
  pending.transaction.on_response(message);
  Pending request = take();
  if (is_error)
    on_error(now, std::move(request), code, reason);
  else
    on_success(now, std::move(request), message);
}

void Client::on_success(TimePoint now, Pending request, const stun::MessageView& message) {
  const Duration round_trip = now - request.started;
  switch (request.purpose) {
    case Purpose::kAllocate: {
      if (state_ != State::kAllocating) return;
      const auto relayed = stun::xor_relayed_address(message);
      if (!relayed) {
        fail(ErrorKind::kBadAnswer, 0, label_ + " accepted the allocation without a relayed address (XOR-RELAYED-ADDRESS)");
        return;
      }
      relayed_ = relayed;
      mapped_ = message.xor_mapped_address();
      const std::uint32_t lifetime = stun::lifetime_seconds(message).value_or(config_.lifetime_seconds);
      state_ = State::kAllocated;
      // The server's clock started no later than our first send.
      schedule_allocation_refresh(request.started, lifetime);
      events_.emplace_back(client_event::Allocated{*relayed_, mapped_, lifetime, round_trip});
      start_due_refreshes(now);
      return;
    }
    case Purpose::kRefresh: {
      if (state_ != State::kAllocated) return;
      const std::uint32_t lifetime = stun::lifetime_seconds(message).value_or(config_.lifetime_seconds);
      if (lifetime == 0) {
        fail(ErrorKind::kAllocationMismatch, 0, label_ + " ended the allocation (a refresh granted lifetime 0)");
        return;
      }
      schedule_allocation_refresh(request.started, lifetime);
      events_.emplace_back(client_event::Refreshed{lifetime});
      return;
    }
    case Purpose::kDeallocate:
      closed();
      return;
    case Purpose::kPermission: {
      Permission* permission = find_permission(request.peer.address);
      if (permission == nullptr || state_ != State::kAllocated) return;
      const bool first = !permission->installed;
      permission->in_flight = false;
      permission->installed = true;
      permission->refresh_at = request.started + config_.permission_refresh;
      if (first) events_.emplace_back(client_event::PermissionCreated{permission->peer, round_trip});
      return;
    }
    case Purpose::kChannelBind: {
      Channel* channel = find_channel(request.peer);
      if (channel == nullptr || state_ != State::kAllocated) return;
      const bool first = !channel->bound;
      channel->in_flight = false;
      channel->bound = true;
      channel->refresh_at = request.started + config_.channel_refresh;
      if (first) events_.emplace_back(client_event::ChannelBound{channel->peer, channel->number, round_trip});
      return;
    }
  }
}

void Client::on_error(TimePoint now, Pending request, int code, std::string_view reason) {
  const ErrorKind kind = code == 0 ? ErrorKind::kRejected : kind_of_error_code(code);
  std::string message;
  if (request.purpose == Purpose::kRefresh && code == 437)
    message = label_ + " no longer knows the allocation (437 Allocation Mismatch): it expired or was deleted";
  else
    message = label_ + " refused " + what(request) + ": " +
              (code == 0 ? std::string("an error response without ERROR-CODE") : describe_error_code(code, reason));
  // A refused refresh (a server that re-checks the credentials' expiry,
  // 401/441): the allocation itself lives until it expires, so it can keep
  // relaying while a new one is made (make-before-break).
  if (request.purpose == Purpose::kRefresh && code != 437 && state_ == State::kAllocated &&
      now < allocation_expires_) {
    refresh_refused_ = TurnError{kind, code, message};
    events_.emplace_back(client_event::RefreshRefused{TurnError{kind, code, std::move(message)}});
    return;
  }
  finish_failed(std::move(request), kind, code, std::move(message));
}

void Client::on_timeout(TimePoint now, Pending request) {
  if (request.purpose == Purpose::kRefresh && state_ == State::kAllocated && now < allocation_expires_) {
    // Keep trying until the allocation would have ended (on_timer).
    start_request(now, Purpose::kRefresh);
    return;
  }
  if (request.integrity_failed) {
    std::string text = label_ + "'s answers to " + what(request) +
                       " failed the integrity check: a wrong password, or someone else answering in its place";
    finish_failed(std::move(request), ErrorKind::kIntegrityViolation, 0, std::move(text));
    return;
  }
  std::string message = label_ + " did not answer " + what(request) + " (" +
                        std::to_string(request.transaction.send_count()) + " request(s) in " +
                        seconds_text(now - request.started) + " s";
  if (request.ignored_error)
    message += "; it sent an unauthenticated " + std::to_string(*request.ignored_error) + " error, which STUN ignores";
  if (counters_.garbage > 0)
    message += "; " + std::to_string(counters_.garbage) +
               " datagram(s) from it were neither STUN nor ChannelData (first byte " + byte_text(first_garbage_byte_) +
               "): is it a TURN server?";
  message += ")";
  finish_failed(std::move(request), ErrorKind::kNoAnswer, 0, std::move(message));
}

// Ends `request` with an error: the whole machine for the allocation and
// its refreshes, one RequestFailed for a permission or channel, and the
// deallocation simply finishes (the allocation is gone or will expire).
void Client::finish_failed(Pending request, ErrorKind kind, int code, std::string message) {
  switch (request.purpose) {
    case Purpose::kAllocate:
    case Purpose::kRefresh:
      fail(kind, code, std::move(message));
      return;
    case Purpose::kDeallocate:
      closed();
      return;
    case Purpose::kPermission:
      std::erase_if(permissions_, [&](const Permission& p) { return p.peer == request.peer.address; });
      events_.emplace_back(
          client_event::RequestFailed{stun::Method::CreatePermission, request.peer, TurnError{kind, code, std::move(message)}});
      return;
    case Purpose::kChannelBind:
      std::erase_if(channels_, [&](const Channel& c) { return c.peer == request.peer; });
      events_.emplace_back(
          client_event::RequestFailed{stun::Method::ChannelBind, request.peer, TurnError{kind, code, std::move(message)}});
      return;
  }
}

void Client::closed() {
  pending_.clear();
  outbox_.clear();
  state_ = State::kClosed;
  events_.emplace_back(client_event::Deallocated{});
}

void Client::fail(ErrorKind kind, int code, std::string message) {
  state_ = State::kFailed;
  pending_.clear();
  outbox_.clear();
  events_.emplace_back(client_event::Failed{TurnError{kind, code, std::move(message)}});
}

std::string Client::what(const Pending& request) const {
  switch (request.purpose) {
    case Purpose::kAllocate: return "the allocation";
    case Purpose::kRefresh: return "a refresh of the allocation";
    case Purpose::kDeallocate: return "the deallocation";
    case Purpose::kPermission: return "a permission for " + request.peer.address.to_string();
    case Purpose::kChannelBind: return "channel " + channel_text(request.channel) + " to " + request.peer.to_string();
  }
  return "a request";
}

Client::Permission* Client::find_permission(const IpAddress& peer) {
  const auto it = std::find_if(permissions_.begin(), permissions_.end(), [&](const Permission& p) { return p.peer == peer; });
  return it == permissions_.end() ? nullptr : &*it;
}

Client::Channel* Client::find_channel(const Endpoint& peer) {
  const auto it = std::find_if(channels_.begin(), channels_.end(), [&](const Channel& c) { return c.peer == peer; });
  return it == channels_.end() ? nullptr : &*it;
}

Client::Channel* Client::find_channel(std::uint16_t number) {
  const auto it = std::find_if(channels_.begin(), channels_.end(), [&](const Channel& c) { return c.number == number; });
  return it == channels_.end() ? nullptr : &*it;
}

}  // namespace natpunch::turn
