#include "measure/mtu_search.hpp"

#include <algorithm>
#include <variant>

namespace natpunch::measure {

namespace {
constexpr SocketId kSocket = 1;
}

MtuSearch::MtuSearch(Endpoint server, MtuSearchConfig config, std::uint32_t id_seed)
    : server_(server), config_(config), next_id_(id_seed) {
  config_.low = std::clamp(config_.low, wire::kRequestSize, wire::kMaxDatagram);
  config_.high = std::clamp(config_.high, config_.low, wire::kMaxDatagram);
  config_.attempts = std::max(1, config_.attempts);
  bad_ = config_.high + 1;
  // The largest first: on a jumbo-capable path one probe settles it, and it
  // is the case a binary search would otherwise reach last.
  size_ = config_.high;
}

std::optional<Transmit> MtuSearch::poll_transmit(TimePoint now) {
  if (done_ || !send_due_) return std::nullopt;
  send_due_ = false;
  waiting_id_ = next_id_++;
  ++tries_;
  ++result_.probes;
  deadline_ = now + config_.timeout;
  return Transmit{kSocket, server_, wire::encode(wire::SizeEchoRequest{waiting_id_, size_})};
}

std::optional<MtuSearchEvent> MtuSearch::poll_event() {
  if (!done_ || done_reported_) return std::nullopt;
  done_reported_ = true;
  return mtu_event::Done{result_};
}

void MtuSearch::next_size() {
  tries_ = 0;
  if ((good_ != 0 && bad_ - good_ <= 1) || (good_ == 0 && bad_ == config_.low)) {
    done_ = true;
    deadline_.reset();
    if (good_ > 0) result_.largest_ok = good_;
    if (bad_ <= config_.high) result_.smallest_fail = bad_;
    return;
  }
  // After `high` failed, try `low` next: if even that fails the server or
  // path is down, and bisecting would only waste time.
  size_ = good_ == 0 ? config_.low : good_ + (bad_ - good_) / 2;
  send_due_ = true;
}

void MtuSearch::outcome(bool arrived) {
  if (arrived)
    good_ = std::max(good_, size_);
  else
    bad_ = std::min(bad_, size_);
  next_size();
}

void MtuSearch::on_datagram(TimePoint, SocketId socket, const Endpoint&, std::span<const std::uint8_t> bytes) {
  if (done_ || socket != kSocket || send_due_) return;
  auto decoded = wire::decode_measure(bytes);
  if (!decoded) return;
  const auto* report = std::get_if<wire::SizeReport>(&*decoded);
  // Reports for earlier tries of this size count too: a slow reply is not a
  // lost one.
  if (!report || report->id + static_cast<std::uint32_t>(tries_) <= waiting_id_ || report->id > waiting_id_) return;
  if (report->received != size_) return;
  outcome(true);
}

void MtuSearch::on_send_error(TimePoint, SocketId socket, const Endpoint&, SendError error) {
  if (done_ || socket != kSocket) return;
  if (error == SendError::TooBig) {
    result_.local_limit = true;
    outcome(false);
  }
}

void MtuSearch::on_timer(TimePoint now) {
  if (done_ || send_due_ || !deadline_ || now < *deadline_) return;
  if (tries_ < config_.attempts)
    send_due_ = true;
  else
    outcome(false);
}

std::optional<TimePoint> MtuSearch::next_deadline() const {
  if (done_) return std::nullopt;
  if (send_due_) return kTimeZero;
  return deadline_;
}

}  // namespace natpunch::measure
