// What a peer knows of its own NAT: the JSON it prints and caches
// (nat/nat_knowledge_json.*), the cache (io/nat_knowledge_cache.*: in the
// process, on disk, expiry, files that are input), and how a carrier
// profile refines a measurement into what the peer is told
// (rendezvous/nat_info_probe.*).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "io/nat_knowledge_cache.hpp"
#include "io/profile_files.hpp"
#include "nat/allocator_spec_text.hpp"
#include "nat/nat_knowledge_json.hpp"
#include "rendezvous/nat_info_probe.hpp"
#include "rendezvous/nat_info_profile.hpp"

namespace natpunch {
namespace {

using A = nat::AllocatorClass;
using M = nat::MappingBehavior;
using F = nat::FilteringBehavior;

nat::NatKnowledge kpn_like() {
  nat::NatKnowledge k;
  k.mapping = M::AddressAndPortDependent;
  k.filtering = F::AddressAndPortDependent;
  k.hairpinning = nat::Hairpinning::No;
  k.allocator.kind = A::InOrder;
  k.allocator.spec = nat::SequentialSpec{};
  k.allocator.mappings = 11;
  k.allocator.lowest = 20480;
  k.allocator.highest = 20490;
  k.allocator.why = "10 of 10 steps went up";
  k.mapped = Endpoint{IpAddress::v4({203, 0, 113, 101}), 20480};
  k.server = Endpoint{IpAddress::v4({203, 0, 113, 10}), 7000};
  k.took = milliseconds(212);
  k.note = "all tests ran against 203.0.113.10:7000";
  return k;
}

TEST(NatKnowledgeJson, RoundTrips) {
  auto k = kpn_like();
  EXPECT_EQ(nat::nat_knowledge_from_json(nat::to_json(k)), k);
  k.no_answer = true;
  k.mapped.reset();
  k.server.reset();
  k.allocator = {};
  k.mapping = M::Unknown;
  k.filtering = F::Unknown;
  EXPECT_EQ(nat::nat_knowledge_from_json(nat::to_json(k)), k);
  for (const nat::AllocatorSpec& spec : {nat::AllocatorSpec{nat::BlockSpec{256}}, nat::AllocatorSpec{nat::UniformSpec{3850, 17350}},
                                        nat::AllocatorSpec{nat::RandomFullySpec{}}, nat::AllocatorSpec{nat::PreservingSpec{}},
                                        nat::AllocatorSpec{nat::BetaSpec{}}}) {
    k = kpn_like();
    k.allocator.spec = spec;
    EXPECT_EQ(nat::nat_knowledge_from_json(nat::to_json(k)), k) << nat::format_allocator_spec(spec);
  }
}

TEST(NatKnowledgeJson, RefusesWhatIsNotKnowledge) {
  const std::string good = nat::to_json(kpn_like());
  const auto replaced = [&good](const std::string& from, const std::string& to) {
    std::string s = good;
    const auto at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) s.replace(at, from.size(), to);
    return s;
  };
  for (const std::string& bad : {
           std::string(""), std::string("[]"), std::string("{}"), std::string("null"), good.substr(0, good.size() / 2),
           replaced("\"address-and-port-dependent\"", "\"sideways\""),
           replaced("\"no_answer\":false", "\"no_answer\":0"),
           replaced("\"told\":\"sequential\"", "\"told\":\"uniform:0-5\""),      // fails validate()
           replaced("\"told\":\"sequential\"", "\"told\":\"zigzag\""),
           replaced("\"told\":\"sequential\"", "\"told\":7"),
           replaced("\"class\":\"in-order\"", "\"class\":\"in-orbit\""),
           replaced("\"lowest\":20480", "\"lowest\":70000"),
           replaced("\"lowest\":20480", "\"lowest\":-1"),
           replaced("\"mapped\":\"203.0.113.101:20480\"", "\"mapped\":\"203.0.113.101\""),
           replaced("\"took_ms\":212.0", "\"took_ms\":-3"),
           replaced("\"hairpinning\":\"no\"", "\"hairpinning\":\"maybe\""),
       })
    EXPECT_FALSE(nat::nat_knowledge_from_json(bad)) << bad;
}

// --- the cache -------------------------------------------------------------

class NatCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    io::forget_process_nat_knowledge();
    dir = std::filesystem::temp_directory_path() /
          ("natpunch-nat-cache-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir);
    policy.file = dir / "sub" / "nat-knowledge.json";
    policy.ttl = std::chrono::seconds(600);
  }
  void TearDown() override {
    io::forget_process_nat_knowledge();
    std::filesystem::remove_all(dir);
  }
  std::filesystem::path dir;
  io::NatCachePolicy policy;
  const IpAddress a = IpAddress::v4({100, 64, 1, 2});
  const IpAddress b = IpAddress::v4({100, 64, 2, 2});
  const io::WallClock::time_point t0 = io::WallClock::time_point(std::chrono::seconds(1'700'000'000));
};

TEST_F(NatCacheTest, RemembersPerLocalAddressInProcessAndOnDisk) {
  EXPECT_FALSE(io::find_nat_knowledge(a, policy, t0));
  EXPECT_FALSE(io::remember_nat_knowledge(a, kpn_like(), policy, t0));
  auto found = io::find_nat_knowledge(a, policy, t0 + std::chrono::seconds(5));
  ASSERT_TRUE(found);
  EXPECT_EQ(found->knowledge, kpn_like());
  EXPECT_FALSE(io::find_nat_knowledge(b, policy, t0));
  // The file alone (a new process) knows it too, and only its owner may read it.
  io::forget_process_nat_knowledge();
  found = io::find_nat_knowledge(a, policy, t0 + std::chrono::seconds(5));
  ASSERT_TRUE(found);
  EXPECT_EQ(found->knowledge, kpn_like());
  EXPECT_EQ(found->stored, t0);
  struct stat st {};
  ASSERT_EQ(::stat(policy.file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // Without a file only the process remembers.
  io::forget_process_nat_knowledge();
  io::NatCachePolicy memory_only = policy;
  memory_only.file.clear();
  EXPECT_FALSE(io::remember_nat_knowledge(b, kpn_like(), memory_only, t0));
  EXPECT_TRUE(io::find_nat_knowledge(b, memory_only, t0));
  io::forget_process_nat_knowledge();
  EXPECT_FALSE(io::find_nat_knowledge(b, policy, t0));  // it never reached the file
}

TEST_F(NatCacheTest, OldKnowledgeIsNotBelieved) {
  io::remember_nat_knowledge(a, kpn_like(), policy, t0);
  EXPECT_TRUE(io::find_nat_knowledge(a, policy, t0 + policy.ttl));
  EXPECT_FALSE(io::find_nat_knowledge(a, policy, t0 + policy.ttl + std::chrono::seconds(1)));
  // Nor knowledge from the future (a clock stepped back a lot).
  EXPECT_FALSE(io::find_nat_knowledge(a, policy, t0 - std::chrono::hours(1)));
}

TEST_F(NatCacheTest, AnUpdateKeepsOtherAddressesAndDropsExpiredOnes) {
  io::remember_nat_knowledge(a, kpn_like(), policy, t0);
  io::remember_nat_knowledge(b, kpn_like(), policy, t0 + std::chrono::seconds(500));
  auto changed = kpn_like();
  changed.mapping = M::EndpointIndependent;
  io::remember_nat_knowledge(b, changed, policy, t0 + std::chrono::seconds(700));  // a's entry has expired
  std::ifstream in(policy.file);
  std::stringstream text;
  text << in.rdbuf();
  const auto entries = io::parse_nat_cache(text.str());
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].local, b);
  EXPECT_EQ(entries[0].knowledge.mapping, M::EndpointIndependent);
}

TEST_F(NatCacheTest, ABrokenFileIsIgnoredAndReplaced) {
  std::filesystem::create_directories(policy.file.parent_path());
  for (const std::string& junk : {std::string("not json"), std::string("{\"version\":2,\"entries\":[]}"),
                                  std::string("{\"version\":1,\"entries\":{}}"), std::string("\xff\xfe")}) {
    std::ofstream(policy.file) << junk;
    io::forget_process_nat_knowledge();
    EXPECT_FALSE(io::find_nat_knowledge(a, policy, t0)) << junk;
    EXPECT_FALSE(io::remember_nat_knowledge(a, kpn_like(), policy, t0)) << junk;
    io::forget_process_nat_knowledge();
    EXPECT_TRUE(io::find_nat_knowledge(a, policy, t0)) << junk;
  }
}

TEST(NatCacheFormat, RoundTripsAndSkipsBadEntries) {
  const IpAddress a = IpAddress::v4({100, 64, 1, 2});
  const std::vector<io::NatCacheEntry> entries{
      {a, io::WallClock::time_point(std::chrono::milliseconds(1'700'000'000'123)), kpn_like()},
      {IpAddress::parse("2001:db8::2").value(), io::WallClock::time_point(std::chrono::seconds(5)), nat::NatKnowledge{}}};
  const std::string text = io::format_nat_cache(entries);
  const auto back = io::parse_nat_cache(text);
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].local, a);
  EXPECT_EQ(back[0].stored, entries[0].stored);
  EXPECT_EQ(back[0].knowledge, kpn_like());
  EXPECT_EQ(back[1].local, entries[1].local);

