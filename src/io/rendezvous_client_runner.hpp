#pragma once
// Runs a rendezvous::Client on one real UDP socket with blocking calls:
// register, connect (caller) or wait for a session (callee), relay
// send/receive. The socket stays with the runner so the same NAT mapping
// the server observed can be used for punching afterwards (socket()).
//
// Failover: with alternate_servers in the config (a cluster's nodes, or
// every record of the server's name), the client moves to the next
// address when its server stops answering -- refreshes unanswered
// (RegistrationLost without a reason), or a registration attempt
// unanswered for kFailoverAfter -- and registers there; the server's
// NotRegistered (a restart) keeps it where it is.
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "io/udp_client.hpp"
#include "rendezvous/client.hpp"

namespace natpunch::io {

class RendezvousClientRunner {
 public:
  // Binds `bind` (port 0 = any) and starts registering at once.
  static Result<std::unique_ptr<RendezvousClientRunner>, std::string> open(const Endpoint& bind,
                                                                           rendezvous::ClientConfig config);

  // Unregisters at the server (best effort, one datagram) and closes.
  ~RendezvousClientRunner();
  RendezvousClientRunner(const RendezvousClientRunner&) = delete;
  RendezvousClientRunner& operator=(const RendezvousClientRunner&) = delete;

  // Polled about every 100 ms while waiting; true ends the wait early
  // (the error then says "interrupted").
  using StopPredicate = std::function<bool()>;
  // One line whenever the server says the peer is not registered yet (with
  // the config's unknown_peer_retry the client keeps asking).
  using NoticeSink = std::function<void(const std::string&)>;

  // Waits until registered; returns the public endpoint the server saw.
  // A server answering with another key than the pinned one ends the wait
  // soon after (server_key_mismatch() then says so): silence would look
  // like a dead server.
  Result<Endpoint, std::string> wait_registered(Duration timeout, const StopPredicate& should_stop = {});
  // Waits for the TURN relays the server offers (sent right after the
  // registration when it has any); the latest offer if one came already.
  Result<rendezvous::client_event::TurnServersOffered, std::string> wait_turn_offer(Duration timeout);
  // Whether a Challenge carried another key than the pinned one.
  bool server_key_mismatch() const { return key_mismatch_.has_value(); }
  // Asks the server for a session with `peer` and waits for it.
  Result<rendezvous::ClientSession, std::string> connect(const rendezvous::PublicKey& peer, Duration timeout,
                                                         const NoticeSink& notice = {},
                                                         const StopPredicate& should_stop = {});
  // Waits for an incoming request (decided by the config's accept policy)
  // to become a session.
  Result<rendezvous::ClientSession, std::string> wait_for_session(Duration timeout,
                                                                  const StopPredicate& should_stop = {});
  // Whether the last wait ended because should_stop said so.
  bool interrupted() const { return interrupted_; }
  bool send_relay(std::uint64_t session_id, std::span<const std::uint8_t> payload);
  // The next relayed payload for `session_id`, or nullopt after `timeout`.
  std::optional<std::vector<std::uint8_t>> receive_relay(std::uint64_t session_id, Duration timeout);

  rendezvous::Client& client() { return client_; }
  // Times it moved to another server, and the server it talks to now.
  std::uint64_t failovers() const { return failovers_; }
  const Endpoint& server() const { return client_.server(); }
  static constexpr Duration kFailoverAfter = seconds(3);
  UdpClient& socket() { return *socket_; }
  // The first send error seen (e.g. no route), for diagnostics.
  const std::optional<std::string>& send_error() const { return send_error_; }

 private:
  RendezvousClientRunner(std::unique_ptr<UdpClient> socket, rendezvous::ClientConfig config);
  // Runs the machine until an event matches `want` (removed from the
  // backlog and returned) or `deadline` passes. Other events stay queued.
  template <class Predicate>
  std::optional<rendezvous::ClientEvent> run_until(TimePoint deadline, Predicate want,
                                                   const StopPredicate& should_stop = {});
  void flush();
  // Moves to the next server when the current one stopped answering.
  void check_failover(TimePoint now, bool lost);

  std::unique_ptr<UdpClient> socket_;
  rendezvous::Client client_;
  std::deque<rendezvous::ClientEvent> backlog_;
  std::optional<std::string> send_error_;
  std::optional<rendezvous::ErrorCode> refused_;  // the last registration refusal
  struct KeyMismatch {
    rendezvous::PublicKey offered{};
    TimePoint seen{};
  };
  std::optional<KeyMismatch> key_mismatch_;  // the first Challenge with another key
  bool interrupted_ = false;
  std::vector<Endpoint> servers_;  // config.server, then the alternates
  std::size_t current_ = 0;
  TimePoint attempt_started_{};
  std::uint64_t failovers_ = 0;
};

}  // namespace natpunch::io
