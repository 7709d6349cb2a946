// The one simulator host: socket i is port first_port + i (or the i-th of a
// fixed endpoint list), a socket is bound when the machine first sends from
// it, events come before transmits, and an offline host is deaf and mute;
// the contract's optional parts: chosen ports, bound ports reported,
// releases, send errors (EMSGSIZE of a don't-fragment socket, no socket).
#include "sim/machine_host.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <variant>
#include <vector>

#include "sim/network.hpp"
#include "../support/socket_user_machine.hpp"

namespace natpunch::sim {
namespace {

using test::SocketUser;

// Sends what it is told to at `at`; reports every datagram as an event and,
// if `echo`, answers it from the socket it came in on.
class EchoMachine {
 public:
  explicit EchoMachine(bool echo = false) : echo_(echo) {}
  struct Heard {
    SocketId socket;
    Endpoint from;
  };

  void send_at(TimePoint at, Transmit t) { planned_.push_back({at, std::move(t)}); }

  void on_datagram(TimePoint, SocketId socket, const Endpoint& from, std::span<const std::uint8_t> bytes) {
    events_.push_back(Heard{socket, from});
    if (echo_) out_.push_back(Transmit{socket, from, bytes});
  }
  std::optional<Transmit> poll_transmit(TimePoint) { return take_front(out_); }
  std::optional<TimePoint> next_deadline() const {
    if (planned_.empty()) return std::nullopt;
    return planned_.front().first;
  }
  void on_timer(TimePoint now) {
    while (!planned_.empty() && planned_.front().first <= now) {
      out_.push_back(std::move(planned_.front().second));
      planned_.pop_front();
    }
  }
  std::optional<std::variant<Heard>> poll_event() {
    if (auto h = take_front(events_)) return *h;
    return std::nullopt;
  }

 private:
  std::deque<std::pair<TimePoint, Transmit>> planned_;
  std::deque<Transmit> out_;
  std::deque<Heard> events_;
  bool echo_;
};
static_assert(ProtocolMachine<EchoMachine>);

const IpAddress kA = IpAddress::v4({198, 51, 100, 1});
const IpAddress kB = IpAddress::v4({198, 51, 100, 2});
const std::vector<std::uint8_t> kHello{'h', 'i'};

struct Pair {
  Pair() : a(kA, 5000, EchoMachine{}, 1), b(kB, 6000, EchoMachine{true}, 1) {
    network.add_public_host(kA, LinkConfig{milliseconds(5)}, a);
    network.add_public_host(kB, LinkConfig{milliseconds(5)}, b);
    a.on_event = [this](const auto& e) { heard_a.push_back(std::get<EchoMachine::Heard>(e)); };
    b.on_event = [this](const auto& e) { heard_b.push_back(std::get<EchoMachine::Heard>(e)); };
  }
  void run() { network.run(kTimeZero + seconds(10), [] { return false; }); }

