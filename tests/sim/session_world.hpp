#pragma once
// Whole sessions in the simulator: a rendezvous::Server on a public host
// and two session::PeerSessionMachines, each behind a simulated NAT (or
// public, or with UDP blocked), in virtual time. The machines are the very
// code io/peer_session.cpp drives on real sockets.
//
//   SessionWorld w(seed);
//   w.add_peer(side_a, /*caller=*/true); w.add_peer(side_b, false);
//   w.run_until_open(seconds(60));
//   w.a().machine().info().strategy ...
#include <functional>
#include <map>
#include <set>
#include <utility>
#include <memory>
#include <stdexcept>
#include <optional>
#include <string>
#include <vector>

#include "../support/event_log.hpp"
#include "core/rng.hpp"
#include "rendezvous/server_machine.hpp"
#include "session/peer_session_machine.hpp"
#include "sim/machine_host.hpp"
#include "sim/network.hpp"
#include "sim_turn_server.hpp"

namespace natpunch::sim::testing {

// One peer: the session machine on the simulator's one host
// (sim/machine_host.hpp: machine socket i is local port kFirstPort + i),
// and what it reported.
class PeerHost {
 public:
  using Host = MachineHost<session::PeerSessionMachine>;
  static constexpr std::uint16_t kFirstPort = 40000;
  // A dual-stack peer's IPv6 socket (SessionConfig::v6_socket), bound at
  // its IPv6 address, port kFirstPort.
  static constexpr SocketId kV6Socket = 4096;

  PeerHost(IpAddress local, std::unique_ptr<session::PeerSessionMachine> machine)
      : host_(std::make_unique<Host>(local, kFirstPort, std::move(machine))) {
    host_->on_event = [this](const session::SessionEvent& e) {
      if (const auto* d = std::get_if<session::session_event::DataReceived>(&e)) received_.push_back(d->payload);
      events_.push_back(e);
    };
  }

  Host& host() { return *host_; }
  session::PeerSessionMachine& machine() { return host_->machine(); }
  const std::vector<session::SessionEvent>& events() const { return events_; }
  const std::vector<std::vector<std::uint8_t>>& received() const { return received_; }
  template <class T>
  std::vector<T> all() const {
    return test_support::all_events<T>(events_);
  }
  template <class T>
  std::optional<T> last() const {
    return test_support::last_event<T>(events_);
  }
  template <class T>
  std::size_t count() const {
    return all<T>().size();
  }
  bool open() const { return host_->machine().phase() == session::Phase::Open; }
  bool settled() const {
    const auto p = host_->machine().phase();
    return p == session::Phase::Open || p == session::Phase::Failed || p == session::Phase::Closed;
  }

