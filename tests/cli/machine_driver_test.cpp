// The one real-time loop (io/machine_driver.hpp) over real UDP sockets
// (io/udp_ports.hpp) on loopback: sockets bound on first use and told apart
// on receive, batches in and out, the stop predicate, send errors kept for
// the report, and a whole STUN exchange with both the client and the server
// machine on the generic loop.
#include "io/machine_driver.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <thread>
#include <variant>
#include <vector>

#include "io/udp_ports.hpp"
#include "stun/binding_query.hpp"
#include "stun/server_machine.hpp"

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

}  // namespace
}  // namespace natpunch::io
