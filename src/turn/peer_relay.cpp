#include "turn/peer_relay.hpp"

#include <algorithm>
#include <utility>

namespace natpunch::turn {

PeerRelay::PeerRelay(ClientConfig config, Rng& rng, TimePoint now) : client_(std::move(config), rng) {
  client_.allocate(now);
}

void PeerRelay::set_peer(TimePoint now, const Endpoint& peer) {
  if (failed_ || (peer_ && *peer_ == peer)) return;
  peer_ = peer;
  ready_ = false;
  // Before the allocation exists the client keeps the binding for later.
  if (!client_.bind_channel(now, peer))
    fail({ErrorKind::kRejected, 0, client_.server_label() + ": no channel left to bind to " + peer.to_string()});
  service(now);
}

void PeerRelay::permit(TimePoint now, const IpAddress& address) {
  if (failed_ || permitted_.size() >= kMaxPermitted ||
      std::find(permitted_.begin(), permitted_.end(), address) != permitted_.end())
    return;
  permitted_.push_back(address);
  client_.create_permission(now, address);
  service(now);
}

bool PeerRelay::can_send() const {
  if (failed_ || !peer_) return false;
  return ready_ || std::find(installed_.begin(), installed_.end(), peer_->address) != installed_.end();
}

bool PeerRelay::send(TimePoint now, std::span<const std::uint8_t> payload) {
  if (!can_send()) return false;
  if (!client_.send(now, *peer_, payload)) return false;
  ++counters_.sent;
  return true;
}

std::optional<RelayedDatagram> PeerRelay::poll_received() {
  if (inbox_.empty()) return std::nullopt;
  auto datagram = std::move(inbox_.front());
  inbox_.pop_front();
  return datagram;
}

void PeerRelay::close(TimePoint now) {
  ready_ = false;
  if (!client_.done()) client_.close(now);
  service(now);
}

void PeerRelay::on_datagram(TimePoint now, SocketId socket, const Endpoint& from, std::span<const std::uint8_t> bytes) {
  client_.on_datagram(now, socket, from, bytes);
  service(now);
}

void PeerRelay::on_timer(TimePoint now) {
  client_.on_timer(now);
  service(now);
}

void PeerRelay::on_connection_closed(TimePoint now) {
  client_.on_connection_closed(now);
  service(now);
}

std::optional<PeerRelayEvent> PeerRelay::poll_event() {
  if (events_.empty()) return std::nullopt;
  auto event = std::move(events_.front());
  events_.pop_front();
  return event;
}

void PeerRelay::fail(TurnError error) {
  if (failed_) return;
  failed_ = true;
  ready_ = false;
  events_.push_back(peer_relay_event::Failed{std::move(error)});
}

void PeerRelay::service(TimePoint) {
  while (auto event = client_.poll_event()) {
    if (const auto* allocated = std::get_if<client_event::Allocated>(&*event)) {
      events_.push_back(peer_relay_event::CandidateReady{allocated->relayed, allocated->mapped});
    } else if (const auto* permitted = std::get_if<client_event::PermissionCreated>(&*event)) {
      if (std::find(installed_.begin(), installed_.end(), permitted->peer) == installed_.end())
        installed_.push_back(permitted->peer);
    } else if (const auto* bound = std::get_if<client_event::ChannelBound>(&*event)) {
      if (std::find(installed_.begin(), installed_.end(), bound->peer.address) == installed_.end())
        installed_.push_back(bound->peer.address);
      if (peer_ && bound->peer == *peer_ && !failed_) {
        ready_ = true;
        events_.push_back(peer_relay_event::Ready{bound->peer, bound->channel});
      }
    } else if (auto* data = std::get_if<client_event::PeerData>(&*event)) {
      // The peer's IP (or one permit()ted), any port (see the header); the
      // permission already keeps every other IP out at the server.
      const bool known = (peer_ && data->peer.address == peer_->address) ||
                         std::find(permitted_.begin(), permitted_.end(), data->peer.address) != permitted_.end();
      if (!known) {
        ++counters_.foreign_dropped;
      } else if (inbox_.size() < kMaxInbox) {
        ++counters_.received;
        inbox_.push_back({data->peer, std::move(data->payload)});
      }
    } else if (const auto* refused = std::get_if<client_event::RequestFailed>(&*event)) {
      if (peer_ && refused->peer == *peer_) fail(refused->error);
    } else if (const auto* refused_refresh = std::get_if<client_event::RefreshRefused>(&*event)) {
      if (!failed_) events_.push_back(peer_relay_event::Expiring{refused_refresh->error});
    } else if (const auto* failed = std::get_if<client_event::Failed>(&*event)) {
      fail(failed->error);
    }
  }
}

}  // namespace natpunch::turn
