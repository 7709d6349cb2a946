#pragma once
// Runs a rendezvous::Client on one real UDP socket with blocking calls:
// register, connect (caller) or wait for a session (callee), relay
// send/receive. The socket stays with the runner so the same NAT mapping
// the server observed can be used for punching afterwards (socket()).
#include <deque>
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

  // Waits until registered; returns the public endpoint the server saw.
  Result<Endpoint, std::string> wait_registered(Duration timeout);
  // Asks the server for a session with `peer` and waits for it.
  Result<rendezvous::ClientSession, std::string> connect(const rendezvous::PublicKey& peer, Duration timeout);
  // Waits for an incoming request (decided by the config's accept policy)
  // to become a session.
  Result<rendezvous::ClientSession, std::string> wait_for_session(Duration timeout);
  bool send_relay(std::uint64_t session_id, std::span<const std::uint8_t> payload);
  // The next relayed payload for `session_id`, or nullopt after `timeout`.
  std::optional<std::vector<std::uint8_t>> receive_relay(std::uint64_t session_id, Duration timeout);

  rendezvous::Client& client() { return client_; }
  UdpClient& socket() { return *socket_; }
  // The first send error seen (e.g. no route), for diagnostics.
  const std::optional<std::string>& send_error() const { return send_error_; }

 private:
  RendezvousClientRunner(std::unique_ptr<UdpClient> socket, rendezvous::ClientConfig config);
  // Runs the machine until an event matches `want` (removed from the
  // backlog and returned) or `deadline` passes. Other events stay queued.
  template <class Predicate>
  std::optional<rendezvous::ClientEvent> run_until(TimePoint deadline, Predicate want);
  void flush();

  std::unique_ptr<UdpClient> socket_;
  rendezvous::Client client_;
  std::deque<rendezvous::ClientEvent> backlog_;
  std::optional<std::string> send_error_;
};

}  // namespace natpunch::io
