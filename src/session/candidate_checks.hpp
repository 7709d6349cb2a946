#pragma once
// Connectivity checks over a session's candidate pairs (session/candidates.hpp's
// check list), ICE-style, on the contract of core/transmit.hpp: sans-IO, no
// clock, no socket.
//
//   check    a PROBE of wire/probe.hpp (sealed with the session key in our
//            direction, nonce = our secret's hash of sequence and port)
//            from the pair's socket to its candidate; one new check or
//            retransmission every `pacing` (RFC 8445's Ta), best pair
//            first; each pair retransmitted after rto, 2 rto, 4 rto ...
//            (at most max_attempts sends), then failed
//   answer   an authentic PROBE from a pair's candidate, on that pair's
//            socket, gets an ACK echoing its sequence and nonce, and the
//            pair, unless it failed, is checked at once, outside the
//            pacing (RFC 8445's triggered check; it spends one of the
//            pair's tries, so what arrives never adds checks): when both
//            sides start on pairing, the first check of the side that
//            started earlier dies at the other's NAT or firewall, the
//            other's gets through the hole it opened, and the triggered
//            check answers it within the round trip
//   valid    an authentic ACK, from the very candidate and to the socket
//            the echoed check went, echoing one of our checks: the pair
//            works both ways (poll_valid)
// Nothing is ever sent to an address outside the pairs (at most
// kMaxChecks), answers only to authentic checks, at most kMaxAnswers at once.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/rng.hpp"
#include "core/time.hpp"
#include "core/transmit.hpp"
#include "session/candidates.hpp"
#include "wire/probe.hpp"

namespace natpunch::session {

struct CandidateChecksConfig {
  std::uint64_t session_id = 0;
  wire::SessionKey key{};
  wire::SessionRole role = wire::SessionRole::Caller;
  Duration pacing = milliseconds(20);
  Duration rto = milliseconds(100);
  int max_attempts = 6;  // 100 + 200 + ... + 3200 ms: 6.3 s, then failed
};

class CandidateChecks {
 public:
  CandidateChecks(const CandidateChecksConfig& config, std::vector<CandidatePair> pairs, Rng& rng, TimePoint start);

  // The datagram (a probe-format one) is one of ours: it came from a
  // pair's candidate to that pair's socket.
  bool owns(SocketId socket, const Endpoint& from) const;
  void on_datagram(TimePoint now, SocketId socket, const Endpoint& from, std::span<const std::uint8_t> bytes);
  std::optional<Transmit> poll_transmit(TimePoint now);
  std::optional<TimePoint> next_deadline() const;
  void on_timer(TimePoint now);
  // A pair that just proved to work (each once).
  std::optional<CandidatePair> poll_valid();

  // Pairs still being checked.
  bool running() const;
  const std::vector<CandidatePair>& pairs() const { return pairs_; }
  std::uint64_t checks_sent() const { return sent_; }
  std::uint64_t rejected() const { return rejected_; }

  static constexpr std::size_t kMaxAnswers = 4;

 private:
  enum class State : std::uint8_t { kWaiting, kInProgress, kSucceeded, kFailed };
  struct PairState {
    State state = State::kWaiting;
    int attempts = 0;
    TimePoint next_at{};
    bool triggered = false;  // an authentic check arrived: ours goes out at once
  };
  std::optional<std::size_t> pair_of(SocketId socket, const Endpoint& from) const;
  void expire(TimePoint now);

  CandidateChecksConfig config_;
  std::vector<CandidatePair> pairs_;
  std::vector<PairState> state_;
  wire::ProbeKey key_;
  wire::NonceKey nonces_;
  TimePoint next_send_;
  std::uint32_t sequence_ = 0;
  std::vector<std::uint8_t> sent_pair_;  // the pair of check `sequence`
  std::uint32_t acks_sent_ = 0;
  std::vector<Transmit> answers_;
  std::vector<CandidatePair> valid_;
  std::uint64_t sent_ = 0;
  std::uint64_t rejected_ = 0;
};

}  // namespace natpunch::session
