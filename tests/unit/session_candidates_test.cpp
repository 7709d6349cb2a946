// session/candidates.hpp and session/candidate_checks.hpp (issue 19 item 2):
// priorities, what a check may go to, the capped check list, and checks
// between two machines in memory (authenticated, bounded).
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "session/candidate_checks.hpp"
#include "session/candidates.hpp"

namespace natpunch::session {
namespace {

Endpoint ep(const char* text) { return *Endpoint::parse(text); }

TEST(CandidatePriority, HostV6HostV4SrflxV6SrflxV4PredictedRelay) {
  const std::vector<std::uint32_t> order{
      candidate_priority(CandidateType::kHost, true),           candidate_priority(CandidateType::kHost, false),
      candidate_priority(CandidateType::kServerReflexive, true), candidate_priority(CandidateType::kServerReflexive, false),
      candidate_priority(CandidateType::kPredicted, true),       candidate_priority(CandidateType::kPredicted, false),
      candidate_priority(CandidateType::kRelay, true),          candidate_priority(CandidateType::kRelay, false)};
  for (std::size_t i = 1; i < order.size(); ++i) EXPECT_GT(order[i - 1], order[i]) << i;
}

struct UsableCase {
  const char* endpoint;
  bool usable;
};

class Usable : public ::testing::TestWithParam<UsableCase> {};

TEST_P(Usable, NonsenseAddressesAreNeverChecked) {
  const IpAddress server = *IpAddress::parse("203.0.113.10");
  EXPECT_EQ(usable_candidate(ep(GetParam().endpoint), std::span<const IpAddress>(&server, 1)), GetParam().usable);
}

INSTANTIATE_TEST_SUITE_P(
    Addresses, Usable,
    ::testing::Values(UsableCase{"100.64.0.2:4000", true}, UsableCase{"198.51.100.7:1", true},
                      UsableCase{"[2001:db8::2]:4000", true}, UsableCase{"100.64.0.2:0", false},
                      UsableCase{"0.0.0.0:4000", false}, UsableCase{"127.0.0.1:4000", false},
                      UsableCase{"224.0.0.251:5353", false}, UsableCase{"239.1.1.1:4000", false},
                      UsableCase{"255.255.255.255:4000", false}, UsableCase{"240.0.0.1:4000", false},
                      UsableCase{"169.254.3.4:4000", false}, UsableCase{"[::]:4000", false},
                      UsableCase{"[::1]:4000", false}, UsableCase{"[ff02::1]:4000", false},
                      UsableCase{"[fe80::1]:4000", false}, UsableCase{"[::ffff:198.51.100.7]:4000", false},
                      UsableCase{"[::198.51.100.7]:4000", false}, UsableCase{"203.0.113.10:7000", false},
                      UsableCase{"203.0.113.10:9999", false}));

TEST(CheckList, HostV6FromTheV6SocketAndHostV4OnlyBehindOneNat) {
  const std::vector<Endpoint> host{ep("100.64.0.3:40000"), ep("[2001:db8:0:2::2]:40000")};
  CheckListInput in{host, ep("198.51.100.102:40000"), ep("198.51.100.101:40000"), SocketId{7}, {}, std::nullopt};
  auto pairs = check_list(in);
  ASSERT_EQ(pairs.size(), 1u) << "two NATs: no private address checked";
  EXPECT_EQ(pairs[0].socket, 7u);
  EXPECT_EQ(pairs[0].remote.endpoint, host[1]);
  EXPECT_EQ(pairs[0].remote.type, CandidateType::kHost);

  in.own_observed = ep("198.51.100.102:40001");  // one NAT
  pairs = check_list(in);
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(pairs[0].remote.endpoint, host[1]) << "IPv6 first";
  EXPECT_EQ(pairs[1].remote.endpoint, host[0]);
  EXPECT_EQ(pairs[1].socket, 0u);

  in.v6_socket.reset();  // no IPv6 here
  pairs = check_list(in);
  ASSERT_EQ(pairs.size(), 1u);
  EXPECT_EQ(pairs[0].remote.endpoint, host[0]);
}

// Hostile lists: far more than the cap, duplicates, nonsense, our own
// address, the peer's public one, the server's: at most kMaxChecks pairs,
// one per address, none of the rest.
// An IPv6-only peer (registered over IPv6: its srflx is its own IPv6
// address) met by a side registered over IPv4: socket 0 cannot reach that
// srflx, so it is checked from the IPv6 socket; between sides of one
// family the strategy probes the srflx and it is not checked.
TEST(CheckList, APeerOfTheOtherFamilyIsCheckedAtItsSrflxFromTheV6Socket) {
  const std::vector<Endpoint> v6_only_host{ep("[2001:db8:1::2]:40000")};
  CheckListInput in{v6_only_host, ep("[2001:db8:1::2]:40000"), ep("198.51.100.101:40000"), SocketId{7}, {}, std::nullopt};
  auto pairs = check_list(in);
  ASSERT_EQ(pairs.size(), 1u);
  EXPECT_EQ(pairs[0].socket, 7u);
  EXPECT_EQ(pairs[0].remote.endpoint, v6_only_host[0]);
  EXPECT_EQ(pairs[0].remote.type, CandidateType::kHost);

  in.own_observed = ep("[2001:db8:2::2]:40001");  // both IPv6-only: the strategy's
  in.v6_socket = SocketId{0};
  EXPECT_TRUE(check_list(in).empty());

  // The IPv6-only side (socket 0 is its IPv6 socket) checks a dual-stack
  // peer's IPv6 host candidates, never its IPv4 ones (no common NAT).
  const std::vector<Endpoint> dual_host{ep("100.64.1.2:40000"), ep("[2001:db8:1::2]:40002")};
  pairs = check_list(CheckListInput{dual_host, ep("198.51.100.101:40000"), ep("[2001:db8:2::2]:40001"), SocketId{0}, {}, std::nullopt});
  ASSERT_EQ(pairs.size(), 1u);
  EXPECT_EQ(pairs[0].socket, 0u);
  EXPECT_EQ(pairs[0].remote.endpoint, dual_host[1]);
}

// The peer's IPv6 reflexive endpoint (NatInfo::reflexive_v6): a srflx
// pair from our IPv6 socket, below every host pair; dropped where a host
// candidate has its address (no NAT66), without an IPv6 socket, when it is
// not IPv6 or makes no sense.
TEST(CheckList, ThePeersIpv6ReflexiveEndpointIsASrflxPair) {
  const std::vector<Endpoint> host{ep("100.64.0.3:40000"), ep("[2001:db8:0:2::2]:40000")};
  CheckListInput in{host, ep("198.51.100.102:40000"), ep("198.51.100.102:40001"), SocketId{7}, {}, std::nullopt};
  in.peer_reflexive_v6 = ep("[2001:db8:99::2]:50000");  // behind a NAT66: another address
  auto pairs = check_list(in);
  ASSERT_EQ(pairs.size(), 3u);
  EXPECT_EQ(pairs[2].remote.type, CandidateType::kServerReflexive);
  EXPECT_EQ(pairs[2].remote.endpoint, *in.peer_reflexive_v6);
  EXPECT_EQ(pairs[2].socket, 7u);
  EXPECT_EQ(pairs[2].remote.priority, candidate_priority(CandidateType::kServerReflexive, true));
  EXPECT_LT(pairs[2].remote.priority, pairs[1].remote.priority);

  for (const char* same_or_nonsense : {"[2001:db8:0:2::2]:40000", "[2001:db8:0:2::2]:40009", "[fe80::1]:5",
                                       "[ff02::1]:5", "[::ffff:198.51.100.7]:5", "198.51.100.9:5"}) {
    in.peer_reflexive_v6 = ep(same_or_nonsense);
    EXPECT_EQ(check_list(in).size(), 2u) << same_or_nonsense;
  }
  in.peer_reflexive_v6 = ep("[2001:db8:99::2]:50000");
  in.v6_socket.reset();
  pairs = check_list(in);
  EXPECT_TRUE(std::none_of(pairs.begin(), pairs.end(), [](const CandidatePair& p) { return p.remote.endpoint.address.is_v6(); }));
}

TEST(CheckList, HostileListsAreCappedDeduplicatedAndCleaned) {
  std::vector<Endpoint> host;
  for (const char* bad : {"224.0.0.1:1", "0.0.0.0:1", "[ff02::1]:1", "[fe80::1]:1", "100.64.0.2:0",
                          "203.0.113.10:7000", "198.51.100.102:40000", "[2001:db8::aa]:1", "[2001:db8::aa]:2"})
    host.push_back(ep(bad));
  for (int i = 0; i < 100; ++i)
    host.push_back(Endpoint{IpAddress::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
                                           static_cast<std::uint8_t>(i)}),
                            40000});
  const IpAddress server = *IpAddress::parse("203.0.113.10");
  const CheckListInput in{host, ep("198.51.100.102:40000"), ep("[2001:db8::aa]:5"), SocketId{9},
                          std::span<const IpAddress>(&server, 1), std::nullopt};
  const auto pairs = check_list(in);
  ASSERT_EQ(pairs.size(), kMaxChecks);
  std::set<IpAddress> addresses;
  for (const auto& p : pairs) {
    EXPECT_TRUE(usable_candidate(p.remote.endpoint)) << p.remote.endpoint.to_string();
    EXPECT_NE(p.remote.endpoint.address, *IpAddress::parse("2001:db8::aa")) << "our own address";
    EXPECT_EQ(p.socket, 9u);
    addresses.insert(p.remote.endpoint.address);
  }
  EXPECT_EQ(addresses.size(), pairs.size());
}

