#pragma once
// "What is my mapped address?": one Binding request, retransmitted per the
// RFC 8489 policy, to each server in turn until one answers. A sans-IO
// machine on the contract of core/transmit.hpp, from one socket (0).
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "core/endpoint.hpp"
#include "core/rng.hpp"
#include "core/time.hpp"
#include "core/transmit.hpp"
#include "stun/client_transaction.hpp"

namespace natpunch::stun {

struct BindingQueryResult {
  bool answered = false;
  Endpoint server;                        // the server that answered
  std::optional<Endpoint> mapped;         // XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS
  std::optional<Endpoint> response_origin;
  std::optional<Endpoint> other_address;  // OTHER-ADDRESS, else CHANGED-ADDRESS
  std::optional<int> error_code;          // set when the server answered with an error
  Duration round_trip{};                  // first send of the answered transaction -> response
  int requests_sent = 0;                  // over all servers, retransmissions included
  std::vector<Endpoint> silent_servers;   // tried, never answered
};

// What poll_event() reports: the query ended (answered or every server silent), once.
namespace binding_event {
struct Done {
  BindingQueryResult result;
};
}  // namespace binding_event
using BindingQueryEvent = std::variant<binding_event::Done>;

class BindingQuery {
 public:
  BindingQuery(std::vector<Endpoint> servers, const RetransmitPolicy& policy, Rng& rng, TimePoint now);

  // The contract: everything goes out of and comes in on socket 0.
  void on_datagram(TimePoint now, SocketId socket, const Endpoint& from, std::span<const std::uint8_t> bytes);
  std::optional<Transmit> poll_transmit(TimePoint now);
  std::optional<TimePoint> next_deadline() const;
  void on_timer(TimePoint now);
  std::optional<BindingQueryEvent> poll_event();

  bool done() const { return done_; }
  const BindingQueryResult& result() const { return result_; }

 private:
  void start_next(TimePoint now);
  void finish();

  std::vector<Endpoint> servers_;
  RetransmitPolicy policy_;
  Rng& rng_;
  std::size_t next_server_ = 0;
  std::optional<ClientTransaction> current_;
  TimePoint started_{};
  bool done_ = false;
  bool reported_ = false;
  BindingQueryResult result_;
};

}  // namespace natpunch::stun
