#pragma once
// A TURN client (RFC 8656) as a sans-IO machine on the project's contract
// (core/transmit.hpp): it allocates a relayed address on a TURN server with
// long-term credentials, keeps the allocation, its permissions and channel
// bindings alive, and relays application data to and from peers through
// ChannelData (once a channel is bound) or Send/Data indications.
//
// The same machine runs over UDP and over a byte stream (TCP, or TLS
// decrypted by the driver): over UDP each request is retransmitted per
// RFC 8489 §6.2.1; over a stream it is sent once and waits stream_timeout,
// incoming bytes are cut into messages by a StreamFramer and ChannelData is
// padded to 4 bytes. The driver sends what poll_transmit() returns to the
// server (socket 0) and feeds back what arrives.
//
// Lifetimes (RFC 8656 §§7-12): the allocation is refreshed a minute before
// it ends (half-way for short ones), permissions (5 min at the server) every
// 4 min, channel bindings (10 min) every 9 min. Errors end in one event
// with a one-line message naming the server: Failed when the allocation
// cannot be made or is lost, RequestFailed when one permission or channel
// is refused and the allocation lives on.
#include <cstdint>
#include <deque>
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
#include "stun/message.hpp"
#include "turn/long_term_auth.hpp"
#include "turn/stream_framer.hpp"
#include "turn/turn_error.hpp"

namespace natpunch::turn {

struct ClientConfig {
  Endpoint server;
  // How messages name the server ("turn.example.org"); empty: its address.
  std::string server_name;
  Transport transport = Transport::kUdp;
  Credentials credentials;
  // Asked for in Allocate and each refresh; the server may grant less.
  std::uint32_t lifetime_seconds = 600;
  std::string software = "natpunch";
  // Per request over UDP (RFC 8489 defaults: 39.5 s until given up).
  stun::RetransmitPolicy udp_retransmit{};
  // Per request over TCP/TLS (RFC 8489 Ti).
  Duration stream_timeout = milliseconds(39500);
  Duration refresh_margin = seconds(60);
  Duration permission_refresh = seconds(240);
  Duration channel_refresh = seconds(540);
};

namespace client_event {
struct Allocated {
  Endpoint relayed;               // XOR-RELAYED-ADDRESS: where peers send to reach us
  std::optional<Endpoint> mapped; // XOR-MAPPED-ADDRESS: our address as the server sees it
  std::uint32_t lifetime_seconds = 0;
  Duration round_trip{};          // last Allocate transaction (after the 401), first send -> answer
};
struct Refreshed {
  std::uint32_t lifetime_seconds = 0;
};
struct PermissionCreated {
  IpAddress peer;
  Duration round_trip{};
};
struct ChannelBound {
  Endpoint peer;
  std::uint16_t channel = 0;
  Duration round_trip{};
};
struct PeerData {
  Endpoint peer;
  std::vector<std::uint8_t> payload;
  bool via_channel = false;  // ChannelData (else a Data indication)
};
// One CreatePermission or ChannelBind failed; the allocation lives on.
struct RequestFailed {
  stun::Method method = stun::Method::CreatePermission;
  Endpoint peer;
  TurnError error;
};
// A Refresh was refused (not 437: e.g. a server that re-checks the
// credentials' expiry answers 401 or 441). The allocation lives on until
// expires_at() -- no more refreshes are tried -- then Failed follows: time
// for a new allocation with fresh credentials, made before this one ends.
struct RefreshRefused {
  TurnError error;
};
// The allocation could not be made, or is lost. The machine stops.
struct Failed {
  TurnError error;
};
// close() finished (the server confirmed, or the allocation is gone).
struct Deallocated {};
}  // namespace client_event

using ClientEvent =
    std::variant<client_event::Allocated, client_event::Refreshed, client_event::PermissionCreated,
                 client_event::ChannelBound, client_event::PeerData, client_event::RequestFailed,
                 client_event::RefreshRefused, client_event::Failed, client_event::Deallocated>;

struct ClientCounters {
  std::uint64_t requests_sent = 0;         // transmissions, retransmissions included
  std::uint64_t retransmissions = 0;
  std::uint64_t challenges = 0;            // 401/438 answers adopted
  std::uint64_t foreign_datagrams = 0;     // not from the server (UDP)
  std::uint64_t garbage = 0;               // from the server, but neither STUN nor ChannelData
  std::uint64_t unmatched = 0;             // well-formed, but nothing of ours (late answers, unknown channels)
  std::uint64_t integrity_failures = 0;    // answers discarded for a bad or missing HMAC
  std::uint64_t sent_channel_data = 0;
  std::uint64_t sent_indications = 0;
  std::uint64_t received_channel_data = 0;
  std::uint64_t received_indications = 0;
};

class Client {
 public:
  enum class State : std::uint8_t { kIdle, kAllocating, kAllocated, kClosing, kClosed, kFailed };

  // `rng` (transaction ids) must outlive the client.
  Client(ClientConfig config, Rng& rng);

