#pragma once
// Runs one of src/measure's many-socket client machines on real UDP
// sockets: a socket is opened the first time the machine sends from a new
// SocketId and closed when the machine lets it go, so every probe gets a
// fresh local port (a fresh NAT mapping). Stops when the caller's
// StopSignals fire (Ctrl-C, SIGTERM), leaving the machine as it was so the
// caller can report what was measured.
//
// Machine contract: poll_transmit(now) -> vector<SocketDatagram>,
// poll_closed() -> vector<SocketId>, on_datagram(now, id, bytes, from),
// on_timer(now), next_deadline() -> optional<TimePoint>, done(). Optional:
// local_port_for(id) -> uint16_t (0: any), on_socket_opened(id, local port),
// on_send_error(now, id, bool too_big).
#include <unistd.h>

#include <array>
#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "core/endpoint.hpp"
#include "core/time.hpp"
#include "io/asio_convert.hpp"
#include "io/stop_signals.hpp"
#include "measure/socket_datagram.hpp"

namespace natpunch::io {

enum class FragmentPolicy : std::uint8_t {
  KernelDefault,
  // IP_PMTUDISC_PROBE: DF set, and the kernel sends up to the interface MTU
  // whatever path MTU it has cached, so the path (not the cache) decides.
  DontFragmentProbe,
  // IP_PMTUDISC_DONT: DF clear, the kernel fragments large datagrams.
  AllowFragments,
};

struct ClientLoopOptions {
  IpAddress bind_address;  // 0.0.0.0 (or :: for IPv6 servers)
  FragmentPolicy fragments = FragmentPolicy::KernelDefault;
  // Called after every event; the caller rate-limits its own output.
  std::function<void()> on_progress;
  // The command's signal watch (one for its whole run, so a signal between
  // two loops is not lost); nullptr: nothing stops the loop early.
  const StopSignals* stop = nullptr;
};

struct ClientLoopOutcome {
  bool interrupted = false;              // options.stop fired
  std::optional<std::string> first_error;  // first socket/send error, if any
};

namespace detail {

struct ClientSocket {
  explicit ClientSocket(asio::io_context& ctx) : socket(ctx) {}
  asio::ip::udp::socket socket;
  asio::ip::udp::endpoint sender;
  std::array<std::uint8_t, 65536> in{};
  bool open = true;
};

// Opens and binds (port 0 = kernel's choice; a taken port falls back to 0)
// and applies the fragment policy. Empty error on success.
std::string open_client_socket(ClientSocket& s, const IpAddress& bind, std::uint16_t port, FragmentPolicy policy);
bool is_message_too_big(const asio::error_code& ec);

}  // namespace detail

template <class Machine>
ClientLoopOutcome drive_measurement(Machine& m, const ClientLoopOptions& options) {
  ClientLoopOutcome outcome;
  asio::io_context ctx;
  // The signal's pipe wakes run_one(): the next deadline may be minutes away.
  asio::posix::stream_descriptor wake(ctx);
  if (options.stop && options.stop->wake_fd() >= 0) {
    asio::error_code ignored;
    wake.assign(::dup(options.stop->wake_fd()), ignored);
    wake.async_wait(asio::posix::stream_descriptor::wait_read, [&](const asio::error_code& ec) {
      if (!ec) outcome.interrupted = true;
    });
  }
  const auto stop_requested = [&] {
    if (options.stop && options.stop->requested()) outcome.interrupted = true;
    return outcome.interrupted;
  };
  asio::steady_timer timer(ctx);
  bool timer_armed = false;
  TimePoint armed_for{};
  std::uint64_t timer_generation = 0;
  std::map<measure::SocketId, std::shared_ptr<detail::ClientSocket>> sockets;

  std::function<void(measure::SocketId, std::shared_ptr<detail::ClientSocket>)> receive =
      [&](measure::SocketId id, std::shared_ptr<detail::ClientSocket> s) {
        s->socket.async_receive_from(asio::buffer(s->in), s->sender,
                                     [&, id, s](const asio::error_code& ec, std::size_t n) {
                                       if (ec == asio::error::operation_aborted || !s->open) return;
                                       if (!ec)
                                         m.on_datagram(Clock::now(), id, std::span<const std::uint8_t>(s->in.data(), n),
                                                       from_asio(s->sender));
                                       receive(id, s);
                                     });
      };
  const auto socket_for = [&](measure::SocketId id) -> std::shared_ptr<detail::ClientSocket> {
    if (auto it = sockets.find(id); it != sockets.end()) return it->second;
    auto s = std::make_shared<detail::ClientSocket>(ctx);
    std::uint16_t port = 0;
    if constexpr (requires { m.local_port_for(id); }) port = m.local_port_for(id);
    if (auto error = detail::open_client_socket(*s, options.bind_address, port, options.fragments); !error.empty()) {
      if (!outcome.first_error) outcome.first_error = error;
      return nullptr;
    }
    if constexpr (requires { m.on_socket_opened(id, std::uint16_t{}); })
      m.on_socket_opened(id, s->socket.local_endpoint().port());
    sockets.emplace(id, s);
    receive(id, s);
    return s;
  };

  while (!m.done() && !stop_requested()) {
    for (const auto& d : m.poll_transmit(Clock::now())) {
      auto s = socket_for(d.socket);
      if (!s) continue;
      asio::error_code ec;
      s->socket.send_to(asio::buffer(d.bytes), to_asio(d.to), 0, ec);
      if (ec) {
        if (!outcome.first_error) outcome.first_error = "send to " + d.to.to_string() + ": " + ec.message();
        if constexpr (requires { m.on_send_error(Clock::now(), d.socket, true); })
          m.on_send_error(Clock::now(), d.socket, detail::is_message_too_big(ec));
      }
    }
    for (auto id : m.poll_closed()) {
      if (auto it = sockets.find(id); it != sockets.end()) {
        it->second->open = false;
        asio::error_code ignored;
        it->second->socket.close(ignored);
        sockets.erase(it);
      }
    }
    if (options.on_progress) options.on_progress();
    if (m.done()) break;
    const auto deadline = m.next_deadline();
    if (!deadline) break;
    if (*deadline > Clock::now()) {
      // Re-arm only for a new deadline: re-arming cancels the old wait, and
      // its (aborted) handler would wake run_one() at once, every time.
      if (!timer_armed || armed_for != *deadline) {
        armed_for = *deadline;
        timer_armed = true;
        timer.expires_at(*deadline);
        const auto generation = ++timer_generation;
        timer.async_wait([&, generation](const asio::error_code&) {
          if (generation == timer_generation) timer_armed = false;
        });
      }
      ctx.restart();
      ctx.run_one();  // a datagram, the deadline, or a signal
    }
    if (const auto now = Clock::now(); now >= *deadline) m.on_timer(now);
  }
  for (auto& [id, s] : sockets) {
    s->open = false;
    asio::error_code ignored;
    s->socket.close(ignored);
  }
  {
    asio::error_code ignored;
    wake.close(ignored);
  }
  ctx.restart();
  ctx.poll();  // let the aborted handlers run before the sockets go
  if (options.on_progress) options.on_progress();
  return outcome;
}

}  // namespace natpunch::io
