// Pairing in a real learning run (learn/peer_group.hpp): every process gets
// the same key list, in any order, and must derive the same indices and
// the same connect/listen role for every pair without talking.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "learn/peer_group.hpp"

namespace natpunch::learn {
namespace {

std::string key(char digit) { return std::string(64, digit); }

std::string join(const std::vector<std::string>& keys) {
  std::string out;
  for (const auto& k : keys) out += (out.empty() ? "" : ",") + k;
  return out;
}

TEST(LearnPeerGroup, EveryOrderOfTheListGivesTheSameIndices) {
  std::vector<std::string> keys{key('c'), key('1'), key('f'), key('7')};
  std::vector<std::string> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  std::sort(keys.begin(), keys.end());
  do {
    for (std::size_t me = 0; me < sorted.size(); ++me) {
      auto group = make_peer_group(join(keys), sorted[me]);
      ASSERT_TRUE(group) << group.error();
      EXPECT_EQ(group->self, me);
      EXPECT_EQ(group->keys, sorted);
    }
  } while (std::next_permutation(keys.begin(), keys.end()));
}

TEST(LearnPeerGroup, BothSidesOfEveryPairAgreeWhoConnects) {
  const std::vector<std::string> keys{key('a'), key('3'), key('e'), key('0'), key('9')};
  std::vector<PeerGroup> groups;
  for (const auto& k : keys) groups.push_back(make_peer_group(join(keys), k).value());
  for (std::size_t i = 0; i < groups.size(); ++i)
    for (std::size_t j = 0; j < groups.size(); ++j) {
      if (i == j) continue;
      const auto& gi = groups[i];
      const auto& gj = groups[j];
      const auto role_i = gi.role_towards(gj.self);
      const auto role_j = gj.role_towards(gi.self);
      EXPECT_NE(role_i, role_j) << i << " " << j;
      // The lower key connects.
      EXPECT_EQ(role_i == LinkRole::Connect, gi.keys[gi.self] < gj.keys[gj.self]);
    }
  // Peer 0 (lowest key) calls everyone; the highest is called by everyone.
  const auto lowest = make_peer_group(join(keys), key('0')).value();
  EXPECT_EQ(lowest.callees(), (std::vector<std::size_t>{1, 2, 3, 4}));
  EXPECT_TRUE(lowest.callers().empty());
  const auto highest = make_peer_group(join(keys), key('e')).value();
  EXPECT_EQ(highest.callers(), (std::vector<std::size_t>{0, 1, 2, 3}));
  EXPECT_TRUE(highest.callees().empty());
}

TEST(LearnPeerGroup, KeysAreCaseInsensitiveAndSpacesAroundCommasAreFine) {
  auto group = make_peer_group(" " + key('A') + " , " + key('b'), key('B'));
  ASSERT_TRUE(group) << group.error();
  EXPECT_EQ(group->self, 1u);
  EXPECT_EQ(group->keys[0], key('a'));
}

struct BadList {
  const char* name;
  std::string list;
  std::string own;
  const char* says;
};

class LearnPeerGroupRejects : public ::testing::TestWithParam<BadList> {};

TEST_P(LearnPeerGroupRejects, WithAMessageThatSaysWhy) {
  const auto& c = GetParam();
  auto group = make_peer_group(c.list, c.own, 4);
  ASSERT_FALSE(group) << c.name;
  EXPECT_NE(group.error().find(c.says), std::string::npos) << group.error();
}

INSTANTIATE_TEST_SUITE_P(
    Lists, LearnPeerGroupRejects,
    ::testing::Values(BadList{"empty", "", key('1'), "not a public key"},
                      BadList{"short_key", key('1') + ",abc", key('1'), "not a public key"},
                      BadList{"not_hex", key('1') + "," + std::string(64, 'g'), key('1'), "not a public key"},
                      BadList{"trailing_comma", key('1') + "," + key('2') + ",", key('1'), "not a public key"},
                      BadList{"twice", key('1') + "," + key('2') + "," + key('1'), key('1'), "twice"},
                      BadList{"alone", key('1'), key('1'), "at least 2"},
                      BadList{"too_many", join({key('1'), key('2'), key('3'), key('4'), key('5')}), key('1'), "at most 4"},
                      BadList{"own_missing", key('1') + "," + key('2'), key('3'), "not in the list"}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace natpunch::learn
