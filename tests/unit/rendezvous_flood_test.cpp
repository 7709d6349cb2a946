// The server under a bounded junk flood from spoofed sources: honest
// clients keep registering and connecting (>= 99 % success) and the
// server's state and heap stay bounded.
#include <gtest/gtest.h>
#include <malloc.h>

#include <chrono>
#include <cstdio>
#include <map>

#include "rendezvous_harness.hpp"

namespace natpunch::rendezvous {
namespace {

using testing::ep;
using testing::Harness;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kHeapIsMeasurable = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kHeapIsMeasurable = false;
#else
constexpr bool kHeapIsMeasurable = true;
#endif
#else
constexpr bool kHeapIsMeasurable = true;
#endif

std::size_t heap_in_use() { return mallinfo2().uordblks; }

// One junk datagram: random bytes, or well-formed messages that each make
// the server do some work (a challenge, a refusal, a MAC check).
std::vector<std::uint8_t> junk(Rng& rng, const std::vector<std::vector<std::uint8_t>>& captured) {
  switch (rng.uniform(0, 5)) {
    case 0: {
      std::vector<std::uint8_t> b(rng.uniform(0, 1500));
      rng.fill(b);
      return b;
    }
    case 1: {
      Register r;
      rng.fill(r.identity);
      return encode(r);
    }
    case 2: {
      Refresh r;
      r.auth.registration_id = rng.next_u64();
      r.auth.sequence = 1;
      return encode(r);
    }
    case 3: {
      Prove p;
      rng.fill(p.identity);
      p.issued_at_ms = rng.next_u64();
      return encode(p);
    }
    case 4: {
      RelayData d;
      d.auth.registration_id = rng.next_u64();
      d.payload.resize(rng.uniform(0, kMaxRelayPayload));
      return encode(d);
    }
    default:  // an honest client's datagram, replayed
      return captured.empty() ? std::vector<std::uint8_t>{} : captured[rng.uniform(0, captured.size() - 1)];
  }
}

TEST(RendezvousFlood, HonestClientsKeepConnectingUnderJunk) {
  ServerConfig config;  // the real defaults, source rate limit included
  config.limits.max_registrations = 1000;
  Harness h(config);
  constexpr int kPeers = 10;
  std::vector<Harness::Peer*> peers;
  for (int i = 0; i < kPeers; ++i)
    peers.push_back(&h.add_peer(ep(198, 51, 100, static_cast<std::uint8_t>(10 + i), 5000)));
  h.advance(seconds(1));
  std::vector<std::vector<std::uint8_t>> captured;
  for (const auto& c : h.wire) captured.push_back(c.bytes);
  h.record = false;

  const std::size_t heap_before = heap_in_use();
  Rng rng(99);
  constexpr int kSteps = 1000;          // 10 ms each: 10 s of virtual time
  constexpr int kJunkPerStep = 200;     // 20,000 junk datagrams per second
  std::vector<std::pair<Harness::Peer*, std::uint32_t>> attempts;
  std::size_t junk_sent = 0;
  std::size_t max_tracked = 0;
  std::vector<Harness::Peer*> late;
  const auto started = std::chrono::steady_clock::now();
  for (int step = 0; step < kSteps; ++step) {
    for (int j = 0; j < kJunkPerStep; ++j) {
      // Spoofed sources anywhere in 100.64.0.0/10.
      const auto addr = 0x64400000u | static_cast<std::uint32_t>(rng.uniform(0, 0x3fffff));
      h.inject(Endpoint{IpAddress::v4(addr), static_cast<std::uint16_t>(rng.uniform(1024, 65535))},
               junk(rng, captured));
      ++junk_sent;
    }
    if (step >= 50 && step < 650 && step % 3 == 0) {
      auto* caller = peers[rng.uniform(0, kPeers - 1)];
      auto* callee = peers[rng.uniform(0, kPeers - 1)];
      if (caller == callee) callee = peers[(rng.uniform(1, kPeers - 1) + static_cast<std::size_t>(step)) % kPeers];
      if (caller != callee) attempts.emplace_back(caller, caller->client->connect(h.now, callee->client->identity()));
    }
    if (step == 500)  // newcomers register in the middle of the flood
      for (int i = 0; i < 3; ++i) late.push_back(&h.add_peer(ep(203, 0, 113, static_cast<std::uint8_t>(50 + i), 7000)));
    h.advance(milliseconds(10));
    max_tracked = std::max(max_tracked, h.server().tracked_sources());
  }
  const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  std::size_t succeeded = 0;
  for (const auto& [peer, request] : attempts)
    for (const auto& ready : peer->all<client_event::SessionReady>())
      if (ready.session.correlation_id == request) ++succeeded;
  std::map<ErrorCode, int> failures;
  for (auto* p : peers)
    for (const auto& f : p->all<client_event::ConnectFailed>()) ++failures[f.code];
  for (const auto& [code, n] : failures) std::printf("  failed: %s x%d\n", std::string(to_string(code)).c_str(), n);
  const double rate = static_cast<double>(succeeded) / static_cast<double>(attempts.size());
  const auto heap_growth = static_cast<long long>(heap_in_use()) - static_cast<long long>(heap_before);
  std::printf("junk flood: %zu junk datagrams in %.2f s wall (%.0f/s), honest connects %zu/%zu (%.2f %%), "
              "registrations %zu, pending %zu, sessions %zu, tracked sources max %zu, heap growth %lld bytes\n",
              junk_sent, wall_s, static_cast<double>(junk_sent) / wall_s, succeeded, attempts.size(), 100 * rate,
              h.server().registration_count(), h.server().pending_count(), h.server().session_count(), max_tracked,
              heap_growth);

  EXPECT_GE(attempts.size(), 190u);
  EXPECT_GE(rate, 0.99);
  for (auto* p : peers) EXPECT_TRUE(p->client->registered());
  for (auto* p : late) EXPECT_TRUE(p->client->registered());
  EXPECT_EQ(h.server().registration_count(), static_cast<std::size_t>(kPeers) + late.size()) << "junk never registers";
  EXPECT_LE(h.server().pending_count(), config.limits.max_pending_requests);
  EXPECT_LE(h.server().session_count(), attempts.size());
  EXPECT_LE(max_tracked, config.rate_limit->max_sources);
  EXPECT_GT(h.server().counters().challenges_sent, 0u);
  if (kHeapIsMeasurable) {
    // The honest sessions' records (a few hundred bytes each) plus the
    // fixed-size limiter table: far below what the junk itself weighs.
    EXPECT_LT(heap_growth, 4 * 1024 * 1024);
  }
}

}  // namespace
}  // namespace natpunch::rendezvous