  std::string broken = text;
  broken.replace(broken.find("100.64.1.2"), 10, "100.64.1.x");
  EXPECT_EQ(io::parse_nat_cache(broken).size(), 1u);

  // A time past the clock's end (2262) would overflow it
  // (fuzz_nat_knowledge found 17,961,544,000,000 ms): the entry is skipped.
  std::string far = text;
  far.replace(far.find("1700000000123"), 13, "17961544000000");
  const auto kept = io::parse_nat_cache(far);
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].local, entries[1].local);
}

// The fuzz target's seeds (tests/fuzz/corpus/nat_knowledge) are what the
// formats accept, so the fuzzer starts from inputs that go deep.
TEST(NatKnowledgeJson, FuzzSeedsAreAccepted) {
  const std::string dir = std::string(NATPUNCH_PROFILES_DIR) + "/../tests/fuzz/corpus/nat_knowledge/";
  const auto read = [&](const char* name) {
    std::ifstream in(dir + name);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  };
  const auto k = nat::nat_knowledge_from_json(read("symmetric_random.json"));
  ASSERT_TRUE(k);
  EXPECT_EQ(k->allocator.kind, A::Random);
  const auto entries = io::parse_nat_cache(read("cache_two_entries.json"));
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].knowledge.allocator.kind, A::Clustered);
  EXPECT_EQ(entries[1].knowledge.mapping, M::None);
}

