// The STUN server's workers share one budget per source address (issue
// 21): the kernel spreads the ports of one carrier address over all
// workers, and the address must still get exactly its budget -- not its
// budget once per worker.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "stun/source_rate_limiter.hpp"

namespace natpunch::stun {
namespace {

RateLimitConfig small_budget() {
  RateLimitConfig c;
  c.requests_per_second = 20;
  c.burst = 40;
  c.address_requests_per_second = 1;  // no refill worth counting within the test
  c.address_burst = 100;
  return c;
}

Endpoint port(std::uint16_t p) { return Endpoint{IpAddress::v4({100, 64, 0, 9}), p}; }

// Workers x ports: ports alternate between the workers, as the kernel's
// 4-tuple hash spreads them; every port asks once, at one instant.
struct Spread {
  unsigned workers;
  bool shared;
  std::size_t expected_allowed;
};
class SharedAddressBudget : public ::testing::TestWithParam<Spread> {};

TEST_P(SharedAddressBudget, OneAddressGetsItsBudgetWhateverTheWorkers) {
  const auto [workers, shared, expected] = GetParam();
  const auto config = small_budget();
  auto budgets = shared ? std::make_shared<AddressBudgets>(address_budget_config(config), true) : nullptr;
  std::vector<SourceRateLimiter> limiters;
  for (unsigned w = 0; w < workers; ++w) limiters.emplace_back(config, 42, budgets);
  std::size_t allowed = 0;
  for (std::uint16_t p = 1000; p < 2000; ++p)
    allowed += limiters[p % workers].allow(kTimeZero + seconds(10), port(p)) ? 1 : 0;
  EXPECT_EQ(allowed, expected);
}

INSTANTIATE_TEST_SUITE_P(Workers, SharedAddressBudget,
                         ::testing::Values(Spread{1, false, 100}, Spread{2, true, 100}, Spread{4, true, 100},
                                           // what separate tables gave: the budget once per worker
                                           Spread{2, false, 200}, Spread{4, false, 400}),
                         [](const auto& info) {
                           return std::to_string(info.param.workers) + "_workers_" +
                                  (info.param.shared ? "shared" : "separate");
                         });

TEST(SharedAddressBudgetThreads, ConcurrentWorkersSpendOneBudgetExactly) {
  const auto config = small_budget();
  auto budgets = std::make_shared<AddressBudgets>(address_budget_config(config), true);
  constexpr unsigned kWorkers = 4;
  std::atomic<std::size_t> allowed{0};
  std::vector<std::thread> threads;
  for (unsigned w = 0; w < kWorkers; ++w)
    threads.emplace_back([&, w] {
      SourceRateLimiter limiter(config, 42, budgets);
      std::size_t mine = 0;
      for (std::uint16_t p = 0; p < 2000; ++p)
        mine += limiter.allow(kTimeZero + seconds(10), port(static_cast<std::uint16_t>(1000 + p * kWorkers + w))) ? 1 : 0;
      allowed += mine;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(allowed.load(), 100u);
}

TEST(SharedAddressBudgetThreads, PortLimitsStayPerPortAndOtherAddressesAreUntouched) {
  const auto config = small_budget();
  auto budgets = std::make_shared<AddressBudgets>(address_budget_config(config), true);
  SourceRateLimiter a(config, 42, budgets), b(config, 42, budgets);
  // One port (always on worker a) gets its own burst of 40, no more.
  std::size_t one_port = 0;
  for (int i = 0; i < 100; ++i) one_port += a.allow(kTimeZero + seconds(10), port(5000)) ? 1 : 0;
  EXPECT_EQ(one_port, 40u);
  // The address has 60 left for its other ports, on either worker.
  std::size_t others = 0;
  for (std::uint16_t p = 6000; p < 6200; ++p) others += (p % 2 ? a : b).allow(kTimeZero + seconds(10), port(p)) ? 1 : 0;
  EXPECT_EQ(others, 60u);
  // Another address has a budget of its own.
  EXPECT_TRUE(b.allow(kTimeZero + seconds(10), Endpoint{IpAddress::v4({100, 64, 0, 10}), 5000}));
}

}  // namespace
}  // namespace natpunch::stun