TEST(ClassifyPath, SrflxPredictedHost) {
  const std::vector<Endpoint> host{ep("100.64.0.3:40000")};
  const auto observed = ep("198.51.100.102:40000");
  EXPECT_EQ(classify_path(observed, observed, host).type, CandidateType::kServerReflexive);
  EXPECT_EQ(classify_path(ep("198.51.100.102:40517"), observed, host).type, CandidateType::kPredicted);
  EXPECT_EQ(classify_path(host[0], observed, host).type, CandidateType::kHost);
  // No NAT: the rendezvous saw the peer at its host endpoint.
  const std::vector<Endpoint> public_host{observed};
  EXPECT_EQ(classify_path(observed, observed, public_host).type, CandidateType::kHost);
}

// Two check lists talking to each other in memory: A (caller) checks B's
// IPv6 host candidate and B A's; both find the pair valid.
struct Pair {
  wire::SessionKey key{};
  Rng rng_a{1}, rng_b{2};
  Endpoint a = ep("[2001:db8:0:1::2]:40000"), b = ep("[2001:db8:0:2::2]:40000");
  std::unique_ptr<CandidateChecks> ca, cb;
  Pair() {
    key.fill(7);
    CandidateChecksConfig c;
    c.session_id = 42;
    c.key = key;
    c.role = wire::SessionRole::Caller;
    ca = std::make_unique<CandidateChecks>(
        c, std::vector<CandidatePair>{{1, Candidate{CandidateType::kHost, b, candidate_priority(CandidateType::kHost, true)}}},
        rng_a, TimePoint{});
    c.role = wire::SessionRole::Callee;
    cb = std::make_unique<CandidateChecks>(
        c, std::vector<CandidatePair>{{1, Candidate{CandidateType::kHost, a, candidate_priority(CandidateType::kHost, true)}}},
        rng_b, TimePoint{});
  }
  // Delivers everything both have to send now; `drop_to_b` loses A's datagrams.
  void exchange(TimePoint now, bool drop_to_b = false) {
    for (int round = 0; round < 4; ++round) {
      while (auto t = ca->poll_transmit(now))
        if (!drop_to_b) cb->on_datagram(now, 1, a, t->bytes);
      while (auto t = cb->poll_transmit(now)) ca->on_datagram(now, 1, b, t->bytes);
    }
  }
};

