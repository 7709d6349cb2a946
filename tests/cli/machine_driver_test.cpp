// The one real-time loop (io/machine_driver.hpp) over real UDP sockets
// (io/udp_ports.hpp) on loopback: sockets bound on first use and told apart
// on receive, batches in and out, the stop predicate, send errors kept for
// the report, and a whole STUN exchange with both the client and the server
// machine on the generic loop; the contract's optional socket parts on
// real sockets (chosen ports, bound ports reported, releases that close,
// EMSGSIZE and other send errors heard by the machine) and a stop signal's
// descriptor ending a long wait; other descriptors watched in the same
// epoll set feeding the machine.
#include "io/machine_driver.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <thread>
#include <variant>
#include <vector>

#include "io/reflexive_address.hpp"
#include "io/udp_ports.hpp"
#include "stun/binding_query.hpp"
#include "stun/server_machine.hpp"
#include "../support/socket_user_machine.hpp"

namespace natpunch::io {
namespace {

const Endpoint kLoopbackAny{IpAddress::v4(0x7f000001u), 0};

std::unique_ptr<UdpPorts> loopback_ports() { return std::move(UdpPorts::open(kLoopbackAny).value()); }

// Sends what it is given at start, counts what comes back per socket.
class Burst {
 public:
  explicit Burst(std::vector<Transmit> out) : out_(out.begin(), out.end()) {}
  void on_datagram(TimePoint, SocketId socket, const Endpoint& from, std::span<const std::uint8_t> bytes) {
    heard.push_back({socket, from, {bytes.begin(), bytes.end()}});
  }
  std::optional<Transmit> poll_transmit(TimePoint) {
    if (out_.empty()) return std::nullopt;
    Transmit t = std::move(out_.front());
    out_.pop_front();
    return t;
  }
  std::optional<TimePoint> next_deadline() const { return std::nullopt; }
  void on_timer(TimePoint) {}
  std::optional<std::variant<std::monostate>> poll_event() { return std::nullopt; }

  struct Heard {
    SocketId socket;
    Endpoint from;
    std::vector<std::uint8_t> bytes;
  };
  std::vector<Heard> heard;

