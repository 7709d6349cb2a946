#pragma once
// A TURN server (RFC 8656, UDP) on a public host of the simulator, small
// enough for session tests: one allocation per client 5-tuple, whose
// control requests the scripted fake server answers (credentials, nonce,
// Allocate/Refresh/CreatePermission/ChannelBind: tests/unit/turn_fake_server.hpp;
// Binding without credentials, as coturn),
// plus the relaying the fake leaves out: ChannelData and Send indications
// from the client leave the relayed address for a permitted peer, and
// datagrams reaching a relayed address from a permitted IP go to the client
// (ChannelData on a bound channel, else a Data indication). Anything else
// is dropped, as coturn drops it. A request other than Allocate from a
// client without an allocation gets 437, as coturn answers it; restart()
// forgets every allocation (a new nonce too), drop_allocations_of() those
// of one client (its TCP/TLS link closed).
#include <charconv>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "../unit/turn_fake_server.hpp"
#include "sim/host_app.hpp"
#include "stun/message.hpp"
#include "stun/turn_attributes.hpp"
#include "turn/channel_data.hpp"
#include "turn/rest_credentials.hpp"

namespace natpunch::sim::testing {

class SimTurnServer final : public HostApp {
 public:
  static constexpr std::uint16_t kPort = 3478;
  static constexpr std::uint16_t kFirstRelayPort = 50000;

  explicit SimTurnServer(IpAddress address) : address_(address) {}

  Endpoint endpoint() const { return {address_, kPort}; }
  // Every Allocate is refused with this STUN error (e.g. 486), when set.
  std::optional<int> refuse_allocations;
  // Drops everything (a dead server).
  bool silent = false;
  // TURN REST API credentials (coturn's use-auth-secret), as the rendezvous
  // mints them: any username, whose password is HMAC(secret, username).
  // Empty: the fake's fixed alice/secret.
  std::string rest_secret;
  // With rest_secret: the server's UNIX clock at kTimeZero. A REST
  // username whose expiry has passed does not make a new allocation (401),
  // but an allocation keeps the key it was made with and is refreshed under
  // it past that expiry, as coturn does (it binds the username to the
  // allocation: another one gets a 401 here, 441 at coturn).
  std::optional<std::int64_t> unix_at_start;
  // What Allocate and Refresh grant (the client refreshes half-way for short ones).
  std::uint32_t granted_lifetime = 600;
  // With rest_secret: a Refresh signed with a username whose expiry has
  // passed gets 401 (a server that re-checks expiry on every request;
  // coturn binds the allocation to its username instead).
  bool recheck_expiry_on_refresh = false;
  // Without rest_secret: the password new allocations need (the static
  // credentials changed at the server); empty: the fake's.
  std::string password_for_new_allocations;
  std::uint64_t restarts = 0, refreshes_refused = 0;
  std::uint64_t refreshes_past_expiry = 0;  // successful, signed with an expired username
  std::uint64_t relayed_to_peers = 0, relayed_to_clients = 0, dropped_unpermitted = 0;

  // Lets every IP through to the clients (a server without permissions):
  // the client's own filter is all that is left.
  bool permit_all = false;

  // A datagram as if it reached `relayed` from `from` at `at` (a forged
  // one: the network would not let a test spoof it otherwise). The test
  // then wakes this host (Network::wake).
  void arrive_at(TimePoint at, const Endpoint& from, const Endpoint& relayed, std::vector<std::uint8_t> bytes) {
    planned_.push_back({at, from, relayed, std::move(bytes)});
  }
  // The server restarts: every allocation is forgotten, nonces change.
  void restart() {
    allocations_.clear();
    ++restarts;
  }
  // `client`'s allocations end (its TCP/TLS link to the server closed).
  void drop_allocations_of(const IpAddress& client) {
    std::erase_if(allocations_, [&](const auto& entry) { return entry.first.address == client; });
  }
  std::size_t allocations_made() const { return allocations_made_; }
  // The relayed address of the allocation made from `client`'s address (any port).
  std::optional<Endpoint> relayed_for(const IpAddress& client) const {
    for (const auto& [from, a] : allocations_)
      if (from.address == client && a.allocated) return a.relayed;
    return std::nullopt;
  }

  std::optional<TimePoint> next_deadline() const override {
    std::optional<TimePoint> t;
    for (const auto& p : planned_)
      if (!t || p.at < *t) t = p.at;
    return t;
  }
  void on_timer(TimePoint now, Outbox& out) override {
    for (auto it = planned_.begin(); it != planned_.end();) {
      if (it->at > now) {
        ++it;
        continue;
      }
      Packet p;
      p.assign(it->from, it->to, it->bytes);
      it = planned_.erase(it);
      on_datagram(now, p, out);
    }
  }

  void on_datagram(TimePoint now, const Packet& packet, Outbox& out) override {
    if (silent) return;
    const auto bytes = packet.payload();
    if (packet.to.port == kPort) {
      from_client(now, packet.from, bytes, out);
      return;
    }
    // To a relayed address: from a permitted IP only.
    for (auto& [client, a] : allocations_) {
      if (!a.allocated || a.relayed != packet.to || now >= a.expires) continue;
      if (!permit_all && !a.permitted.contains(packet.from.address)) {
        ++dropped_unpermitted;
        return;
      }
      ++relayed_to_clients;
      std::vector<std::uint8_t> message;
      for (const auto& [channel, peer] : a.channels)
        if (peer == packet.from) turn::append_channel_data(channel, bytes, false, message);
      if (message.empty()) message = a.fake.data_indication(packet.from, bytes);
      out.send(endpoint(), client, message);
      return;
    }
  }

