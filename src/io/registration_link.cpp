#include "io/registration_link.hpp"

#include <utility>

namespace natpunch::io {

namespace {
// A stream that answered before and broke is opened again after this.
constexpr Duration kReconnectAfter = seconds(2);
}  // namespace

RegistrationLink::RegistrationLink(RendezvousFallback fallback, Hooks hooks, TimePoint started)
    : fallback_(std::move(fallback)), hooks_(std::move(hooks)), started_(started) {
  if (fallback_.tcp) order_.push_back(turn::Transport::kTcp);
  if (fallback_.tls) order_.push_back(turn::Transport::kTls);
}

RegistrationLink::~RegistrationLink() { close_stream(); }

void RegistrationLink::close_stream() {
  if (!stream_) return;
  if (hooks_.unwatch) hooks_.unwatch(stream_->native_handle());
  stream_.reset();
}

bool RegistrationLink::open(TimePoint now, const Endpoint& server, turn::Transport transport) {
  RendezvousStreamOptions options;
  options.transport = transport;
  options.server = server;
  if (transport == turn::Transport::kTcp && fallback_.tcp_port != 0) options.server.port = fallback_.tcp_port;
  if (transport == turn::Transport::kTls) options.server.port = fallback_.tls_port;
  options.tls = fallback_.tls_options;
  if (options.tls.server_name.empty()) options.tls.server_name = server.address.to_string();
  options.connect_timeout = fallback_.connect_timeout;
  options.should_stop = hooks_.should_stop;
  auto opened = RendezvousStreamLink::open(options);
  if (!opened) {
    if (opened.error().interrupted) return false;  // the client is ending: nothing to report
    if (opened.error().certificate) {
      errors_.clear();  // the one reason that matters
      refused_ = true;
      if (hooks_.refused)
        hooks_.refused(now, opened.error().message +
                                " (give the CA that signed the server's certificate with --rendezvous-tls-ca FILE; "
                                "never treated as no answer)");
    } else {
      errors_.push_back(opened.error().message);
    }
    return false;
  }
  stream_ = std::move(*opened);
  if (hooks_.watch) hooks_.watch(stream_->native_handle());
  stream_opened_ = now;
  heard_ = false;
  answered_ = transport;
  // Registers over it (again, after a reconnection: the server follows the
  // registration to the new connection).
  if (hooks_.opened) hooks_.opened(now, transport);
  return true;
}

void RegistrationLink::check(TimePoint now, const Endpoint& server, bool registering) {
  if (!fallback_.enabled || refused_) return;
  if (stream_ && stream_->closed()) {
    const bool answered = heard_;
    if (auto e = stream_->error())
      errors_.push_back(*e);
    else if (!answered)
      errors_.push_back("the rendezvous server " + stream_->server().to_string() + " closed the " +
                        std::string(turn::to_string(stream_->transport())) + " connection without an answer");
    close_stream();
    reconnect_at_ = now + kReconnectAfter;
    // One that never answered is not ours to come back to: the next transport.
    if (!answered) {
      answered_.reset();
      reconnect_at_.reset();
    }
  }
  if (stream_) {
    // Connected, but nothing came back (a listener that is not ours): the next one.
    if (heard_ || !registering || now - stream_opened_ < fallback_.stream_wait) return;
    errors_.push_back("no answer from the rendezvous server " + stream_->server().to_string() + " over " +
                      std::string(turn::to_string(stream_->transport())));
    close_stream();
    answered_.reset();
  }
  // A stream that answered before and broke: back over the same transport.
  if (answered_) {
    if (reconnect_at_ && now < *reconnect_at_) return;
    if (!open(now, server, *answered_)) reconnect_at_ = now + kReconnectAfter;
    return;
  }
  if (heard_ || !registering || now - started_ < fallback_.udp_wait) return;
  while (next_ < order_.size() && !refused_ && !(hooks_.should_stop && hooks_.should_stop()))
    if (open(now, server, order_[next_++])) return;
}

void RegistrationLink::drain(const std::function<void(std::span<const std::uint8_t>)>& deliver) {
  if (!stream_) return;
  stream_->drain([&](std::span<const std::uint8_t> message) {
    heard_ = true;
    deliver(message);
  });
}

bool RegistrationPorts::send(Transmit&& t) {
  if (link_.over_stream() && t.socket == 0 && t.to == server_()) return link_.send(t.bytes.span());
  return udp_.send(std::move(t));
}

void RegistrationPorts::flush() {
  udp_.flush();
  link_.flush();
}

std::optional<Arrival> RegistrationPorts::next_message() {
  // TLS may hold decrypted messages the socket no longer signals: always drained.
  link_.drain([this](std::span<const std::uint8_t> m) { inbox_.emplace_back(m.begin(), m.end()); });
  if (inbox_.empty()) return std::nullopt;
  current_ = std::move(inbox_.front());
  inbox_.pop_front();
  current_from_ = server_();
  return Arrival{0, current_from_, current_};
}

std::optional<Arrival> RegistrationPorts::receive(TimePoint until) {
  if (auto message = next_message()) return message;
  auto arrival = udp_.receive(until);
  if (arrival) {
    if (arrival->socket == 0 && arrival->from == server_()) link_.heard_over_udp();
    return arrival;
  }
  return next_message();  // the stream's descriptor woke the wait
}

}  // namespace natpunch::io
