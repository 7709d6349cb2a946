// io::PunchDriver's busy mode (issue 7): while it blasts from many sockets
// the extra sockets leave the epoll set and are read by a scan instead; a
// datagram arriving on one of them must still be seen within a flush or
// two, and once run() ends epoll must watch every socket again. Loopback
// only, well under a second each.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <optional>

#include "core/rng.hpp"
#include "io/punch_driver.hpp"
#include "io/udp_batch.hpp"
#include "io/udp_client.hpp"
#include "punch/port_chooser_chain.hpp"
#include "punch/probing_machine.hpp"

namespace natpunch::io {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<UdpClient> loopback() {
  return std::move(UdpClient::open(Endpoint{IpAddress::v4(0x7f000001u), 0}).value());
}

std::uint16_t port_of(int fd) {
  sockaddr_storage local{};
  socklen_t length = sizeof local;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length);
  return from_sockaddr(local).port;
}

// A probing machine knocking on `sink` from `sockets` sockets without pause.
std::unique_ptr<punch::ProbingMachine> blaster(const Endpoint& sink, std::uint32_t sockets, Duration budget, Rng& rng,
                                               TimePoint start) {
  punch::ProbingConfig config;
  config.peer_address = sink.address;
  config.session_id = 11;
  config.sockets = sockets;
  config.send_interval = 1ns;
  config.probe_budget = 1'000'000'000;
  config.time_budget = budget;
  config.linger = Duration::zero();
  return std::make_unique<punch::ProbingMachine>(
      config, std::make_unique<punch::RepeatPortChooser>(sink.port, config.probe_budget), rng, start);
}

struct BusyCase {
  bool busy_poll;
  std::uint32_t target_socket;
};

class PunchDriverBusy : public ::testing::TestWithParam<BusyCase> {};

TEST_P(PunchDriverBusy, DatagramOnAnExtraSocketArrivesWhileBlasting) {
  const auto param = GetParam();
  constexpr std::uint32_t kSockets = 64;
  auto socket0 = loopback();
  auto sink = loopback();
  auto sender = loopback();
  Rng rng(5);
  const auto start = Clock::now();
  auto m = blaster(sink->bound_endpoint(), kSockets, 2s, rng, start);

  PunchDriverOptions options;
  options.send_batch = 4096;  // 64 per socket: busy mode from the first flush
  options.busy_poll = param.busy_poll;
  std::optional<PunchDriver> driver;
  const std::array<std::uint8_t, 3> marker{'h', 'i', '!'};
  bool sent = false;
  std::optional<TimePoint> sent_at;
  std::optional<Duration> latency;
  std::uint32_t seen_on = UINT32_MAX;
  options.on_wake = [&] {
    // On the driver's thread, between flushes: once every socket is open
    // (and busy mode on, where asked), knock on the target socket.
    if (sent || driver->sockets_open() < kSockets) return;
    if (param.busy_poll && driver->stats().busy_entries == 0) return;
    const Endpoint to{IpAddress::v4(0x7f000001u), port_of(driver->socket(param.target_socket).native_handle())};
    std::string error;
    ASSERT_TRUE(sender->send(to, marker, error)) << error;
    sent = true;
    sent_at = Clock::now();
  };
  options.intercept = [&](std::uint32_t socket, const Endpoint&, std::span<const std::uint8_t> bytes) {
    if (bytes.size() == marker.size() && std::equal(bytes.begin(), bytes.end(), marker.begin())) {
      seen_on = socket;
      latency = Clock::now() - *sent_at;
      return true;
    }
    return false;
  };
  options.should_stop = [&] { return latency.has_value(); };
  driver.emplace(*socket0, std::move(options));
  const auto run = driver->run(*m, start);

  ASSERT_TRUE(latency) << "the datagram never reached the strategy's loop";
  EXPECT_TRUE(run.interrupted);
  EXPECT_EQ(seen_on, param.target_socket);
  EXPECT_LT(*latency, 500ms);
  EXPECT_GT(driver->stats().datagrams_sent, 4096u);
  EXPECT_EQ(driver->stats().busy_entries > 0, param.busy_poll);

  // After run(): every socket is back in the epoll set, so a blocking
  // receive_until() wakes for a datagram on an extra socket.
  const std::uint32_t other = (param.target_socket + 1) % kSockets;
  std::string error;
  ASSERT_TRUE(sender->send({IpAddress::v4(0x7f000001u), port_of(driver->socket(other).native_handle())}, marker, error));
  for (;;) {
    auto d = driver->receive_until(Clock::now() + 1s);
    ASSERT_TRUE(d) << "nothing arrived on socket " << other;
    if (d->from != sender->bound_endpoint()) continue;  // (not expected: nothing else sends to us)
    EXPECT_EQ(d->socket, other);
    break;
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, PunchDriverBusy,
                         ::testing::Values(BusyCase{true, 37}, BusyCase{true, 0}, BusyCase{false, 37}),
                         [](const auto& info) {
                           return std::string(info.param.busy_poll ? "Busy" : "Epoll") + "Socket" +
                                  std::to_string(info.param.target_socket);
                         });

}  // namespace
}  // namespace natpunch::io
