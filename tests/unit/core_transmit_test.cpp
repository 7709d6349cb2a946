// The machine contract's value types: a Transmit's bytes stay inline up to
// the inline capacity (no allocation per probe) and move larger vectors in.
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "core/transmit.hpp"

namespace natpunch {
namespace {

std::vector<std::uint8_t> counting(std::size_t n) {
  std::vector<std::uint8_t> v(n);
  std::iota(v.begin(), v.end(), std::uint8_t{1});
  return v;
}

TEST(DatagramBytes, KeepsEveryByteAtEverySizeAroundTheInlineCapacity) {
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, DatagramBytes::kInlineCapacity - 1,
                        DatagramBytes::kInlineCapacity, DatagramBytes::kInlineCapacity + 1, std::size_t{1500}}) {
    const auto source = counting(n);
    const DatagramBytes from_span{std::span<const std::uint8_t>(source)};
    auto moved_from = source;
    const DatagramBytes from_vector{std::move(moved_from)};
    for (const auto* b : {&from_span, &from_vector}) {
      ASSERT_EQ(b->size(), n);
      EXPECT_EQ(b->to_vector(), source) << "size " << n;
    }
    EXPECT_EQ(from_span, from_vector);
  }
}

TEST(DatagramBytes, ALargeVectorIsMovedInNotCopied) {
  auto source = counting(1000);
  const auto* storage = source.data();
  const DatagramBytes bytes{std::move(source)};
  EXPECT_EQ(bytes.data(), storage);
}

TEST(DatagramBytes, CopiesAndReassignmentsAreIndependent) {
  DatagramBytes a{counting(10)};
  DatagramBytes b = a;
  b.assign(counting(200));
  EXPECT_EQ(a.size(), 10u);
  EXPECT_EQ(b.size(), 200u);
  a = b;
  EXPECT_EQ(a, b);
  b.assign(counting(3));
  EXPECT_EQ(a.size(), 200u);
  EXPECT_EQ(b.to_vector(), counting(3));
}

struct EchoMachine {
  std::optional<Transmit> pending;
  void on_datagram(TimePoint, SocketId socket, const Endpoint& from, std::span<const std::uint8_t> bytes) {
    pending = Transmit{socket, from, bytes};
  }
  std::optional<Transmit> poll_transmit(TimePoint) { return std::exchange(pending, std::nullopt); }
  std::optional<TimePoint> next_deadline() const { return std::nullopt; }
  void on_timer(TimePoint) {}
  std::optional<int> poll_event() { return std::nullopt; }
};
static_assert(ProtocolMachine<EchoMachine>);
static_assert(!ProtocolMachine<int>);

TEST(Transmit, AMachineOnTheContractAnswersOnTheSocketItWasAskedOn) {
  EchoMachine m;
  const auto from = *Endpoint::parse("203.0.113.5:4000");
  const std::vector<std::uint8_t> hello{'h', 'i'};
  m.on_datagram(kTimeZero, 3, from, hello);
  auto t = m.poll_transmit(kTimeZero);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->socket, 3u);
  EXPECT_EQ(t->to, from);
  EXPECT_EQ(t->bytes.to_vector(), hello);
  EXPECT_FALSE(m.poll_transmit(kTimeZero));
}

}  // namespace
}  // namespace natpunch
