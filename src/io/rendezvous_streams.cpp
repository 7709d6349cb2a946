#include "io/rendezvous_streams.hpp"

#include <asio/write.hpp>
#include <array>

#include "io/asio_convert.hpp"
#include "rendezvous/stream_framing.hpp"

namespace natpunch::io {

struct RendezvousStreams::Listener {
  explicit Listener(asio::io_context& ctx) : acceptor(ctx) {}
  asio::ip::tcp::acceptor acceptor;
  std::shared_ptr<const TlsServerContext> tls;
};

struct RendezvousStreams::Connection {
  explicit Connection(asio::ip::tcp::socket s) : socket(std::move(s)) {}
  std::uint64_t id = 0;
  asio::ip::tcp::socket socket;
  Endpoint peer;
  std::shared_ptr<const TlsServerContext> tls_context;  // kept alive with the session
  std::unique_ptr<TlsSession> tls;
  rendezvous::StreamDeframer deframer;
  std::vector<std::uint8_t> plain;     // TLS plaintext, reused
  std::vector<std::uint8_t> out;       // bytes to write (ciphertext over TLS)
  std::vector<std::uint8_t> inflight;  // being written
  bool writing = false;
  bool closed = false;
  std::array<std::uint8_t, 16384> in{};
};

RendezvousStreams::RendezvousStreams(asio::io_context& ctx, rendezvous::StreamLimits limits, std::uint64_t hash_seed,
                                     Deliver deliver)
    : ctx_(ctx), guard_(limits, hash_seed), deliver_(std::move(deliver)), expiry_(ctx) {}

RendezvousStreams::~RendezvousStreams() { stop(); }

void RendezvousStreams::stop() {
  for (auto& l : listeners_) {
    asio::error_code ignored;
    l->acceptor.close(ignored);
  }
  listeners_.clear();
  std::vector<std::uint64_t> ids;
  for (const auto& [id, c] : connections_) ids.push_back(id);
  for (auto id : ids) close(id, true);
  expiry_.cancel();
}

Result<Endpoint, std::string> RendezvousStreams::listen(const Endpoint& at, std::shared_ptr<const TlsServerContext> tls) {
  auto listener = std::make_shared<Listener>(ctx_);
  listener->tls = std::move(tls);
  const auto local = to_asio_tcp(at);
  asio::error_code ec;
  listener->acceptor.open(local.protocol(), ec);
  if (!ec) listener->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) listener->acceptor.bind(local, ec);
  if (!ec) listener->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return Unexpected{"cannot listen on " + at.to_string() + " (" + (listener->tls ? "tls" : "tcp") + "): " +
                      ec.message() + " (is the address configured on this host and the port free?)"};
  const Endpoint bound = from_asio(listener->acceptor.local_endpoint());
  listeners_.push_back(listener);
  accept(listener);
  arm_expiry();
  return bound;
}

void RendezvousStreams::accept(const std::shared_ptr<Listener>& listener) {
  listener->acceptor.async_accept([this, listener](const asio::error_code& ec, asio::ip::tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !listener->acceptor.is_open()) return;
    if (ec) {
      // Out of descriptors or memory: accepting again at once would spin.
      auto pause = std::make_shared<asio::steady_timer>(ctx_, std::chrono::milliseconds(100));
      pause->async_wait([this, listener, pause](const asio::error_code& e) {
        if (!e && listener->acceptor.is_open()) accept(listener);
      });
      return;
    }
    {
      asio::error_code e;
      const auto remote = socket.remote_endpoint(e);
      const auto id = e ? std::nullopt : guard_.admit(Clock::now(), from_asio(remote).address);
      if (!id) {
        socket.close(e);  // the table or the address's share is full
      } else {
        auto c = std::make_shared<Connection>(std::move(socket));
        c->id = *id;
        c->peer = from_asio(remote);
        c->socket.set_option(asio::ip::tcp::no_delay(true), e);
        if (listener->tls) {
          auto session = TlsSession::accept(*listener->tls);
          if (!session) {
            ++counters_.tls_failures;
            guard_.close(*id);
            c->socket.close(e);
            accept(listener);
            return;
          }
          c->tls = std::move(*session);
          c->tls_context = listener->tls;
        }
        connections_.emplace(*id, c);
        read(c);
      }
    }
    accept(listener);
  });
}

