#pragma once
// A rendezvous::Client that follows its service across addresses: with
// alternate_servers in the config (a cluster's nodes, or every record of
// the server's name) it moves to the next address when its server stops
// answering -- refreshes unanswered (RegistrationLost without a reason), or
// a registration attempt unanswered for kFailoverAfter -- and registers
// there; the server's NotRegistered (a restart) keeps it where it is.
//
// A machine of the contract (core/transmit.hpp), so io::run_machine runs
// it (io/rendezvous_client_runner.*); the client's own calls (connect,
// accept, send_relay, close) go through client().
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <vector>

#include "core/transmit.hpp"
#include "rendezvous/client.hpp"

namespace natpunch::rendezvous {

class FailoverClient {
 public:
  static constexpr Duration kFailoverAfter = seconds(3);

  FailoverClient(ClientConfig config, RandomBytes random);

  void start(TimePoint now);
  // Registers again at the current server (the driver moved it to another
  // way there, e.g. a TCP stream): a fresh attempt, no failover for it yet.
  void restart(TimePoint now);

  Client& client() { return client_; }
  const Client& client() const { return client_; }
  const Endpoint& server() const { return client_.server(); }
  // Times it moved to another server.
  std::uint64_t failovers() const { return failovers_; }

  // The contract.
  bool on_datagram(TimePoint now, SocketId socket, const Endpoint& from, std::span<const std::uint8_t> bytes);
  std::optional<Transmit> poll_transmit(TimePoint now) { return client_.poll_transmit(now); }
  std::optional<TimePoint> next_deadline() const;
  void on_timer(TimePoint now);
  std::optional<ClientEvent> poll_event();

 private:
  // Takes the client's events (a lost registration may move it on).
  void absorb(TimePoint now);
  void check(TimePoint now, bool lost);
  bool follows() const { return servers_.size() > 1; }

  Client client_;
  std::vector<Endpoint> servers_;  // config.server, then the alternates
  std::size_t current_ = 0;
  TimePoint attempt_started_{};
  std::uint64_t failovers_ = 0;
  std::deque<ClientEvent> events_;
};

}  // namespace natpunch::rendezvous