  // Starts the allocation (only from kIdle).
  void allocate(TimePoint now);
  // Permits `peer` to send to the relayed address (and us to it), kept alive
  // until the allocation ends. Before Allocated the request waits.
  void create_permission(TimePoint now, const IpAddress& peer);
  // Binds a channel to `peer` (which also permits its address) and keeps it
  // bound. Returns the channel number, the same for the same peer; nullopt
  // when all 4096 are taken or the machine has ended.
  std::optional<std::uint16_t> bind_channel(TimePoint now, const Endpoint& peer);
  // Relays `payload` to `peer`: as ChannelData once its channel is bound,
  // else in a Send indication (the server drops it without a permission).
  // False when there is no allocation or the payload cannot fit.
  bool send(TimePoint now, const Endpoint& peer, std::span<const std::uint8_t> payload);
  // Refreshes the allocation now instead of at its time.
  void refresh(TimePoint now);
  // Deletes the allocation (Refresh with LIFETIME 0); Deallocated follows.
  void close(TimePoint now);
  // Stream transports: the connection ended (the server deletes the
  // allocation with it).
  void on_connection_closed(TimePoint now);

  // The machine contract.
  void on_datagram(TimePoint now, SocketId socket, const Endpoint& from, std::span<const std::uint8_t> bytes);
  std::optional<Transmit> poll_transmit(TimePoint now);
  std::optional<TimePoint> next_deadline() const;
  void on_timer(TimePoint now);
  std::optional<ClientEvent> poll_event();

  State state() const { return state_; }
  bool done() const { return state_ == State::kClosed || state_ == State::kFailed; }
  const std::optional<Endpoint>& relayed_address() const { return relayed_; }
  const std::optional<Endpoint>& mapped_address() const { return mapped_; }
  // When the allocation ends unless refreshed.
  std::optional<TimePoint> expires_at() const;
  const ClientCounters& counters() const { return counters_; }
  const ClientConfig& config() const { return config_; }
  const LongTermAuth& auth() const { return auth_; }
  // "TURN server 203.0.113.10:3478 over udp": how every message names it.
  const std::string& server_label() const { return label_; }

 private:
  enum class Purpose : std::uint8_t { kAllocate, kRefresh, kDeallocate, kPermission, kChannelBind };
  struct Pending {
    Purpose purpose;
    stun::ClientTransaction transaction;
    TimePoint started;
    Endpoint peer;              // CreatePermission / ChannelBind
    std::uint16_t channel = 0;  // ChannelBind
    bool signed_request = false;
    int challenges = 0;         // 401/438 retries this request has taken
    bool stale_retried = false; // one retry after a 438 only
    bool integrity_failed = false;
    std::optional<int> ignored_error;  // an unauthenticated 400 discarded (RFC 8489 §9.2.5)
  };
  struct Permission {
    IpAddress peer;
    bool installed = false;
    bool in_flight = false;
    TimePoint refresh_at{};
  };
  struct Channel {
    Endpoint peer;
    std::uint16_t number = 0;
    bool bound = false;
    bool in_flight = false;
    TimePoint refresh_at{};
  };

  void start_request(TimePoint now, Purpose purpose, const Endpoint& peer = {}, std::uint16_t channel = 0,
                     int challenges = 0, bool stale_retried = false);
  std::vector<std::uint8_t> build_request(Purpose purpose, const stun::TransactionId& id, const Endpoint& peer,
                                          std::uint16_t channel) const;
  void on_stun(TimePoint now, std::span<const std::uint8_t> bytes);
  void on_channel_data(std::span<const std::uint8_t> bytes);
  void on_data_indication(const stun::MessageView& message);
  void on_response(TimePoint now, std::size_t index, const stun::MessageView& message);
  void on_success(TimePoint now, Pending request, const stun::MessageView& message);
  void on_error(TimePoint now, Pending request, int code, std::string_view reason);
  void on_timeout(TimePoint now, Pending request);
  void start_due_refreshes(TimePoint now);
  void schedule_allocation_refresh(TimePoint now, std::uint32_t lifetime_seconds);
  void finish_failed(Pending request, ErrorKind kind, int code, std::string message);
  void fail(ErrorKind kind, int code, std::string message);
  void closed();
  std::string what(const Pending& request) const;
  Permission* find_permission(const IpAddress& peer);
  Channel* find_channel(const Endpoint& peer);
  Channel* find_channel(std::uint16_t number);
  void queue(std::vector<std::uint8_t> bytes);

  ClientConfig config_;
  Rng& rng_;
  std::string label_;
  LongTermAuth auth_;
  State state_ = State::kIdle;
  std::vector<Pending> pending_;
  std::vector<Permission> permissions_;
  std::vector<Channel> channels_;
  std::uint16_t next_channel_;
  std::deque<Transmit> outbox_;
  std::deque<ClientEvent> events_;
  StreamFramer framer_;
  std::optional<Endpoint> relayed_;
  std::optional<Endpoint> mapped_;
  TimePoint allocation_expires_{};
  TimePoint refresh_at_{};
  std::uint8_t first_garbage_byte_ = 0;
  std::optional<TurnError> refresh_refused_;  // no more refreshes: the allocation runs out
  ClientCounters counters_;
};

}  // namespace natpunch::turn
