// Replaying a port sequence through choosers (punch/prediction_replay):
// ranks become hit curves, the first mapping of each run is not predicted,
// and the profile's chooser uses the last port seen.
#include "punch/prediction_replay.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace natpunch::punch {
namespace {

// Proposes last + 1, last + 2, ...: the k-th proposal hits a step of +k.
class StepChooser final : public PortChooser {
 public:
  explicit StepChooser(std::uint16_t last) : next_(last + 1) {}
  std::optional<std::uint16_t> next(Rng&) override { return static_cast<std::uint16_t>(next_++); }

 private:
  std::uint32_t next_;
};

TEST(PredictionReplay, RanksBecomeCumulativeHitCurves) {
  const std::vector<std::vector<std::uint16_t>> runs{{1000, 1001, 1003, 1006, 5000}, {2000, 2001}};
  const std::vector<ReplayChooser> choosers{
      {"steps", [](std::span<const std::uint16_t> h) { return std::make_unique<StepChooser>(h.back()); }}};
  const auto curves = replay_predictions(runs, choosers, 8, 1);
  ASSERT_EQ(curves.size(), 1u);
  const auto& c = curves[0];
  EXPECT_EQ(c.name, "steps");
  EXPECT_EQ(c.predictions, 5u);  // 4 in the first run, 1 in the second
  // Steps +1, +2, +3, (miss), +1: two hits at rank 1, one at 2, one at 3.
  EXPECT_EQ(c.hits[0], 2u);
  EXPECT_EQ(c.hits[1], 3u);
  EXPECT_EQ(c.hits[2], 4u);
  EXPECT_EQ(c.hits[7], 4u);
  EXPECT_DOUBLE_EQ(c.hit_rate(3), 0.8);
  EXPECT_DOUBLE_EQ(c.hit_rate(100), 0.8);  // beyond the curve: its end
}

TEST(PredictionReplay, ProfileChooserPredictsABlockFromTheLastPort) {
  // In-order 256-port blocks: each next port is the last + 1.
  std::vector<std::uint16_t> run;
  for (std::uint16_t p = 43520; p < 43776; ++p) run.push_back(p);
  const std::vector<std::vector<std::uint16_t>> runs{run};
  std::vector<ReplayChooser> choosers{profile_chooser(nat::BlockSpec{})};
  for (auto& plain : plain_choosers(nat::BlockSpec{})) choosers.push_back(std::move(plain));
  const auto curves = replay_predictions(runs, choosers, 64, 7);
  EXPECT_DOUBLE_EQ(curves[0].hit_rate(1), 1.0);
  ASSERT_EQ(curves.size(), 3u);  // uniform and block starts: a block has no Beta law
  EXPECT_EQ(curves[1].name, "uniform");
  EXPECT_EQ(curves[2].name, "block-starts");
  EXPECT_LT(curves[1].hit_rate(64), 0.05);
  // The same seed, the same figures, whatever the threads.
  EXPECT_EQ(replay_predictions(runs, choosers, 64, 7)[1].hits, curves[1].hits);
}

}  // namespace
}  // namespace natpunch::punch
