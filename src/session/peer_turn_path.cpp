#include "session/peer_turn_path.hpp"

#include <algorithm>
#include <utility>

namespace natpunch::session {

namespace {
constexpr Duration kFirstGap = seconds(1);
constexpr Duration kLongestGap = seconds(4);
constexpr Duration kEarlyProbeGap = milliseconds(500);
}  // namespace

PeerTurnPath::PeerTurnPath(const Endpoint& relayed, TimePoint now) : relayed_(relayed) { restart(now); }

void PeerTurnPath::restart(TimePoint now) {
  heard_ = false;
  probes_unheard_ = 0;
  gap_ = kFirstGap;
  probe_at_ = now;
}

void PeerTurnPath::set_relayed(TimePoint now, const Endpoint& relayed) {
  if (relayed != relayed_) {
    relayed_ = relayed;
    last_heard_.reset();
    restart(now);
    return;
  }
  // A repeat from a peer that has not heard us yet: probe soon (bounded).
  if (heard_ || (last_early_probe_ && now - *last_early_probe_ < kEarlyProbeGap)) return;
  last_early_probe_ = now;
  if (probes_unheard_ >= kMaxProbes) probes_unheard_ = kMaxProbes - 1;
  probe_at_ = now;
}

bool PeerTurnPath::poll_probe(TimePoint now) {
  if (!probe_at_ || now < *probe_at_) return false;
  ++counters_.probes;
  if (heard_) {
    probe_at_ = now + kKeepGap;
  } else if (++probes_unheard_ >= kMaxProbes) {
    probe_at_.reset();
  } else {
    probe_at_ = now + gap_;
    gap_ = std::min<Duration>(gap_ * 2, kLongestGap);
  }
  return true;
}

void PeerTurnPath::on_heard(TimePoint now) {
  ++counters_.received;
  last_heard_ = now;
  if (heard_) return;
  heard_ = true;
  // Tell the peer at once that we hear it, then keep the path alive.
  probe_at_ = now;
}

std::optional<TimePoint> PeerTurnPath::next_deadline() const {
  std::optional<TimePoint> t = probe_at_;
  if (heard_ && last_heard_) {
    const auto silent_at = *last_heard_ + kSilence;
    if (!t || silent_at < *t) t = silent_at;
  }
  return t;
}

void PeerTurnPath::on_timer(TimePoint now) {
  if (heard_ && last_heard_ && now >= *last_heard_ + kSilence) {
    lost_ = label() + ": nothing heard from the peer's relay for " +
            std::to_string(std::chrono::duration_cast<seconds>(kSilence).count()) + " s";
    restart(now);
  }
}

std::optional<std::string> PeerTurnPath::poll_lost() { return std::exchange(lost_, std::nullopt); }

std::string PeerTurnPath::label() const { return "TURN via the peer's relay " + relayed_.to_string() + " (one-sided)"; }

}  // namespace natpunch::session