// --- refining a measurement with a carrier profile -------------------------

nat::Profile profile(const std::string& name) {
  auto p = io::load_profile_by_name(name, {NATPUNCH_PROFILES_DIR});
  EXPECT_TRUE(p) << name;
  return p ? *p : nat::Profile{};
}

TEST(RefineWithProfile, AProfileAddsWhatAProbeCannotLearn) {
  const auto measured = kpn_like();
  rendezvous::NatInfo info;
  rendezvous::apply_knowledge(measured, info);
  EXPECT_EQ(info.allocator, nat::AllocatorSpec{nat::SequentialSpec{}});
  std::vector<std::string> disagreements;
  EXPECT_FALSE(rendezvous::refine_with_profile(profile("kpn-nl"), measured, info, disagreements));
  EXPECT_TRUE(disagreements.empty());
  EXPECT_EQ(info.mapping, M::AddressAndPortDependent);
  EXPECT_EQ(info.allocator, nat::AllocatorSpec{nat::BlockSpec{256}});  // in order, refined: blocks of 256
  EXPECT_EQ(info.carrier_profile, "kpn-nl");
  EXPECT_EQ(info.pending_timeout_ms, 120'000u);
  EXPECT_EQ(info.idle_timeout_ms, 239'000u);
}

TEST(RefineWithProfile, AMeasurementIsNeverOverridden) {
  auto measured = kpn_like();
  measured.mapping = M::EndpointIndependent;
  measured.filtering = F::AddressDependent;
  measured.allocator.kind = A::Random;
  measured.allocator.spec = nat::RandomFullySpec{};
  rendezvous::NatInfo info;
  rendezvous::apply_knowledge(measured, info);
  std::vector<std::string> disagreements;
  EXPECT_FALSE(rendezvous::refine_with_profile(profile("kpn-nl"), measured, info, disagreements));
  EXPECT_EQ(info.mapping, M::EndpointIndependent);
  EXPECT_EQ(info.filtering, F::AddressDependent);
  EXPECT_EQ(info.allocator, nat::AllocatorSpec{nat::RandomFullySpec{}});
  ASSERT_EQ(disagreements.size(), 3u);
  EXPECT_NE(disagreements[0].find("profile kpn-nl says address-and-port-dependent mapping, measured "
                                  "endpoint-independent"),
            std::string::npos)
      << disagreements[0];
  EXPECT_NE(disagreements[2].find("block:256"), std::string::npos) << disagreements[2];
  // Timeouts and the carrier still come from the profile.
  EXPECT_EQ(info.carrier_profile, "kpn-nl");
  EXPECT_EQ(info.idle_timeout_ms, 239'000u);
}

TEST(RefineWithProfile, WithoutAnAnswerTheProfileIsAllThereIs) {
  nat::NatKnowledge nothing;
  nothing.no_answer = true;
  rendezvous::NatInfo info;
  rendezvous::apply_knowledge(nothing, info);
  EXPECT_EQ(info, rendezvous::NatInfo{});
  std::vector<std::string> disagreements;
  EXPECT_FALSE(rendezvous::refine_with_profile(profile("vodafone-nl"), nothing, info, disagreements));
  EXPECT_TRUE(disagreements.empty());
  rendezvous::NatInfo from_profile;
  rendezvous::apply_profile(profile("vodafone-nl"), from_profile);
  EXPECT_EQ(info, from_profile);
}

TEST(RefineWithProfile, ARandomOrderWindowRefinesAClusteredSample) {
  // Vodafone NL's 32-port windows held 61 s: a probe sees a dozen ports within one window.
  auto measured = kpn_like();
  measured.mapping = M::AddressAndPortDependent;
  measured.allocator.kind = A::Clustered;
  measured.allocator.spec = nat::UniformSpec{5025, 5068};
  rendezvous::NatInfo info;
  rendezvous::apply_knowledge(measured, info);
  std::vector<std::string> disagreements;
  EXPECT_FALSE(rendezvous::refine_with_profile(profile("vodafone-nl"), measured, info, disagreements));
  rendezvous::NatInfo from_profile;
  rendezvous::apply_profile(profile("vodafone-nl"), from_profile);
  ASSERT_TRUE(from_profile.allocator);
  EXPECT_EQ(nat::sample_class(*from_profile.allocator), A::Clustered);
  EXPECT_EQ(info.allocator, from_profile.allocator);
}

// --- what a peer tells about itself: measured, profile, explicit flags -------

TEST(OwnNatInfo, TheMeasurementIsToldWhenNothingIsStated) {
  std::vector<std::string> notes;
  const auto info = rendezvous::own_nat_info(kpn_like(), {}, notes);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->mapping, M::AddressAndPortDependent);
  EXPECT_EQ(info->filtering, F::AddressAndPortDependent);
  EXPECT_EQ(info->allocator, nat::AllocatorSpec{nat::SequentialSpec{}});
  EXPECT_EQ(info->idle_timeout_ms, 0u);
  EXPECT_TRUE(notes.empty());
}

TEST(OwnNatInfo, ExplicitFlagsWinOverTheMeasurementAndSaySo) {
  rendezvous::StatedNat stated;
  stated.mapping = M::EndpointIndependent;
  stated.idle_timeout_ms = 30'000;
  std::vector<std::string> notes;
  const auto info = rendezvous::own_nat_info(kpn_like(), stated, notes);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->mapping, M::EndpointIndependent);
  EXPECT_EQ(info->filtering, F::AddressAndPortDependent);  // not stated: measured
  EXPECT_EQ(info->idle_timeout_ms, 30'000u);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("--mapping says endpoint-independent, measured address-and-port-dependent"),
            std::string::npos)
      << notes[0];
}

TEST(OwnNatInfo, FlagsAndAProfileWinOverAMeasurementWithStatedTimeoutsOverTheProfiles) {
  const nat::Profile kpn = profile("kpn-nl");
  rendezvous::StatedNat stated;
  stated.profile = &kpn;
  stated.filtering = F::AddressDependent;
  stated.idle_timeout_ms = 100'000;
  std::vector<std::string> notes;
  const auto info = rendezvous::own_nat_info(kpn_like(), stated, notes);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->allocator, nat::AllocatorSpec{nat::BlockSpec{256}});
  EXPECT_EQ(info->filtering, F::AddressDependent);
  EXPECT_EQ(info->pending_timeout_ms, 120'000u);
  EXPECT_EQ(info->idle_timeout_ms, 100'000u);
  EXPECT_EQ(notes.size(), 1u);  // the filtering flag against the measurement
}

TEST(OwnNatInfo, WithoutAMeasurementItIsWhatWasStated) {
  // What connect/listen told before they learned their NAT: flags over the profile.
  const nat::Profile voda = profile("vodafone-nl");
  rendezvous::StatedNat stated;
  stated.profile = &voda;
  stated.mapping = M::EndpointIndependent;
  std::vector<std::string> notes;
  nat::NatKnowledge unanswered;
  unanswered.no_answer = true;
  for (const auto& measured : {std::optional<nat::NatKnowledge>{}, std::optional<nat::NatKnowledge>{unanswered}}) {
    const auto info = rendezvous::own_nat_info(measured, stated, notes);
    ASSERT_TRUE(info);
    rendezvous::NatInfo expected;
    rendezvous::apply_profile(voda, expected);
    expected.mapping = M::EndpointIndependent;
    EXPECT_EQ(*info, expected);
  }
  EXPECT_TRUE(notes.empty());
  std::vector<std::string> none;
  EXPECT_EQ(rendezvous::own_nat_info(std::nullopt, {}, none).value(), rendezvous::NatInfo{});
}

TEST(AllocatorSpecText, FormatsWhatParsesBack) {
  for (const nat::AllocatorSpec& spec :
       {nat::AllocatorSpec{nat::PreservingSpec{}}, nat::AllocatorSpec{nat::SequentialSpec{}},
        nat::AllocatorSpec{nat::RandomFullySpec{}}, nat::AllocatorSpec{nat::UniformSpec{2048, 65535}},
        nat::AllocatorSpec{nat::BlockSpec{64}}, nat::AllocatorSpec{nat::BetaSpec{2.242, 5.008, 4630, 13937}},
        nat::AllocatorSpec{nat::BetaSpec{0.1, 1e-3, 1.5, 3.25}}}) {
    const std::string text = nat::format_allocator_spec(spec);
    EXPECT_EQ(nat::parse_allocator_spec(text), spec) << text;
  }
}

}  // namespace
}  // namespace natpunch