 private:
  std::unique_ptr<Host> host_;
  std::vector<session::SessionEvent> events_;
  std::vector<std::vector<std::uint8_t>> received_;
};

// How a side reaches the internet.
struct Side {
  std::string tag;
  // V6Only: no IPv4 at all (the lab's v6fw / v6): socket 0 is IPv6, at the
  // side's IPv6 address, registered at the server's IPv6 address; `v6`
  // says open or firewalled (None counts as Firewall).
  enum class Kind { Public, Nat, Blocked, V6Only } kind = Kind::Nat;
  nat::NatConfig nat;          // Nat
  rendezvous::NatInfo info;    // what the peer tells the rendezvous about its NAT
  // Besides IPv4: IPv6 routed to the peer (no NAT66), open or behind a
  // stateful firewall that drops what the peer did not ask for (the lab's
  // +v6 / +v6fw).
  enum class V6 { None, Open, Firewall } v6 = V6::None;
  Duration v6_latency = milliseconds(10);  // its IPv6 uplink's
};

class SessionWorld {
 public:
  inline static const Endpoint kServer{IpAddress::v4({203, 0, 113, 10}), 7000};
  // The server's IPv6 listener (`rendezvous --listen A,B`): IPv6-only peers register there.
  inline static const Endpoint kServer6{IpAddress::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10}),
                                        7000};

  // `server_tweak` edits the rendezvous server's config (e.g. TURN relays to offer).
  explicit SessionWorld(std::uint64_t seed, Duration start_delay = milliseconds(200),
                        const std::function<void(rendezvous::ServerConfig&)>& server_tweak = {})
      : rng_(seed), network_(rng_.next_u64()) {
    rendezvous::ServerConfig config;
    config.rate_limit.reset();
    config.start_delay = start_delay;
    if (server_tweak) server_tweak(config);
    server_ = std::make_unique<ServerHost>(
        std::vector<Endpoint>{kServer, kServer6},
        rendezvous::ServerMachine(std::move(config), random(), kTimeZero, {kServer, kServer6}));
    const auto server_host = network_.add_public_host(kServer.address, LinkConfig{milliseconds(5)}, *server_);
    network_.add_public_address(server_host, kServer6.address, LinkConfig{milliseconds(5)});
  }

  rendezvous::RandomBytes random() {
    return [this](std::span<std::uint8_t> out) { rng_.fill(out); };
  }

  // A session config for this world's server (defaults as the CLI's).
  session::SessionConfig config(bool caller, const rendezvous::Identity& id, const rendezvous::NatInfo& info) {
    session::SessionConfig c;
    c.caller = caller;
    c.client.server = kServer;
    c.client.identity = id;
    c.client.info = info;
    c.client.initial_retransmit = milliseconds(250);
    if (caller) {
      c.client.listening = false;
      c.client.unknown_peer_retry = milliseconds(500);
    } else {
      c.client.accept_policy = rendezvous::accept_all();
      c.client.single_session = true;
    }
    c.wait = seconds(20);
    c.seed = rng_.next_u64();
    return c;
  }

  // Peers in order: the first added is a(), the second b(). `tweak` edits
  // the session config before the machine starts.
  // `behind`: an existing NAT to put the peer behind (a second phone on
  // the same carrier NAT); else the side's own NAT (or none).
  PeerHost& add_peer(const Side& side, bool caller, const std::optional<rendezvous::PublicKey>& callee,
                     const rendezvous::Identity& id, const std::function<void(session::SessionConfig&)>& tweak = {},
                     std::optional<NatId> behind = std::nullopt) {
    const auto index = static_cast<std::uint8_t>(peers_.size());
    const IpAddress inside = IpAddress::v4({100, 64, 0, static_cast<std::uint8_t>(2 + index)});
    IpAddress outside = IpAddress::v4({198, 51, 100, static_cast<std::uint8_t>(101 + index)});
    const bool natted = behind || side.kind == Side::Kind::Nat;
    const bool v6_only = side.kind == Side::Kind::V6Only;
    // Host candidates, as the real driver gathers them: socket 0's local
    // endpoint, and the IPv6 socket's.
    const Endpoint v6_local{IpAddress::v6({0x20, 0x01, 0x0d, 0xb8, 0, static_cast<std::uint8_t>(1 + index), 0, 0, 0, 0,
                                           0, 0, 0, 0, 0, 2}),
                            PeerHost::kFirstPort};
    if (v6_only) outside = v6_local.address;
    const IpAddress local = natted ? inside : outside;
    auto c = config(caller, id, side.info);
    c.peer = callee;
    if (v6_only) c.client.server = kServer6;
    if (c.client.info.local_endpoints.empty()) {
      c.client.info.local_endpoints = {Endpoint{local, PeerHost::kFirstPort}};
      if (side.v6 != Side::V6::None && !v6_only) c.client.info.local_endpoints.push_back(v6_local);
    }
    if (v6_only)
      c.v6_socket = 0;  // as the driver: socket 0 is the IPv6 socket
    else if (side.v6 != Side::V6::None)
      c.v6_socket = PeerHost::kV6Socket;
    if (tweak) tweak(c);
    peers_.push_back(std::make_unique<PeerHost>(
        local, std::make_unique<session::PeerSessionMachine>(std::move(c), random(), network_.now())));
    PeerHost& host = *peers_.back();
    if (behind) {
      outside = nat_public_[*behind];
      host_ids_.push_back(network_.add_inside_host(*behind, inside, LinkConfig{milliseconds(1)}, host.host()));
    } else if (side.kind == Side::Kind::Nat) {
      const auto nat = add_nat(side.nat, outside);
      host_ids_.push_back(network_.add_inside_host(nat, inside, LinkConfig{milliseconds(1)}, host.host()));
    } else {
      LinkConfig uplink{milliseconds(10)};
      if (side.kind == Side::Kind::Blocked) uplink.loss = 1.0;  // no UDP at all
      host_ids_.push_back(network_.add_public_host(outside, uplink, host.host()));
    }
    public_addresses_.push_back(outside);
    if (v6_only) {
      if (side.v6 != Side::V6::Open) firewall(v6_local.address);
      return host;
    }
    if (side.v6 != Side::V6::None) {
      host.host().add_fixed_socket(PeerHost::kV6Socket, v6_local);
      network_.add_public_address(host_ids_.back(), v6_local.address, LinkConfig{side.v6_latency});
      if (side.v6 == Side::V6::Firewall) firewall(v6_local.address);
    }
    return host;
  }

  // A stateful firewall (address and port dependent, as conntrack) in front
  // of `address`: only answers to what it sent pass. Uses Network::filter.
  void firewall(const IpAddress& address) {
    firewalled_.insert(address);
    if (network_.filter) return;
    network_.filter = [this](TimePoint, const Endpoint& from, const Endpoint& to) {
      if (firewalled_.contains(from.address)) {
        flows_.insert({from, to});
        return false;
      }
      return firewalled_.contains(to.address) && !flows_.contains({to, from});
    };
  }

  NatId add_nat(nat::NatConfig config, const IpAddress& public_address) {
    config.public_addresses = {public_address};
    auto id = network_.add_nat(config, LinkConfig{milliseconds(10)});
    if (!id) throw std::runtime_error("bad NAT config: " + id.error().field + ": " + id.error().message);
    nat_public_[*id] = public_address;
    return *id;
  }

  // A caller (a) towards a listener (b), the listener registered first.
  void add_pair(const Side& caller, const Side& listener, const std::function<void(session::SessionConfig&)>& tweak = {}) {
    const auto id_a = rendezvous::Identity::generate(random());
    const auto id_b = rendezvous::Identity::generate(random());
    add_peer(listener, false, std::nullopt, id_b, tweak);
    run_for(milliseconds(300));
    add_peer(caller, true, id_b.public_key, id_a, tweak);
  }
  // Both behind one NAT (two phones of one carrier): `routes_inside` says
  // whether it forwards between its clients (else only hairpinning, if the
  // NAT does it, joins them).
  void add_pair_behind_one_nat(const Side& side, bool routes_inside,
                               const std::function<void(session::SessionConfig&)>& tweak = {}) {
    const auto nat = add_nat(side.nat, IpAddress::v4({198, 51, 100, 150}));
    network_.nat(nat).set_routes_inside(routes_inside);
    const auto id_a = rendezvous::Identity::generate(random());
    const auto id_b = rendezvous::Identity::generate(random());
    add_peer(side, false, std::nullopt, id_b, tweak, nat);
    run_for(milliseconds(300));
    add_peer(side, true, id_b.public_key, id_a, tweak, nat);
  }
  PeerHost& b() { return *peers_[0]; }
  PeerHost& a() { return *peers_[1]; }
  // The public address a side is seen at (its NAT's, or its own).
  // Before add_pair added that side: the unspecified address (a network
  // filter may ask while the pair is being built).
  IpAddress public_a() const { return public_addresses_.size() > 1 ? public_addresses_[1] : IpAddress{}; }
  IpAddress public_b() const { return public_addresses_.empty() ? IpAddress{} : public_addresses_[0]; }

  void run_until(TimePoint until, const std::function<bool()>& stop = [] { return false; }) {
    network_.run(until, stop);
    if (!stop()) network_.advance_to(until);
  }
  void run_for(Duration d, const std::function<bool()>& stop = [] { return false; }) {
    run_until(network_.now() + d, stop);
  }
  // Until both sessions are open or failed (or `limit` passed).
  void run_until_settled(Duration limit) {
    run_for(limit, [this] { return a().settled() && b().settled(); });
  }
  // The application sends on `peer` now (the machine's transmits leave at once).
  bool send(PeerHost& peer, std::span<const std::uint8_t> payload) {
    bool ok = false;
    act(peer, [&](session::PeerSessionMachine& m) { ok = m.send(network_.now(), payload); });
    return ok;
  }
  // The application (or the driver) calls `peer`'s machine now.
  template <class F>
  void act(PeerHost& peer, F&& call) {
    Outbox out(network_, host_id(peer), network_.now());
    peer.host().act(network_.now(), out, [&](session::PeerSessionMachine& m) { call(m); });
    network_.reschedule(host_id(peer));
  }

  // A TURN server on the public internet (sim_turn_server.hpp); peers use
  // it when their config says so (turn_config()).
  inline static const IpAddress kTurnAddress = IpAddress::v4({203, 0, 113, 30});
  SimTurnServer& add_turn_server(const IpAddress& address = kTurnAddress, Duration latency = milliseconds(5)) {
    turns_.push_back(std::make_unique<SimTurnServer>(address));
    turn_hosts_.push_back(network_.add_public_host(address, LinkConfig{latency}, *turns_.back()));
    return *turns_.back();
  }
  // The first TURN server added, and its host.
  SimTurnServer& turn_server() { return *turns_.front(); }
  HostId turn_host() const { return turn_hosts_.front(); }
  static turn::ClientConfig turn_config() {
    turn::ClientConfig c;
    c.server = Endpoint{kTurnAddress, SimTurnServer::kPort};
    c.credentials = {"alice", "secret"};  // the fake server's
    return c;
  }

  Network& network() { return network_; }
  rendezvous::Server& server() { return server_->machine().server(); }
  TimePoint now() const { return network_.now(); }

 private:
  std::uint32_t host_id(const PeerHost& peer) const {
    for (std::size_t i = 0; i < peers_.size(); ++i)
      if (peers_[i].get() == &peer) return host_ids_[i];
    return 0;
  }

  Rng rng_;
  Network network_;
  using ServerHost = MachineHost<rendezvous::ServerMachine>;
  std::unique_ptr<ServerHost> server_;
  std::vector<std::unique_ptr<SimTurnServer>> turns_;
  std::vector<HostId> turn_hosts_;
  std::vector<std::unique_ptr<PeerHost>> peers_;
  std::vector<HostId> host_ids_;
  std::vector<IpAddress> public_addresses_;
  std::map<NatId, IpAddress> nat_public_;
  std::set<IpAddress> firewalled_;
  std::set<std::pair<Endpoint, Endpoint>> flows_;  // (inside, outside) the firewalls let answers through for
};

}  // namespace natpunch::sim::testing