TEST(CandidateChecks, BothSidesValidateThePair) {
  Pair p;
  p.exchange(TimePoint{});
  const auto va = p.ca->poll_valid(), vb = p.cb->poll_valid();
  ASSERT_TRUE(va && vb);
  EXPECT_EQ(va->remote.endpoint, p.b);
  EXPECT_EQ(vb->remote.endpoint, p.a);
  EXPECT_FALSE(p.ca->running());
}

TEST(CandidateChecks, ForgedAndMisdirectedAnswersAreRejected) {
  Pair p;
  auto t = p.ca->poll_transmit(TimePoint{});
  ASSERT_TRUE(t);
  // B's answer arrives from another address, or another key sealed it.
  p.cb->on_datagram(TimePoint{}, 1, p.a, t->bytes);
  auto ack = p.cb->poll_transmit(TimePoint{});
  ASSERT_TRUE(ack);
  while (p.cb->poll_transmit(TimePoint{})) {
  }  // its triggered check
  p.ca->on_datagram(TimePoint{}, 1, ep("[2001:db8:0:2::3]:40000"), ack->bytes);
  p.ca->on_datagram(TimePoint{}, 2, p.b, ack->bytes);  // another socket
  auto forged = ack->bytes;
  std::vector<std::uint8_t> copy(forged.begin(), forged.end());
  copy.back() ^= 1;
  p.ca->on_datagram(TimePoint{}, 1, p.b, copy);
  EXPECT_FALSE(p.ca->poll_valid());
  EXPECT_EQ(p.ca->rejected(), 3u);
  // Nothing answers an unauthenticated check.
  p.cb->on_datagram(TimePoint{}, 1, p.a, copy);
  EXPECT_FALSE(p.cb->poll_transmit(TimePoint{}).has_value());
}

