#include "io/rendezvous_stream_link.hpp"

#include <vector>

namespace natpunch::io {

Result<std::unique_ptr<RendezvousStreamLink>, RendezvousStreamError> RendezvousStreamLink::open(
    const RendezvousStreamOptions& options) {
  TurnLinkOptions link;
  link.transport = options.transport;
  link.server = options.server;
  link.tls = options.tls;
  link.connect_timeout = options.connect_timeout;
  link.label = "rendezvous server";
  link.should_stop = options.should_stop;
  auto opened = TurnLink::open(link);
  if (!opened) {
    // TlsSession's words for a certificate it refused (TurnLink passes them on).
    const bool certificate = opened.error().find("certificate") != std::string::npos;
    return Unexpected{RendezvousStreamError{opened.error(), certificate, opened.error() == TurnLink::kInterrupted}};
  }
  return std::unique_ptr<RendezvousStreamLink>(new RendezvousStreamLink(std::move(*opened), options.transport));
}

bool RendezvousStreamLink::send(std::span<const std::uint8_t> message) {
  if (closed() || link_->backlog() >= kMaxBacklog) return false;
  std::vector<std::uint8_t> frame;
  if (!rendezvous::append_frame(frame, message)) return false;
  return link_->send(Transmit{0, {}, DatagramBytes(std::span<const std::uint8_t>(frame))});
}

void RendezvousStreamLink::flush() { link_->flush(); }

void RendezvousStreamLink::drain(const std::function<void(std::span<const std::uint8_t>)>& deliver) {
  while (!closed()) {
    auto piece = link_->receive(TimePoint{});
    if (!piece) break;
    deframer_.push(piece->bytes);
    while (auto message = deframer_.next()) deliver(*message);
    if (deframer_.error()) {
      closed_ = true;
      error_ = "the rendezvous server's stream broke: " + std::string(rendezvous::to_string(*deframer_.error()));
    }
  }
}

std::optional<std::string> RendezvousStreamLink::error() const {
  if (error_) return error_;
  return link_->error();
}

}  // namespace natpunch::io
