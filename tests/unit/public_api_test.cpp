// The public API's vocabulary and checks (include/natpunch/*.hpp) and the
// exchange natpunch's tools run over a Session (io/session_exchange.hpp),
// without a network: two in-memory Sessions stand for the two peers.
#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <future>
#include <mutex>
#include <natpunch/error.hpp>
#include <natpunch/nat_behavior.hpp>
#include <natpunch/session.hpp>
#include <set>
#include <string>
#include <unistd.h>

#include "io/session_exchange.hpp"
#include "nat/public_vocabulary.hpp"

namespace natpunch {
namespace {

TEST(PublicVocabulary, EveryNatBehaviourSpellsAndConvertsLikeTheModel) {
  const std::vector<std::pair<NatBehavior, nat::MappingBehavior>> table{
      {NatBehavior::kUnknown, nat::MappingBehavior::Unknown},
      {NatBehavior::kNone, nat::MappingBehavior::None},
      {NatBehavior::kEndpointIndependent, nat::MappingBehavior::EndpointIndependent},
      {NatBehavior::kAddressDependent, nat::MappingBehavior::AddressDependent},
      {NatBehavior::kAddressAndPortDependent, nat::MappingBehavior::AddressAndPortDependent},
  };
  for (const auto& [behavior, mapping] : table) {
    EXPECT_EQ(to_string(behavior), nat::to_string(mapping));
    EXPECT_EQ(parse_nat_behavior(to_string(behavior)), behavior);
    EXPECT_EQ(nat::to_mapping(behavior), mapping);
    EXPECT_EQ(nat::to_public(mapping), behavior);
    EXPECT_EQ(nat::to_public(nat::to_filtering(behavior)), behavior);
  }
  EXPECT_FALSE(parse_nat_behavior("sometimes"));
  EXPECT_FALSE(parse_nat_behavior(""));
}

TEST(PublicVocabulary, EveryClassicTypeSpellsLikeTheModel) {
  for (auto t : {nat::ClassicType::OpenInternet, nat::ClassicType::FullCone, nat::ClassicType::RestrictedCone,
                 nat::ClassicType::PortRestrictedCone, nat::ClassicType::Symmetric,
                 nat::ClassicType::SymmetricUdpFirewall, nat::ClassicType::UdpBlocked, nat::ClassicType::Unknown}) {
    const auto pub = nat::to_public(t);
    EXPECT_EQ(to_string(pub), nat::to_string(t));
    EXPECT_EQ(parse_classic_nat_type(nat::to_string(t)), pub);
  }
  EXPECT_NE(nat::to_public(nat::ClassicType::FullCone), ClassicNatType::kUnknown);
}

TEST(PublicVocabulary, ErrorKindsHaveDistinctJsonSpellings) {
  std::set<std::string> seen;
  for (auto k : {ErrorKind::kBadInput, ErrorKind::kNoAnswer, ErrorKind::kServerKeyMismatch, ErrorKind::kNoSession,
                 ErrorKind::kSocket, ErrorKind::kInterrupted})
    EXPECT_TRUE(seen.insert(to_string(k)).second) << to_string(k);
  EXPECT_STREQ(to_string(ErrorKind::kNoAnswer), "no_answer");
}

// Bad input is reported before anything is sent or announced: no identity
// line, no NAT probe, no identity file written.
TEST(PublicSessionApi, BadInputComesBeforeAnyProgress) {
  const auto dir = std::filesystem::temp_directory_path() / ("np-api-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto key_file = dir / "me.key";
  std::vector<SessionProgress::Kind> seen;
  SessionOptions o;
  o.rendezvous = "127.0.0.1:9";
  o.identity_file = key_file.string();
  o.on_progress = [&](const SessionProgress& p) { seen.push_back(p.kind); };
  struct Case {
    const char* what;
    std::function<void(SessionOptions&)> spoil;
    std::string peer;
  };
  const std::string good_peer(64, 'a');
  const std::vector<Case> cases{
      {"peer key", [](SessionOptions&) {}, "not-a-key"},
      {"rendezvous list", [](SessionOptions& s) { s.rendezvous = "127.0.0.1:9,:x:"; }, good_peer},
      {"server key", [](SessionOptions& s) { s.server_key = "abc"; }, good_peer},
      {"carrier profile", [](SessionOptions& s) { s.nat.carrier_profile = "no-such-carrier"; }, good_peer},
      {"sockets", [](SessionOptions& s) { s.sockets = 0; }, good_peer},
  };
  for (const auto& c : cases) {
    SessionOptions spoiled = o;
    c.spoil(spoiled);
    seen.clear();
    auto r = connect(spoiled, c.peer);
    ASSERT_FALSE(r.ok()) << c.what;
    EXPECT_EQ(r.error().kind, ErrorKind::kBadInput) << c.what << ": " << r.error().message;
    EXPECT_TRUE(seen.empty()) << c.what << ": progress before the error";
    EXPECT_FALSE(std::filesystem::exists(key_file)) << c.what;
  }
  auto bad_caller = open_listener(o, {"not-a-key"});
  ASSERT_FALSE(bad_caller.ok());
  EXPECT_EQ(bad_caller.error().kind, ErrorKind::kBadInput);
  EXPECT_TRUE(seen.empty());
  std::filesystem::remove_all(dir);
}

// Two in-memory Sessions joined back to back: what one sends, the other receives.
class MemorySession final : public Session {
 public:
  void join(MemorySession& peer) { peer_ = &peer; }
  bool send(std::span<const std::uint8_t> payload) override {
    if (payload.size() > kMaxSessionPayload) return false;
    std::lock_guard lock(peer_->mutex_);
    peer_->inbox_.emplace_back(payload.begin(), payload.end());
    peer_->arrived_.notify_all();
    return true;
  }
  std::optional<std::vector<std::uint8_t>> receive(std::chrono::milliseconds timeout) override {
    std::unique_lock lock(mutex_);
    if (!arrived_.wait_for(lock, timeout, [this] { return !inbox_.empty(); })) return std::nullopt;
    auto next = std::move(inbox_.front());
    inbox_.pop_front();
    return next;
  }
  SessionRoute route() const override { return SessionRoute::kRelay; }
  SessionStats stats() const override { return {}; }
  const SessionInfo& info() const override { return info_; }
  void close() override {}

 private:
  MemorySession* peer_ = nullptr;
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::deque<std::vector<std::uint8_t>> inbox_;
  SessionInfo info_;
};

TEST(SessionExchange, FramesRoundTripAndTellTheModesApart) {
  const std::vector<std::uint8_t> text{'h', 'i'};
  const auto framed = io::encode_frame(io::kGotYours, text);
  auto back = io::decode_frame(framed);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->flags, io::kGotYours);
  EXPECT_EQ(back->bytes, text);
  EXPECT_FALSE(io::decode_frame(std::vector<std::uint8_t>{'P', 0, 0}));  // a measuring peer's ping
  EXPECT_FALSE(io::decode_frame(std::vector<std::uint8_t>{}));
  const std::vector<std::uint8_t> big(2 * kMaxSessionPayload, 7);
  EXPECT_EQ(io::encode_frame(0, big).size(), kMaxSessionPayload);
}

TEST(SessionExchange, BothSidesGetTheOthersTestDatagram) {
  MemorySession a, b;
  a.join(b);
  b.join(a);
  const auto never = [] { return false; };
  auto other = std::async(std::launch::async, [&] {
    return io::exchange_test_datagram(b, "from b", std::chrono::seconds(5), never);
  });
  const auto mine = io::exchange_test_datagram(a, "from a", std::chrono::seconds(5), never);
  const auto theirs = other.get();
  ASSERT_TRUE(mine.received);
  ASSERT_TRUE(theirs.received);
  EXPECT_EQ(*mine.received, "from b");
  EXPECT_EQ(*theirs.received, "from a");
  EXPECT_FALSE(mine.peer_measures || theirs.peer_measures || mine.interrupted);
}

TEST(SessionExchange, AMeasuringPeerEndsItAtOnce) {
  MemorySession a, b;
  a.join(b);
  b.join(a);
  ASSERT_TRUE(b.send(std::vector<std::uint8_t>{'M'}));  // "I run --measure"
  const auto start = std::chrono::steady_clock::now();
  const auto r = io::exchange_test_datagram(a, "from a", std::chrono::seconds(5), [] { return false; });
  EXPECT_TRUE(r.peer_measures);
  EXPECT_FALSE(r.received);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_TRUE(b.receive(std::chrono::milliseconds(0))) << "the measuring peer hears why";
}

TEST(SessionExchange, StreamEndsWhenBothInputsEnd) {
  MemorySession a, b;
  a.join(b);
  b.join(a);
  int a_in[2], a_out[2], b_in[2], b_out[2];
  ASSERT_EQ(::pipe(a_in), 0);
  ASSERT_EQ(::pipe(a_out), 0);
  ASSERT_EQ(::pipe(b_in), 0);
  ASSERT_EQ(::pipe(b_out), 0);
  ASSERT_EQ(::write(a_in[1], "ping", 4), 4);
  ::close(a_in[1]);
  ASSERT_EQ(::write(b_in[1], "pong", 4), 4);
  ::close(b_in[1]);
  const auto never = [] { return false; };
  auto other = std::async(std::launch::async, [&] { return io::pipe_stream(b, b_in[0], b_out[1], never); });
  const auto mine = io::pipe_stream(a, a_in[0], a_out[1], never);
  const auto theirs = other.get();
  EXPECT_TRUE(mine.complete);
  EXPECT_TRUE(theirs.complete);
  char got[8] = {};
  EXPECT_EQ(::read(a_out[0], got, sizeof got), 4);
  EXPECT_EQ(std::string(got, 4), "pong");
  EXPECT_EQ(::read(b_out[0], got, sizeof got), 4);
  EXPECT_EQ(std::string(got, 4), "ping");
  for (int fd : {a_in[0], a_out[0], a_out[1], b_in[0], b_out[0], b_out[1]}) ::close(fd);
}

}  // namespace
}  // namespace natpunch
