#include "stun/client_transaction.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include "core/bytes.hpp"

namespace natpunch::stun {
namespace {

int total_sends(const RetransmitPolicy& policy) { return std::max(policy.rc, 1); }

// The 12-bit method interleaved with the class bits in the message type (RFC 8489 §5).
std::uint16_t method_of(std::uint16_t type) {
  return static_cast<std::uint16_t>((type & 0x000F) | ((type & 0x00E0) >> 1) | ((type & 0x3E00) >> 2));
}

}  // namespace

ClientTransaction::ClientTransaction(std::vector<std::uint8_t> request, const Endpoint& destination,
                                     const RetransmitPolicy& policy, TimePoint now)
    : request_(std::move(request)), destination_(destination), policy_(policy), interval_(policy.rto), next_send_(now) {
  if (request_.size() >= kHeaderSize) {
    method_ = method_of(load_be16(request_.data()));
    cookie_ = load_be32(request_.data() + 4);
    std::memcpy(id_.data(), request_.data() + 8, id_.size());
  }
}

std::optional<TimePoint> ClientTransaction::next_deadline() const {
  if (finished()) return std::nullopt;
  return sends_ < total_sends(policy_) ? next_send_ : give_up_at_;
}

bool ClientTransaction::due(TimePoint now) const {
  return !finished() && sends_ < total_sends(policy_) && now >= next_send_;
}

std::optional<std::span<const std::uint8_t>> ClientTransaction::poll_transmit(TimePoint now) {
  if (!due(now)) return std::nullopt;
  ++sends_;
  if (sends_ < total_sends(policy_)) {
    next_send_ = now + interval_;
    // Saturate rather than overflow for absurd policies (huge rc).
    if (interval_ <= Duration::max() / 4) interval_ *= 2;
  } else {
    // RFC 8489 §6.2.1: Rm times the *initial* RTO after the last request.
    give_up_at_ = now + policy_.rto * std::max(policy_.rm, 0);
  }
  return std::span<const std::uint8_t>(request_);
}

void ClientTransaction::on_timer(TimePoint now) {
  if (!finished() && sends_ >= total_sends(policy_) && now >= give_up_at_) state_ = TransactionState::TimedOut;
}

bool ClientTransaction::matches(const MessageView& message) const {
  const auto cls = message.message_class();
  if (cls != MessageClass::SuccessResponse && cls != MessageClass::ErrorResponse) return false;
  return message.method_value() == method_ && message.cookie() == cookie_ && message.transaction_id() == id_;
}

bool ClientTransaction::on_response(const MessageView& message) {
  if (finished() || !matches(message)) return false;
  state_ = message.message_class() == MessageClass::SuccessResponse ? TransactionState::Succeeded
                                                                    : TransactionState::Rejected;
  return true;
}

}  // namespace natpunch::stun