  Network network{1};
  MachineHost<EchoMachine> a;
  MachineHost<EchoMachine> b;
  std::vector<EchoMachine::Heard> heard_a, heard_b;
};

TEST(SimMachineHost, SocketIsPortFirstPortPlusIndexAndIsBoundOnFirstSend) {
  Pair p;
  // A sends from its socket 3 (port 5003, not open yet) to B's socket 0; B
  // echoes; A hears it on socket 3 because sending bound it.
  p.a.machine().send_at(kTimeZero, Transmit{3, Endpoint{kB, 6000}, kHello});
  p.network.wake(0);
  p.run();
  ASSERT_EQ(p.heard_b.size(), 1u);
  EXPECT_EQ(p.heard_b[0].socket, 0u);
  EXPECT_EQ(p.heard_b[0].from, (Endpoint{kA, 5003}));
  ASSERT_EQ(p.heard_a.size(), 1u);
  EXPECT_EQ(p.heard_a[0].socket, 3u);
  EXPECT_EQ(p.heard_a[0].from, (Endpoint{kB, 6000}));
}

TEST(SimMachineHost, DatagramToAnUnboundPortIsDropped) {
  Pair p;
  p.a.machine().send_at(kTimeZero, Transmit{0, Endpoint{kB, 6002}, kHello});  // B never sent from socket 2
  p.network.wake(0);
  p.run();
  EXPECT_TRUE(p.heard_b.empty());
}

TEST(SimMachineHost, OfflineHostNeitherHearsNorSends) {
  Pair p;
  p.b.go_offline();
  std::vector<Endpoint> shown;
  p.a.on_send = [&](TimePoint, const Transmit& t) { shown.push_back(t.to); };
  p.a.machine().send_at(kTimeZero, Transmit{0, Endpoint{kB, 6000}, kHello});
  p.network.wake(0);
  p.run();
  EXPECT_EQ(shown, std::vector<Endpoint>{(Endpoint{kB, 6000})});
  EXPECT_TRUE(p.heard_b.empty());
  EXPECT_TRUE(p.heard_a.empty());  // no echo
  EXPECT_FALSE(p.b.next_deadline());
}

TEST(SimMachineHost, FixedEndpointsAnswerOnEachAddress) {
  Network network(1);
  const std::vector<Endpoint> sockets{{kB, 3478}, {IpAddress::v4({198, 51, 100, 3}), 3479}};
  MachineHost<EchoMachine> server(sockets, EchoMachine{true});
  MachineHost<EchoMachine> client(kA, 5000, EchoMachine{});
  const HostId server_id = network.add_public_host(kB, LinkConfig{milliseconds(5)}, server);
  network.add_address(server_id, sockets[1].address);
  const HostId client_id = network.add_public_host(kA, LinkConfig{milliseconds(5)}, client);
  std::vector<EchoMachine::Heard> heard;
  server.on_event = [&](const auto& e) { heard.push_back(std::get<EchoMachine::Heard>(e)); };
  client.machine().send_at(kTimeZero, Transmit{0, sockets[1], kHello});
  client.machine().send_at(kTimeZero, Transmit{0, sockets[0], kHello});
  network.wake(client_id);
  network.run(kTimeZero + seconds(1), [] { return false; });
  ASSERT_EQ(heard.size(), 2u);
  EXPECT_EQ(heard[0].socket, 1u);
  EXPECT_EQ(heard[1].socket, 0u);
}

TEST(SimMachineHost, ChosenPortsAreHonouredReportedAndFreedByARelease) {
  Network network(1);
  MachineHost<SocketUser> a(kA, 5000, SocketUser{}, 0);
  MachineHost<EchoMachine> b(kB, 6000, EchoMachine{true});
  const HostId a_id = network.add_public_host(kA, LinkConfig{milliseconds(5)}, a);
  const HostId b_id = network.add_public_host(kB, LinkConfig{milliseconds(5)}, b);
  std::vector<Endpoint> b_heard_from;
  b.on_event = [&](const auto& e) { b_heard_from.push_back(std::get<EchoMachine::Heard>(e).from); };
  const Endpoint to_b{kB, 6000};
  auto& user = a.machine();
  user.send_at(kTimeZero, Transmit{1, to_b, kHello}, SocketOptions{7000});
  user.send_at(kTimeZero, Transmit{2, to_b, kHello}, SocketOptions{7000});  // taken: the default port
  user.release_at(kTimeZero + seconds(1), 1);
  user.send_at(kTimeZero + seconds(3), Transmit{3, to_b, kHello}, SocketOptions{7000});  // free again
  b.machine().send_at(kTimeZero + seconds(2), Transmit{0, Endpoint{kA, 7000}, kHello});  // to the released port
  network.wake(a_id);
  network.wake(b_id);
  network.run(kTimeZero + seconds(10), [] { return false; });

  ASSERT_EQ(user.bound.size(), 3u);
  EXPECT_EQ(user.bound[0].socket, 1u);
  EXPECT_EQ(user.bound[0].local, (Endpoint{kA, 7000}));
  EXPECT_EQ(user.bound[1].socket, 2u);
  EXPECT_EQ(user.bound[1].local, (Endpoint{kA, 5002}));
  EXPECT_EQ(user.bound[2].socket, 3u);
  EXPECT_EQ(user.bound[2].local, (Endpoint{kA, 7000}));
  EXPECT_EQ(a.local_endpoint(3), (Endpoint{kA, 7000}));
  EXPECT_EQ(b_heard_from, (std::vector<Endpoint>{{kA, 7000}, {kA, 5002}, {kA, 7000}}));
  // The echoes reached sockets 1 and 2 (before the release) and 3; B's
  // datagram to the released port reached nobody.
  EXPECT_EQ(user.heard, (std::vector<SocketId>{1, 2, 3}));
  EXPECT_TRUE(user.failed.empty());
}

TEST(SimMachineHost, SendErrorsReachTheMachineAsOnARealHost) {
  Network network(1);
  MachineHost<SocketUser> a(kA, 5000, SocketUser{}, 0);
  a.set_interface_max_payload(100);
  MachineHost<EchoMachine> b(kB, 6000, EchoMachine{});
  const HostId a_id = network.add_public_host(kA, LinkConfig{milliseconds(5)}, a);
  network.add_public_host(kB, LinkConfig{milliseconds(5)}, b);
  std::vector<std::size_t> b_heard;
  b.on_event = [&](const auto&) { b_heard.push_back(b_heard.size()); };
  const Endpoint to_b{kB, 6000};
  const std::vector<std::uint8_t> big(101, 7), fits(100, 7);
  auto& user = a.machine();
  const SocketOptions df{0, Fragmentation::DontFragment};
  user.send_at(kTimeZero, Transmit{1, to_b, big}, df);   // above the interface: EMSGSIZE
  user.send_at(kTimeZero, Transmit{1, to_b, fits});      // fits
  user.send_at(kTimeZero, Transmit{2, to_b, big}, SocketOptions{0, Fragmentation::AllowFragments});  // fragmented
  user.send_at(kTimeZero, Transmit{3, to_b, std::vector<std::uint8_t>(kMaxPayload + 1, 7)});  // above UDP
  network.wake(a_id);
  network.run(kTimeZero + seconds(1), [] { return false; });
  ASSERT_EQ(user.failed.size(), 2u);
  EXPECT_EQ(user.failed[0].socket, 1u);
  EXPECT_EQ(user.failed[0].error, SendError::TooBig);
  EXPECT_EQ(user.failed[1].socket, 3u);
  EXPECT_EQ(user.failed[1].error, SendError::TooBig);
  EXPECT_EQ(b_heard.size(), 2u);

  // A host with a fixed socket list has no socket 5.
  const IpAddress kC = IpAddress::v4({198, 51, 100, 9});
  MachineHost<SocketUser> server(std::vector<Endpoint>{{kC, 3478}}, SocketUser{});
  const HostId server_id = network.add_public_host(kC, LinkConfig{}, server);
  server.machine().send_at(network.now(), Transmit{5, Endpoint{kA, 5000}, kHello});
  network.wake(server_id);
  network.run(network.now() + seconds(1), [] { return false; });
  ASSERT_EQ(server.machine().failed.size(), 1u);
  EXPECT_EQ(server.machine().failed[0].error, SendError::NoSocket);
}

}  // namespace
}  // namespace natpunch::sim
