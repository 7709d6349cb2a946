#pragma once
// One STUN request/response exchange over UDP with the RFC 8489 §6.2.1
// retransmission schedule, as a sans-IO state machine: the caller sends what
// poll_transmit() hands out, feeds responses in, and ticks it with `now` at
// next_deadline(). It never reads a clock or touches a socket.
//
// Schedule for RTO = 500 ms, Rc = 7, Rm = 16 (the RFC defaults): sends at
// 0, 500, 1500, 3500, 7500, 15500, 31500 ms, then times out at 39500 ms
// (Rm * RTO after the last send).
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/endpoint.hpp"
#include "core/time.hpp"
#include "stun/message.hpp"

namespace natpunch::stun {

struct RetransmitPolicy {
  Duration rto = milliseconds(500);  // first retransmission interval; doubles after each send
  int rc = 7;                        // total sends, the first included (values < 1 act as 1)
  int rm = 16;                       // wait rm * rto after the last send before giving up
};

enum class TransactionState : std::uint8_t {
  Pending,    // still sending or waiting
  Succeeded,  // a success response arrived
  Rejected,   // an error response arrived (the caller reads its ERROR-CODE)
  TimedOut,   // no response within the policy
};

class ClientTransaction {
 public:
  // `request` is the complete encoded request (at least the 20-byte header);
  // its transaction id and cookie field are read from it so they cannot
  // disagree with what goes on the wire. The first send is due at `now`.
  ClientTransaction(std::vector<std::uint8_t> request, const Endpoint& destination, const RetransmitPolicy& policy,
                    TimePoint now);

  // When the caller must next call poll_transmit() or on_timer(); nullopt
  // once the transaction has finished.
  std::optional<TimePoint> next_deadline() const;
  // True when poll_transmit(now) would hand out a datagram.
  bool due(TimePoint now) const;
  // The request bytes to send to destination() if a (re)transmission is due,
  // at most one per call. The next retransmission is scheduled relative to
  // `now`, so a late caller gets the full interval before the next one.
  std::optional<std::span<const std::uint8_t>> poll_transmit(TimePoint now);
  // Declares the transaction timed out once Rm * RTO has passed since the last send.
  void on_timer(TimePoint now);

  // True if `message` is a response (success or error) to this request: same
  // method, transaction id and cookie field (the RFC 3489 id's first word).
  bool matches(const MessageView& message) const;
  // Completes the transaction if `message` matches and it is still pending;
  // returns whether it was consumed.
  bool on_response(const MessageView& message);

  TransactionState state() const { return state_; }
  bool finished() const { return state_ != TransactionState::Pending; }
  int send_count() const { return sends_; }
  const Endpoint& destination() const { return destination_; }
  const TransactionId& id() const { return id_; }
  std::uint32_t cookie() const { return cookie_; }
  std::span<const std::uint8_t> request() const { return request_; }

 private:
  std::vector<std::uint8_t> request_;
  Endpoint destination_;
  RetransmitPolicy policy_;
  TransactionId id_{};
  std::uint32_t cookie_ = 0;
  std::uint16_t method_ = 0;
  TransactionState state_ = TransactionState::Pending;
  int sends_ = 0;
  Duration interval_;      // wait after the next send
  TimePoint next_send_;    // valid while sends_ < rc
  TimePoint give_up_at_;   // valid once sends_ == rc
};

}  // namespace natpunch::stun
