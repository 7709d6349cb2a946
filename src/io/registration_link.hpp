#pragma once
// The rendezvous client's way to its server on a network that may block
// UDP (issue 20 item 4): UDP first; when the UDP registration gets no
// answer for udp_wait, one TCP connection to the server's stream listener
// (`rendezvous --tcp`), then TLS (`--tls`), carrying the same messages in
// frames (io/rendezvous_stream_link.hpp). A stream that answered and broke
// is reconnected over the same transport; one that never answered is given
// up for the next. A TLS certificate the client refuses is never "no
// answer": the owner hears it at once (Hooks::refused).
//
// Both rendezvous drivers use it: the peer session's (io/peer_session.cpp,
// on io::PunchDriver) and the plain client's (io/rendezvous_client_runner.*,
// on io::run_machine). The link decides when to move; the driver sends the
// machine's datagrams for the server through send() while over_stream()
// holds, and feeds back what drain() delivers as datagrams from the server.
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/endpoint.hpp"
#include "core/time.hpp"
#include "io/rendezvous_stream_link.hpp"
#include "io/machine_driver.hpp"
#include "io/tls_client_session.hpp"
#include "io/udp_ports.hpp"
#include "turn/turn_error.hpp"  // turn::Transport

namespace natpunch::io {

// Where the server's stream listeners are and when to move to them.
struct RendezvousFallback {
  bool enabled = true;
  Duration udp_wait = seconds(2);
  bool tcp = true;
  std::uint16_t tcp_port = 0;  // 0: the server's UDP port number
  bool tls = true;
  std::uint16_t tls_port = 443;
  // Verification on by default; server_name empty: the server's address
  // (the certificate must name that IP).
  TlsClientOptions tls_options;
  Duration connect_timeout = seconds(3);
  // A stream that carried no answer this long is given up for the next.
  Duration stream_wait = seconds(3);
};

class RegistrationLink {
 public:
  struct Hooks {
    // A stream's descriptor to wait on beside the UDP socket(s), and to stop
    // waiting on before it closes.
    std::function<void(int fd)> watch;
    std::function<void(int fd)> unwatch;
    // A stream is open (again): the client registers over it now.
    std::function<void(TimePoint now, turn::Transport transport)> opened;
    // The server's TLS certificate was refused: the one line to fail with.
    std::function<void(TimePoint now, std::string message)> refused;
    // Ends a blocking TCP connect or TLS handshake (Ctrl-C, close()).
    std::function<bool()> should_stop;
  };

  RegistrationLink(RendezvousFallback fallback, Hooks hooks, TimePoint started);
  ~RegistrationLink();
  RegistrationLink(const RegistrationLink&) = delete;
  RegistrationLink& operator=(const RegistrationLink&) = delete;

  // Opens, gives up or reopens a stream as due; may block up to
  // connect_timeout per connection tried. `server`: the rendezvous's UDP
  // endpoint (the stream listeners are on its address); `registering`: no
  // registration yet (only then does silence move the link on). Not called
  // once the client has failed or closed.
  void check(TimePoint now, const Endpoint& server, bool registering);

  // A datagram from the server came over UDP (counts while no stream is open).
  void heard_over_udp() {
    if (!stream_) heard_ = true;
  }
  // While true, the client's datagrams for the server go through send().
  bool over_stream() const { return stream_ != nullptr; }
  // One message for the server (false: dropped, like a lost datagram).
  bool send(std::span<const std::uint8_t> message) { return stream_ && stream_->send(message); }
  void flush() {
    if (stream_) stream_->flush();
  }
  // Every whole message the stream holds, without waiting.
  void drain(const std::function<void(std::span<const std::uint8_t>)>& deliver);

  // The stream transport that answered (kept while it reconnects), if any.
  const std::optional<turn::Transport>& transport() const { return answered_; }
  // Why the streams did not help ("no answer over tcp", a refused
  // connection, ...), in the order met; for a "no answer" error.
  const std::vector<std::string>& errors() const { return errors_; }
  bool refused() const { return refused_; }

 private:
  bool open(TimePoint now, const Endpoint& server, turn::Transport transport);
  void close_stream();

  RendezvousFallback fallback_;
  Hooks hooks_;
  TimePoint started_;
  std::vector<turn::Transport> order_;  // TCP, then TLS, as configured
  std::size_t next_ = 0;                // the next of order_ to try
  bool heard_ = false;                  // over UDP, or over the current stream
  bool refused_ = false;                // a certificate was refused: nothing more to try
  std::unique_ptr<RendezvousStreamLink> stream_;
  std::optional<turn::Transport> answered_;
  TimePoint stream_opened_{};
  std::optional<TimePoint> reconnect_at_;
  std::vector<std::string> errors_;
};

// Datagram ports (io/machine_driver.hpp) for a rendezvous client machine
// on a RegistrationLink: its socket 0 is UDP (`udp`) until the link moved
// to a stream; from then on its datagrams for the server go as frames on
// the stream, and the stream's messages come back as datagrams from the
// server on socket 0. The link's hooks must watch its descriptors through
// `udp` (UdpPorts::watch), so that a message wakes receive().
class RegistrationPorts {
 public:
  // `server`: where the machine sends its server's datagrams now.
  RegistrationPorts(UdpPorts& udp, RegistrationLink& link, std::function<Endpoint()> server)
      : udp_(udp), link_(link), server_(std::move(server)) {}

  bool send(Transmit&& t);
  bool send(const Transmit& t) { return send(Transmit(t)); }
  void flush();
  std::optional<Arrival> receive(TimePoint until);

 private:
  std::optional<Arrival> next_message();

  UdpPorts& udp_;
  RegistrationLink& link_;
  std::function<Endpoint()> server_;
  std::deque<std::vector<std::uint8_t>> inbox_;  // whole messages drained from the stream
  std::vector<std::uint8_t> current_;            // the one receive() handed out last
  Endpoint current_from_;
};

static_assert(DatagramPorts<RegistrationPorts>);

}  // namespace natpunch::io