 private:
  std::deque<Transmit> out_;
};
static_assert(ProtocolMachine<Burst>);

TEST(MachineDriver, SocketsAreBoundOnFirstUseAndToldApartOnReceive) {
  auto sink = loopback_ports();
  const Endpoint sink_at = sink->bound_endpoint(0);
  auto ports = loopback_ports();
  const std::vector<std::uint8_t> a{'a'}, b{'b'};
  Burst burst({Transmit{0, sink_at, a}, Transmit{3, sink_at, b}});
  run_machine(burst, *ports, [&] { return true; }, ignore_events);  // sends, then stops at once
  ASSERT_NE(ports->bound_endpoint(3).port, 0) << "socket 3 was bound by its first send";
  EXPECT_NE(ports->bound_endpoint(3).port, ports->bound_endpoint(0).port);
  EXPECT_EQ(ports->bound_endpoint(1).port, 0) << "socket 1 was never used";

  // The sink answers each from its socket 0 back to where it came from.
  std::vector<Endpoint> froms;
  for (int i = 0; i < 2; ++i) {
    auto arrival = sink->receive(Clock::now() + seconds(2));
    ASSERT_TRUE(arrival);
    froms.push_back(arrival->from);
    sink->send(Transmit{0, arrival->from, arrival->bytes});
  }
  sink->flush();
  EXPECT_NE(froms[0], froms[1]);
  std::vector<SocketId> sockets;
  for (int i = 0; i < 2; ++i) {
    auto back = ports->receive(Clock::now() + seconds(2));
    ASSERT_TRUE(back);
    EXPECT_EQ(back->from, sink_at);
    sockets.push_back(back->socket);
    EXPECT_EQ(back->bytes[0], back->socket == 0 ? 'a' : 'b');
  }
  std::sort(sockets.begin(), sockets.end());
  EXPECT_EQ(sockets, (std::vector<SocketId>{0, 3}));
}

TEST(MachineDriver, ABurstGoesOutAndComesInInBatches) {
  auto sink = loopback_ports();
  auto ports = loopback_ports();
  std::vector<Transmit> out;
  for (std::uint8_t i = 0; i < 100; ++i) out.push_back(Transmit{0, sink->bound_endpoint(0), std::vector<std::uint8_t>{i}});
  Burst burst(std::move(out));
  run_machine(burst, *ports, [&] { return true; }, ignore_events);
  std::size_t received = 0;
  while (auto arrival = sink->receive(Clock::now() + milliseconds(300))) ++received;
  // Loopback may drop under load: most, not all, must arrive.
  EXPECT_GE(received, 90u);
  EXPECT_FALSE(ports->first_error());
}

TEST(MachineDriver, StopPredicateEndsAMachineThatOnlyWaits) {
  auto ports = loopback_ports();
  Burst idle({});
  const auto started = Clock::now();
  run_machine(idle, *ports, [&] { return Clock::now() - started > milliseconds(200); }, ignore_events);
  const auto took = Clock::now() - started;
  EXPECT_GE(took, milliseconds(200));
  EXPECT_LT(took, seconds(2));
}

TEST(MachineDriver, SendErrorsAreKeptNotFatal) {
  auto ports = loopback_ports();
  const Endpoint v6{*IpAddress::parse("2001:db8::1"), 9};
  Burst burst({Transmit{0, v6, std::vector<std::uint8_t>{1}}});
  run_machine(burst, *ports, [&] { return true; }, ignore_events);
  ASSERT_TRUE(ports->first_error());
  EXPECT_NE(ports->first_error()->find("2001:db8::1"), std::string::npos) << *ports->first_error();
}

using test::SocketUser;

// Runs `user` until its script is played and `heard` datagrams came back
// (or `limit` passed).
void play(SocketUser& user, UdpPorts& ports, std::size_t heard = 0, Duration limit = seconds(2)) {
  const auto started = Clock::now();
  run_machine(user, ports,
              [&] { return (!user.next_deadline() && user.heard.size() >= heard) || Clock::now() - started > limit; },
              ignore_events);
}

TEST(MachineDriver, AChosenPortIsBoundOrAnyWhenTakenAndTheMachineHearsWhich) {
  auto sink = loopback_ports();
  auto ports = loopback_ports();
  const Endpoint to{kLoopbackAny.address, sink->bound_endpoint(0).port};
  const std::uint16_t taken = ports->bound_endpoint(0).port;  // socket 0 holds it
  SocketUser user;
  user.send_at(kTimeZero, Transmit{1, to, std::vector<std::uint8_t>{1}}, SocketOptions{taken});
  play(user, *ports);
  ASSERT_EQ(user.bound.size(), 1u);
  EXPECT_EQ(user.bound[0].socket, 1u);
  EXPECT_NE(user.bound[0].local.port, 0);
  EXPECT_NE(user.bound[0].local.port, taken);
  EXPECT_EQ(user.bound[0].local, ports->bound_endpoint(1));
  auto arrival = sink->receive(Clock::now() + seconds(2));
  ASSERT_TRUE(arrival);
  EXPECT_EQ(arrival->from.port, user.bound[0].local.port) << "it left from the socket the machine was told of";

  // Released: closed; the same number used again is a new socket, asked for
  // (and bound at) the port the first one had.
  const std::uint16_t first = user.bound[0].local.port;
  user.release_at(kTimeZero, 1);
  play(user, *ports);
  EXPECT_FALSE(ports->is_bound(1));
  user.send_at(kTimeZero, Transmit{1, to, std::vector<std::uint8_t>{2}}, SocketOptions{first});
  play(user, *ports);
  ASSERT_EQ(user.bound.size(), 2u);
  EXPECT_EQ(user.bound[1].local.port, first) << "the port was free again";
  EXPECT_TRUE(user.failed.empty());
}

TEST(MachineDriver, AReleasedSocketHearsNothingMore) {
  auto sink = loopback_ports();
  auto ports = loopback_ports();
  const Endpoint to = sink->bound_endpoint(0);
  SocketUser user;
  user.send_at(kTimeZero, Transmit{1, to, std::vector<std::uint8_t>{1}});
  play(user, *ports);
  ASSERT_EQ(user.bound.size(), 1u);
  const Endpoint released = user.bound[0].local;
  user.release_at(kTimeZero, 1);
  play(user, *ports);
  sink->send(Transmit{0, released, std::vector<std::uint8_t>{9}});
  sink->flush();
  play(user, *ports, 1, milliseconds(300));  // waits for a datagram that must not come (loopback takes microseconds)
  EXPECT_TRUE(user.heard.empty());
}

TEST(MachineDriver, SendErrorsReachTheMachine) {
  auto ports = loopback_ports();
  const Endpoint to{kLoopbackAny.address, 9};
  SocketUser user;
  // Above what UDP over IPv4 carries: EMSGSIZE whatever the path.
  user.send_at(kTimeZero, Transmit{1, to, std::vector<std::uint8_t>(65508, 0)},
               SocketOptions{0, Fragmentation::DontFragment});
  // No address of the socket's family.
  user.send_at(kTimeZero, Transmit{2, Endpoint{*IpAddress::parse("2001:db8::1"), 9}, std::vector<std::uint8_t>{1}});
  play(user, *ports);
  ASSERT_EQ(user.failed.size(), 2u);
  std::sort(user.failed.begin(), user.failed.end(), [](const auto& a, const auto& b) { return a.socket < b.socket; });
  EXPECT_EQ(user.failed[0].socket, 1u);
  EXPECT_EQ(user.failed[0].error, SendError::TooBig);
  EXPECT_EQ(user.failed[1].socket, 2u);
  EXPECT_EQ(user.failed[1].error, SendError::Refused);
  EXPECT_TRUE(ports->first_error());
}

TEST(MachineDriver, TheStopSignalsDescriptorEndsALongWait) {
  auto ports = loopback_ports();
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_NONBLOCK | O_CLOEXEC), 0);
  ports->wake_on(pipe_fds[0]);
  const char byte = 1;
  ASSERT_EQ(::write(pipe_fds[1], &byte, 1), 1);
  const auto started = Clock::now();
  EXPECT_FALSE(ports->receive(Clock::now() + seconds(20)));
  EXPECT_LT(Clock::now() - started, seconds(5));
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
}

