#include "stun/binding_query.hpp"

#include "stun/binding_request.hpp"

namespace natpunch::stun {

BindingQuery::BindingQuery(std::vector<Endpoint> servers, const RetransmitPolicy& policy, Rng& rng, TimePoint now)
    : servers_(std::move(servers)), policy_(policy), rng_(rng) {
  start_next(now);
}

void BindingQuery::start_next(TimePoint now) {
  if (next_server_ >= servers_.size()) {
    finish();
    return;
  }
  TransactionId id{};
  rng_.fill(id);
  current_.emplace(make_binding_request(id), servers_[next_server_++], policy_, now);
  started_ = now;
}

void BindingQuery::finish() {
  current_.reset();
  done_ = true;
}

std::optional<Transmit> BindingQuery::poll_transmit(TimePoint now) {
  if (done_ || !current_) return std::nullopt;
  auto bytes = current_->poll_transmit(now);
  if (!bytes) return std::nullopt;
  ++result_.requests_sent;
  return Transmit{0, current_->destination(), *bytes};
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

void BindingQuery::on_datagram(TimePoint now, SocketId socket, const Endpoint& from,
                               std::span<const std::uint8_t> bytes) {
  if (socket != 0 || done_ || !current_ || from != current_->destination()) return;  // stray or spoofed source
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
  finish();
}

std::optional<BindingQueryEvent> BindingQuery::poll_event() {
  if (!done_ || reported_) return std::nullopt;
  reported_ = true;
  return binding_event::Done{result_};
}

}  // namespace natpunch::stun
