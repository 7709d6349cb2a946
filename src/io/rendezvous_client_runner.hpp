#pragma once
// Runs a rendezvous client (rendezvous::FailoverClient: the client machine
// that also moves across the service's addresses) on the one real-time
// loop (io/machine_driver.hpp) with blocking calls: register, connect
// (caller) or wait for a session (callee), relay send/receive, the TURN
// relays the server offers. Its UDP socket stays with the runner, so the
// NAT mapping the server observed is the one local_endpoint() names.
//
// With `streams` (io/registration_link.hpp) a network that blocks UDP is
// no dead end: when UDP gets no answer the client registers over TCP, then
// TLS, and everything it says to the server goes over that stream.
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "io/registration_link.hpp"
#include "io/udp_ports.hpp"
#include "rendezvous/failover_client.hpp"

namespace natpunch::io {

class RendezvousClientRunner {
 public:
  // Binds `bind` (port 0 = any) and starts registering at once; over UDP
  // only unless `streams` says where the server's stream listeners are.
  static Result<std::unique_ptr<RendezvousClientRunner>, std::string> open(
      const Endpoint& bind, rendezvous::ClientConfig config, std::optional<RendezvousFallback> streams = {});

  // Unregisters at the server (best effort, one message) and closes.
  ~RendezvousClientRunner();
  RendezvousClientRunner(const RendezvousClientRunner&) = delete;
  RendezvousClientRunner& operator=(const RendezvousClientRunner&) = delete;

  // Looked at about every 100 ms while waiting; true ends the wait early
  // (the error then says "interrupted").
  using StopPredicate = std::function<bool()>;
  // One line whenever the server says the peer is not registered yet (with
  // the config's unknown_peer_retry the client keeps asking).
  using NoticeSink = std::function<void(const std::string&)>;

  // Waits until registered; returns the public endpoint the server saw.
  // A server answering with another key than the pinned one ends the wait
  // soon after (server_key_mismatch() then says so): silence would look
  // like a dead server. A TLS certificate the client refuses ends it at once.
  Result<Endpoint, std::string> wait_registered(Duration timeout, const StopPredicate& should_stop = {});
  // Waits for the TURN relays the server offers (sent right after the
  // registration when it has any); the latest offer if one came already.
  Result<rendezvous::client_event::TurnServersOffered, std::string> wait_turn_offer(
      Duration timeout, const StopPredicate& should_stop = {});
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

  rendezvous::Client& client() { return machine_.client(); }
  // Times it moved to another server, and the server it talks to now.
  std::uint64_t failovers() const { return machine_.failovers(); }
  const Endpoint& server() const { return machine_.server(); }
  // The UDP socket's bound address.
  Endpoint local_endpoint() const { return udp_->bound_endpoint(0); }
  // The stream the registration went over (nullopt: UDP).
  std::optional<turn::Transport> stream_transport() const { return link_->transport(); }
  // The first send error seen (e.g. no route), for diagnostics.
  const std::optional<std::string>& send_error() const { return udp_->first_error(); }

 private:
  RendezvousClientRunner(std::unique_ptr<UdpPorts> udp, rendezvous::ClientConfig config,
                         std::optional<RendezvousFallback> streams);
  // Runs the machine until an event matches `want` (taken from the
  // backlog and returned) or `deadline` passes. Other events stay queued.
  template <class Predicate>
  std::optional<rendezvous::ClientEvent> run_until(TimePoint deadline, Predicate want,
                                                   const StopPredicate& should_stop = {});
  void on_event(rendezvous::ClientEvent& event);
  // Sends what calls made outside the loop queued.
  void flush();

  std::unique_ptr<UdpPorts> udp_;
  rendezvous::FailoverClient machine_;
  std::unique_ptr<RegistrationLink> link_;
  std::unique_ptr<RegistrationPorts> ports_;
  std::deque<rendezvous::ClientEvent> backlog_;
  bool fresh_ = false;   // an event came since the backlog was last looked at
  bool poked_ = false;   // the link opened a stream: the machine has something to send
  std::optional<std::string> refused_;  // the last registration refusal, or a refused certificate
  bool certificate_refused_ = false;
  struct KeyMismatch {
    rendezvous::PublicKey offered{};
    TimePoint seen{};
  };
  std::optional<KeyMismatch> key_mismatch_;  // the first Challenge with another key
  bool interrupted_ = false;
};

}  // namespace natpunch::io