// A server's other input (a TCP connection, a message bus's wake-up) comes
// through a watched descriptor: its callback feeds the machine, and what the
// machine says then goes out without waiting for a datagram or a timer.
TEST(MachineDriver, AWatchedDescriptorFeedsTheMachineAndItsAnswerGoesOut) {
  auto sink = loopback_ports();
  auto ports = loopback_ports();
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_NONBLOCK | O_CLOEXEC), 0);
  Burst machine({});
  std::vector<Transmit> said;
  int calls = 0;
  ASSERT_TRUE(ports->watch(pipe_fds[0], EPOLLIN, [&](std::uint32_t events) {
    ++calls;
    EXPECT_TRUE(events & EPOLLIN);
    char byte = 0;
    while (::read(pipe_fds[0], &byte, 1) == 1) {
    }
    machine = Burst({Transmit{0, sink->bound_endpoint(0), std::vector<std::uint8_t>{7, 7}}});
    ports->unwatch(pipe_fds[0]);  // from inside its own callback
  }));
  EXPECT_FALSE(ports->watch(pipe_fds[0], EPOLLIN, [](std::uint32_t) {})) << "one watch per descriptor";
  const char byte = 1;
  ASSERT_EQ(::write(pipe_fds[1], &byte, 1), 1);
  const auto started = Clock::now();
  run_machine(machine, *ports, [&] { return calls > 0 || Clock::now() - started > seconds(5); }, ignore_events);
  EXPECT_EQ(calls, 1);
  // Sent by the loop itself, before the stop predicate ended it.
  auto arrival = sink->receive(Clock::now() + seconds(2));
  ASSERT_TRUE(arrival);
  EXPECT_EQ(std::vector<std::uint8_t>(arrival->bytes.begin(), arrival->bytes.end()), (std::vector<std::uint8_t>{7, 7}));
  ASSERT_EQ(::write(pipe_fds[1], &byte, 1), 1);  // unwatched: no callback any more
  EXPECT_FALSE(ports->receive(Clock::now() + milliseconds(50)));
  EXPECT_EQ(calls, 1);
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
}

TEST(MachineDriver, StunClientAndServerMachinesTalkOverTheGenericLoop) {
  stun::ServerConfig config;
  config.primary = kLoopbackAny;
  config.rate_limit.reset();
  auto server_ports = loopback_ports();
  config.primary = server_ports->bound_endpoint(0);
  stun::ServerMachine server(config);
  std::atomic<bool> stop{false};
  std::thread server_thread([&] { run_machine(server, *server_ports, [&] { return stop.load(); }, ignore_events); });

  auto client_ports = loopback_ports();
  Rng rng(3);
  stun::BindingQuery query({config.primary}, stun::RetransmitPolicy{milliseconds(100), 5, 4}, rng, Clock::now());
  std::vector<stun::BindingQueryEvent> events;
  run_machine(query, *client_ports, [&] { return query.done(); }, [&](const auto& e) { events.push_back(e); });
  stop = true;
  server_thread.join();

  ASSERT_EQ(events.size(), 1u);
  const auto& result = std::get<stun::binding_event::Done>(events[0]).result;
  ASSERT_TRUE(result.answered);
  EXPECT_EQ(result.mapped, client_ports->bound_endpoint(0));
  EXPECT_GE(server.server().counters().answered, 1u);
}


// Answers each datagram in place with its own bytes, from the socket its
// first byte names, back to the sender.
class InPlaceEcho {
 public:
  std::optional<InPlaceReply> answer(TimePoint, SocketId, const Endpoint& from, std::span<const std::uint8_t> bytes,
                                     std::span<std::uint8_t> out) {
    ++answered;
    if (bytes.empty() || bytes.size() > out.size()) return std::nullopt;
    std::copy(bytes.begin(), bytes.end(), out.begin());
    return InPlaceReply{bytes[0], from, bytes.size()};
  }
  void on_datagram(TimePoint, SocketId, const Endpoint&, std::span<const std::uint8_t>) { ++fed_the_ordinary_way; }
  std::optional<Transmit> poll_transmit(TimePoint) { return std::nullopt; }
  std::optional<TimePoint> next_deadline() const { return std::nullopt; }
  void on_timer(TimePoint) {}
  std::optional<std::monostate> poll_event() { return std::nullopt; }

