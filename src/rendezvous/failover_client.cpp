#include "rendezvous/failover_client.hpp"

#include <algorithm>
#include <utility>

namespace natpunch::rendezvous {

FailoverClient::FailoverClient(ClientConfig config, RandomBytes random) : client_(config, std::move(random)) {
  servers_.push_back(config.server);
  for (const auto& e : config.alternate_servers)
    if (std::find(servers_.begin(), servers_.end(), e) == servers_.end()) servers_.push_back(e);
}

void FailoverClient::start(TimePoint now) {
  attempt_started_ = now;
  client_.start(now);
}

void FailoverClient::restart(TimePoint now) {
  attempt_started_ = now;
  client_.switch_server(now, client_.server());
}

void FailoverClient::check(TimePoint now, bool lost) {
  if (lost) attempt_started_ = now;  // registering again, at the same server so far
  if (!follows()) return;
  const bool silent = !client_.registered() && now - attempt_started_ >= kFailoverAfter;
  if (!lost && !silent) return;
  current_ = (current_ + 1) % servers_.size();
  ++failovers_;
  attempt_started_ = now;
  client_.switch_server(now, servers_[current_]);
}

void FailoverClient::absorb(TimePoint now) {
  while (auto e = client_.poll_event()) {
    if (const auto* lost = std::get_if<client_event::RegistrationLost>(&*e); lost && !lost->reason) check(now, true);
    events_.push_back(std::move(*e));
  }
}

bool FailoverClient::on_datagram(TimePoint now, SocketId socket, const Endpoint& from,
                                 std::span<const std::uint8_t> bytes) {
  const bool ours = client_.on_datagram(now, socket, from, bytes);
  absorb(now);
  return ours;
}

std::optional<TimePoint> FailoverClient::next_deadline() const {
  auto due = client_.next_deadline();
  if (follows() && !client_.registered()) {
    const auto silent = attempt_started_ + kFailoverAfter;
    if (!due || silent < *due) due = silent;
  }
  return due;
}

void FailoverClient::on_timer(TimePoint now) {
  if (auto due = client_.next_deadline(); due && *due <= now) client_.on_timer(now);
  absorb(now);
  check(now, false);
}

std::optional<ClientEvent> FailoverClient::poll_event() {
  if (auto e = take_front(events_)) return e;
  // Events of calls made through client() (no time passed, nothing lost).
  return client_.poll_event();
}

}  // namespace natpunch::rendezvous
