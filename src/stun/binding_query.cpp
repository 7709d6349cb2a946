#include "stun/binding_query.hpp"

#include "stun/binding_request.hpp"

namespace natpunch::stun {


BindingQuery::BindingQuery(std::vector<Endpoint> servers, const RetransmitPolicy& policy, Rng& rng, TimePoint now)
    : servers_(std::move(servers)), policy_(policy), rng_(rng) {
  start_next(now);
}

void BindingQuery::start_next(TimePoint now) {
  if (next_server_ >= servers_.size()) {
    current_.reset();
    done_ = true;
    return;
  }
  TransactionId id{};
  rng_.fill(id);
  current_.emplace(make_binding_request(id), servers_[next_server_++], policy_, now);
  started_ = now;
}

std::vector<Transmit> BindingQuery::poll_transmit(TimePoint now) {
  std::vector<Transmit> out;
  if (done_ || !current_) return out;
  if (auto bytes = current_->poll_transmit(now)) {
    ++result_.requests_sent;
    out.push_back({current_->destination(), {bytes->begin(), bytes->end()}});
  }
  return out;
}

std::optional<TimePoint> BindingQuery::next_deadline() const {
  if (done_ || !current_) return std::nullopt;
  return current_->next_deadline();
}

void BindingQuery::on_timer(TimePoint now) {
  if (done_ || !current_) return;
  current_->on_timer(now);
  if (current_->state() == TransactionState::TimedOut) {
    result_.silent_servers.push_back(current_->destination());
    start_next(now);
  }
}

void BindingQuery::on_datagram(TimePoint now, std::span<const std::uint8_t> bytes, const Endpoint& from) {
  if (done_ || !current_ || from != current_->destination()) return;  // stray or spoofed source
  auto message = MessageView::decode(bytes);
  if (!message || !current_->on_response(*message)) return;
  result_.answered = true;
  result_.server = current_->destination();
  result_.round_trip = now - started_;
  if (current_->state() == TransactionState::Rejected) {
    if (auto error = message->error_code()) result_.error_code = error->code;
  } else {
    result_.mapped = message->reflexive_address();
    result_.response_origin = message->response_origin();
    if (!result_.response_origin) result_.response_origin = message->source_address();
    result_.other_address = message->alternate_address();
  }
  done_ = true;
}

}  // namespace natpunch::stun