void RendezvousStreams::read(const std::shared_ptr<Connection>& c) {
  c->socket.async_read_some(asio::buffer(c->in), [this, c](const asio::error_code& ec, std::size_t n) {
    if (c->closed) return;
    if (ec) {
      close(c->id, true);
      return;
    }
    on_bytes(c, std::span<const std::uint8_t>(c->in.data(), n));
    if (!c->closed) read(c);
  });
}

void RendezvousStreams::on_bytes(const std::shared_ptr<Connection>& c, std::span<const std::uint8_t> bytes) {
  if (c->tls) {
    c->tls->feed(bytes);
    c->plain.clear();
    const bool ok = c->tls->pump(c->plain);
    c->tls->take_ciphertext(c->out);  // handshake messages
    write(c);
    if (!ok || c->tls->closed_by_peer()) {
      if (!ok) ++counters_.tls_failures;
      close(c->id, true);
      return;
    }
    c->deframer.push(c->plain);
  } else {
    c->deframer.push(bytes);
  }
  std::size_t frames = 0;
  while (auto message = c->deframer.next()) {
    ++frames;
    ++counters_.messages_in;
    deliver_(*message, c->peer, c->id);
    if (c->closed) return;
  }
  if (c->deframer.error()) {
    ++counters_.framing_errors;
    close(c->id, true);
    return;
  }
  guard_.on_bytes(Clock::now(), c->id, frames, c->deframer.buffered() > 0);
}

bool RendezvousStreams::send(std::uint64_t id, std::span<const std::uint8_t> message) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return false;
  auto c = it->second;
  if (c->out.size() >= kMaxBacklog) {
    ++counters_.dropped_backlog;
    return false;
  }
  std::vector<std::uint8_t> frame;
  if (!rendezvous::append_frame(frame, message)) return false;
  if (c->tls) {
    c->tls->write(frame);
    // Everything fed was decrypted when it arrived (on_bytes): no
    // plaintext comes out here, but keep it for the deframer if it does.
    std::vector<std::uint8_t> late;
    if (!c->tls->pump(late)) {
      ++counters_.tls_failures;
      close(id, true);
      return false;
    }
    c->deframer.push(late);
    c->tls->take_ciphertext(c->out);
  } else {
    c->out.insert(c->out.end(), frame.begin(), frame.end());
  }
  ++counters_.messages_out;
  write(c);
  return true;
}

void RendezvousStreams::write(const std::shared_ptr<Connection>& c) {
  if (c->writing || c->out.empty() || c->closed) return;
  c->writing = true;
  c->inflight.swap(c->out);
  c->out.clear();
  asio::async_write(c->socket, asio::buffer(c->inflight), [this, c](const asio::error_code& ec, std::size_t) {
    c->writing = false;
    c->inflight.clear();
    if (c->closed) return;
    if (ec) {
      close(c->id, true);
      return;
    }
    write(c);
  });
}

void RendezvousStreams::close(std::uint64_t id, bool tell_guard) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  auto c = it->second;
  connections_.erase(it);
  if (tell_guard) guard_.close(id);
  c->closed = true;
  asio::error_code ignored;
  c->socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  c->socket.close(ignored);
}

void RendezvousStreams::arm_expiry() {
  if (expiry_armed_) return;
  expiry_armed_ = true;
  expiry_.expires_after(std::chrono::seconds(1));
  expiry_.async_wait([this](const asio::error_code& ec) {
    expiry_armed_ = false;
    if (ec) return;
    for (auto id : guard_.expire(Clock::now())) close(id, false);
    if (!listeners_.empty()) arm_expiry();
  });
}

}  // namespace natpunch::io