// Both sides start checking the moment they learn of the pairing, so the
// earlier one's first check dies at the other's firewall. The later one's
// check gets through and is answered at once, together with A's triggered
// check -- not one pacing interval or retransmission timeout later: both
// know the pair works within that one round trip.
TEST(CandidateChecks, ATriggeredCheckLeavesAtOnceOutsideThePacing) {
  Pair p;
  ASSERT_TRUE(p.ca->poll_transmit(TimePoint{}));  // lost: B's firewall was still closed
  const TimePoint later = TimePoint{} + milliseconds(5);
  auto check = p.cb->poll_transmit(later);
  ASSERT_TRUE(check);
  p.ca->on_datagram(later, 1, p.b, check->bytes);
  std::vector<Transmit> out;
  while (auto t = p.ca->poll_transmit(later)) out.push_back(std::move(*t));
  ASSERT_EQ(out.size(), 2u) << "the answer and the triggered check, now";
  EXPECT_GT(p.ca->next_deadline().value_or(TimePoint::max()), later) << "then nothing more at once";
  for (const auto& t : out) p.cb->on_datagram(later, 1, p.a, t.bytes);
  while (auto t = p.cb->poll_transmit(later)) p.ca->on_datagram(later, 1, p.b, t->bytes);
  EXPECT_TRUE(p.ca->poll_valid());
  EXPECT_TRUE(p.cb->poll_valid());
  EXPECT_EQ(p.ca->checks_sent(), 2u);
}

// A replayed (authentic) check triggers at most the pair's remaining
// tries: what arrives never adds checks.
TEST(CandidateChecks, ReplayedChecksNeverTriggerMoreThanThePairsTries) {
  Pair p;
  auto check = p.cb->poll_transmit(TimePoint{});
  ASSERT_TRUE(check);
  const std::vector<std::uint8_t> replayed(check->bytes.begin(), check->bytes.end());
  std::uint64_t checks = 0;
  for (int i = 0; i < 50; ++i) {
    const TimePoint now = TimePoint{} + std::chrono::microseconds(i);
    p.ca->on_datagram(now, 1, p.b, replayed);
    p.ca->on_timer(now);
    while (p.ca->poll_transmit(now)) {
    }
    checks = p.ca->checks_sent();
  }
  EXPECT_EQ(checks, static_cast<std::uint64_t>(CandidateChecksConfig{}.max_attempts));
}

// A peer that never answers costs at most max_attempts checks per pair,
// paced and backed off, then the pair fails.
TEST(CandidateChecks, UnansweredChecksAreBoundedThenFail) {
  Pair p;
  std::uint64_t sent = 0;
  TimePoint now{};
  for (int step = 0; step < 2000 && p.ca->next_deadline(); ++step) {
    now = std::max(now, *p.ca->next_deadline());
    p.ca->on_timer(now);
    while (p.ca->poll_transmit(now)) ++sent;
  }
  EXPECT_EQ(sent, static_cast<std::uint64_t>(CandidateChecksConfig{}.max_attempts));
  EXPECT_FALSE(p.ca->running());
  EXPECT_LT(now - TimePoint{}, seconds(20));
}

}  // namespace
}  // namespace natpunch::session