 private:
  struct Allocation {
    turn::fake::FakeTurnServer fake;
    Endpoint relayed;
    bool allocated = false;
    TimePoint expires{};
    std::set<IpAddress> permitted;
    std::map<std::uint16_t, Endpoint> channels;
  };

  // The expiry a REST username ("EXPIRY:ID") carries has passed.
  bool expired(TimePoint now, const std::string& username) const {
    if (!unix_at_start) return false;
    const auto colon = username.find(':');
    std::int64_t expiry = 0;
    const char* first = username.data();
    if (colon == std::string::npos || std::from_chars(first, first + colon, expiry).ec != std::errc{}) return true;
    return expiry < *unix_at_start + std::chrono::duration_cast<std::chrono::seconds>(now - kTimeZero).count();
  }

  void from_client(TimePoint now, const Endpoint& client, std::span<const std::uint8_t> bytes, Outbox& out) {
    auto it = allocations_.find(client);
    // An allocation not refreshed in time is gone (its 5-tuple free again).
    if (it != allocations_.end() && it->second.allocated && now >= it->second.expires) {
      allocations_.erase(it);
      it = allocations_.end();
    }
    if (it == allocations_.end()) {
      it = allocations_.emplace(client, Allocation{}).first;
      Allocation& fresh = it->second;
      fresh.relayed = Endpoint{address_, next_relay_port_++};
      fresh.fake.relayed = fresh.relayed;
      fresh.fake.lifetime = granted_lifetime;
      fresh.fake.nonce = "nonce-" + std::to_string(restarts + 1);
      if (rest_secret.empty() && !password_for_new_allocations.empty())
        fresh.fake.password = password_for_new_allocations;
      fresh.fake.error_for = [code = refuse_allocations, &fresh](const turn::fake::SeenRequest& r) -> std::optional<int> {
        if (r.method == stun::Method::Allocate) return code;
        if (!fresh.allocated) return 437;  // no allocation for this 5-tuple
        return std::nullopt;
      };
    }
    Allocation& a = it->second;
    // A server that re-checks expiry: the expired username's key no longer works.
    if (recheck_expiry_on_refresh && a.allocated && !rest_secret.empty() && expired(now, a.fake.username))
      if (auto m = stun::MessageView::decode(bytes); m && m->method() == stun::Method::Refresh &&
                                                     m->message_class() == stun::MessageClass::Request &&
                                                     a.fake.password != "expired") {
        a.fake.password = "expired";
        ++refreshes_refused;
      }
    // The allocation keeps the key it was made with (see unix_at_start).
    if (!rest_secret.empty() && !a.allocated)
      if (auto m = stun::MessageView::decode(bytes); m && m->username()) {
        a.fake.username = std::string(*m->username());
        a.fake.password =
            expired(now, a.fake.username) ? std::string("expired") : turn::rest_password(rest_secret, a.fake.username);
      }
    if (turn::looks_like_channel_data(bytes)) {
      const auto view = turn::decode_channel_data(bytes);
      if (!view || !a.allocated) return;
      const auto peer = a.channels.find(view->channel);
      if (peer == a.channels.end()) return;
      ++relayed_to_peers;
      out.send(a.relayed, peer->second, view->payload);
      return;
    }
    // A Binding needs no credentials (coturn answers it; relays are ranked by it).
    if (auto m = stun::MessageView::decode(bytes);
        m && m->method() == stun::Method::Binding && m->message_class() == stun::MessageClass::Request) {
      std::vector<std::uint8_t> buffer(512);
      stun::MessageBuilder b(buffer, stun::Method::Binding, stun::MessageClass::SuccessResponse, m->transaction_id());
      b.add_xor_address(stun::attr::kXorMappedAddress, client);
      buffer.resize(b.size());
      out.send(endpoint(), client, buffer);
      return;
    }
    const auto reply = a.fake.answer(bytes);
    if (a.fake.seen.empty()) return;
    const auto& r = a.fake.seen.back();
    if (r.method == stun::Method::Send && r.cls == stun::MessageClass::Indication) {
      if (a.allocated && r.peer && a.permitted.contains(r.peer->address)) {
        ++relayed_to_peers;
        out.send(a.relayed, *r.peer, r.data);
      }
      return;
    }
    if (reply.empty()) return;
    const auto answer = stun::MessageView::decode(reply);
    if (answer && answer->message_class() == stun::MessageClass::SuccessResponse) {
      if (r.method == stun::Method::Allocate && !a.allocated) {
        a.allocated = true;
        ++allocations_made_;
      }
      if (r.method == stun::Method::Allocate || r.method == stun::Method::Refresh)
        a.expires = now + seconds(granted_lifetime);
      if (r.method == stun::Method::Refresh && r.lifetime == 0u) a.allocated = false;
      if (r.method == stun::Method::Refresh && r.lifetime != 0u && expired(now, a.fake.username))
        ++refreshes_past_expiry;
      if (r.method == stun::Method::CreatePermission && r.peer) a.permitted.insert(r.peer->address);
      if (r.method == stun::Method::ChannelBind && r.peer && r.channel) {
        a.permitted.insert(r.peer->address);
        a.channels[*r.channel] = *r.peer;
      }
    }
    out.send(endpoint(), client, reply);
  }

  struct Planned {
    TimePoint at;
    Endpoint from, to;
    std::vector<std::uint8_t> bytes;
  };
  IpAddress address_;
  std::map<Endpoint, Allocation> allocations_;
  std::uint16_t next_relay_port_ = kFirstRelayPort + 1;
  std::size_t allocations_made_ = 0;
  std::vector<Planned> planned_;
};

}  // namespace natpunch::sim::testing