  int answered = 0;
  int fed_the_ordinary_way = 0;
};
static_assert(ProtocolMachine<InPlaceEcho> && AnswersInPlace<InPlaceEcho>);

TEST(MachineDriver, AnAnswerInPlaceLeavesFromTheSocketTheMachineNames) {
  auto server = loopback_ports();
  auto client = loopback_ports();
  const Endpoint at = server->bound_endpoint(0);
  // From socket 0 itself; from socket 1 (not bound yet: the ordinary send
  // binds it), then again (copied into its batch); and 300 bytes, more than
  // a Transmit holds inline, answered whole.
  const std::vector<std::vector<std::uint8_t>> requests{{0, 'a'}, {1, 'b'}, {1, 'c'}, std::vector<std::uint8_t>(300, 0)};
  for (const auto& r : requests) client->send(Transmit{0, at, r});
  client->flush();
  InPlaceEcho echo;
  const auto deadline = Clock::now() + seconds(3);
  DriveOptions drive;
  drive.stop_poll = milliseconds(20);
  run_machine(echo, *server, [&] { return echo.answered == 4 || Clock::now() > deadline; }, ignore_events, drive);
  ASSERT_EQ(echo.answered, 4);
  EXPECT_EQ(echo.fed_the_ordinary_way, 0) << "a machine that answers in place is not fed on_datagram";
  ASSERT_NE(server->bound_endpoint(1).port, 0);
  std::vector<std::pair<std::vector<std::uint8_t>, Endpoint>> back;
  while (back.size() < 4)
    if (auto arrival = client->receive(Clock::now() + seconds(2)))
      back.emplace_back(std::vector<std::uint8_t>(arrival->bytes.begin(), arrival->bytes.end()), arrival->from);
    else
      break;
  ASSERT_EQ(back.size(), 4u);
  std::sort(back.begin(), back.end());
  EXPECT_EQ(back[0], std::make_pair(requests[3], at));
  EXPECT_EQ(back[1], std::make_pair(requests[0], at));
  EXPECT_EQ(back[2], std::make_pair(requests[1], server->bound_endpoint(1)));
  EXPECT_EQ(back[3], std::make_pair(requests[2], server->bound_endpoint(1)));
  EXPECT_FALSE(server->first_error());
}

// io::reflexive_address() runs a Binding on the generic loop from the
// caller's socket (borrowed ports): the answer names that socket's address,
// the socket stays the caller's (open, usable), and a silent server costs
// the budget, not more.
TEST(ReflexiveAddress, AsksFromTheCallersSocketAndLeavesItOpen) {
  // The caller's socket: lent for the exchange, not given.
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_storage own{};
  const socklen_t own_length = to_sockaddr(kLoopbackAny, AF_INET, own);
  ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&own), own_length), 0);
  socklen_t length = sizeof own;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&own), &length), 0);
  auto server_ports = loopback_ports();
  stun::ServerConfig config;
  config.primary = server_ports->bound_endpoint(0);
  config.rate_limit.reset();
  stun::ServerMachine server(config);
  std::atomic<bool> stop{false};
  std::thread server_thread([&] { run_machine(server, *server_ports, [&] { return stop.load(); }, ignore_events); });

  const std::vector<Endpoint> servers{config.primary};
  EXPECT_EQ(reflexive_address(fd, servers, seconds(3)), from_sockaddr(own));
  EXPECT_NE(::fcntl(fd, F_GETFD), -1) << "the caller's socket is still open";
  stop = true;
  server_thread.join();

  // Still usable by its owner after the exchange.
  auto sink = loopback_ports();
  sockaddr_storage to{};
  const socklen_t to_length = to_sockaddr(sink->bound_endpoint(0), AF_INET, to);
  const std::uint8_t byte = 7;
  EXPECT_EQ(::sendto(fd, &byte, 1, 0, reinterpret_cast<const sockaddr*>(&to), to_length), 1);
  EXPECT_TRUE(sink->receive(Clock::now() + seconds(2)));

  const std::vector<Endpoint> silent{sink->bound_endpoint(0)};  // reads requests, never answers
  const auto started = Clock::now();
  EXPECT_FALSE(reflexive_address(fd, silent, milliseconds(300)));
  const auto took = Clock::now() - started;
  EXPECT_GE(took, milliseconds(250));
  EXPECT_LT(took, seconds(2));
  ::close(fd);
}

}  // namespace
}  // namespace natpunch::io
