#include "io/turn_route_links.hpp"

#include <algorithm>
#include <vector>

namespace natpunch::io {

TurnRouteLinks::~TurnRouteLinks() {
  for (auto& [socket, open] : links_) close(open);
}

void TurnRouteLinks::close(Open& open) {
  if (open.link && open.watched) driver_.unwatch(open.link->native_handle());
  open.watched = false;
  open.link.reset();
}

void TurnRouteLinks::reconcile(session::PeerSessionMachine& machine) {
  const auto* route = machine.turn_route();
  const std::vector<session::TurnLinkWanted> wanted = route ? route->links() : std::vector<session::TurnLinkWanted>{};
  for (auto it = links_.begin(); it != links_.end();) {
    const bool keep = std::any_of(wanted.begin(), wanted.end(), [&](const session::TurnLinkWanted& w) {
      return w.socket == it->first && w.generation == it->second.generation;
    });
    if (keep) {
      ++it;
      continue;
    }
    close(it->second);
    it = links_.erase(it);
  }
  const TimePoint now = Clock::now();
  for (auto& [socket, open] : links_) {
    if (!open.link || open.link->ready()) continue;
    if (open.link->advance(now) != TurnLink::State::kFailed) continue;
    const std::string error = open.link->failure();
    close(open);
    machine.on_turn_link_failed(now, socket, error);
    return;  // the route changed: the next reconcile sees what it wants now
  }
  for (const auto& w : wanted) {
    if (links_.contains(w.socket)) continue;
    Open& open = links_[w.socket];
    open.generation = w.generation;
    const auto& c = *w.config;
    TurnLinkOptions options;
    options.transport = c.transport;
    options.server = c.server;
    options.tls.server_name = c.server_name.empty() ? c.server.address.to_string() : c.server_name;
    options.tls.ca_file = options_.ca_file;
    options.connect_timeout = options_.connect_timeout;
    auto link = TurnLink::start(options, now);
    if (!link) {
      machine.on_turn_link_failed(now, w.socket, link.error());
      return;  // the route changed: the next reconcile sees what it wants now
    }
    open.link = std::move(link.value());
    driver_.watch_readable(open.link->native_handle());
    open.watched = true;
  }
}

std::optional<TimePoint> TurnRouteLinks::next_deadline(TimePoint now) const {
  std::optional<TimePoint> due;
  for (const auto& [socket, open] : links_) {
    if (!open.link || open.link->ready()) continue;
    TimePoint at = open.link->deadline();
    if (open.link->state() == TurnLink::State::kConnecting) at = std::min(at, now + kConnectingPoll);
    if (!due || at < *due) due = at;
  }
  return due;
}

bool TurnRouteLinks::send(const Transmit& transmit) {
  if (!session::TurnRoute::is_link(transmit.socket)) return false;
  if (const auto it = links_.find(transmit.socket); it != links_.end() && it->second.link)
    it->second.link->send(transmit);  // refused: lost, like a datagram
  return true;
}

void TurnRouteLinks::flush() {
  for (auto& [socket, open] : links_)
    if (open.link) open.link->flush();
}

void TurnRouteLinks::read(session::PeerSessionMachine& machine) {
  for (auto& [socket, open] : links_) {
    if (!open.link || !open.link->ready()) continue;
    // Bounded like the sockets: a flood cannot starve the timers.
    for (std::size_t k = 0; k < PunchDriver::kMaxReceivePerWake; ++k) {
      auto a = open.link->receive(TimePoint{});
      if (!a) break;
      machine.on_datagram(Clock::now(), socket, a->from, a->bytes);
    }
    if (open.link->closed() && open.watched) {
      // End of stream stays readable: out of the wait set, and the route told.
      driver_.unwatch(open.link->native_handle());
      open.watched = false;
      machine.on_turn_connection_closed(Clock::now(), socket);
    }
  }
}

}  // namespace natpunch::io
