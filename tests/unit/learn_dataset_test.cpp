// Data set loading, the train/test split and the partition across peers.
#include <gtest/gtest.h>
#include <zlib.h>

#include <set>
#include <string>

#include "io/dataset_file.hpp"
#include "learn/dataset.hpp"
#include "learn/partition.hpp"

namespace natpunch::learn {
namespace {

struct BadCsvCase {
  const char* name;
  const char* text;
  DatasetErrorKind kind;
  std::size_t line;
};

class BadCsv : public ::testing::TestWithParam<BadCsvCase> {};

TEST_P(BadCsv, NamesTheProblemAndTheLine) {
  const auto& c = GetParam();
  auto parsed = parse_labelled_csv(c.text);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().kind, c.kind) << describe(parsed.error());
  EXPECT_EQ(parsed.error().line, c.line);
  EXPECT_FALSE(describe(parsed.error()).empty());
}

INSTANTIATE_TEST_SUITE_P(
    Learn, BadCsv,
    ::testing::Values(BadCsvCase{"empty", "", DatasetErrorKind::Empty, 0},
                      BadCsvCase{"blank_lines", "\n\n  \n", DatasetErrorKind::Empty, 0},
                      BadCsvCase{"not_a_number", "1,2,3\n1,x,3\n", DatasetErrorKind::BadNumber, 2},
                      BadCsvCase{"empty_field", "1,,3\n", DatasetErrorKind::BadNumber, 1},
                      BadCsvCase{"short_row", "1,2,3\n1,2\n", DatasetErrorKind::WrongColumns, 2},
                      BadCsvCase{"only_a_label", "7\n", DatasetErrorKind::WrongColumns, 1},
                      BadCsvCase{"fractional_label", "1,2,3.5\n", DatasetErrorKind::BadLabel, 1},
                      BadCsvCase{"negative_label", "1,2,-1\n", DatasetErrorKind::BadLabel, 1},
                      BadCsvCase{"pixel_too_big", "1,17,3\n", DatasetErrorKind::OutOfRange, 1},
                      BadCsvCase{"pixel_negative", "0,0,1\n-1,0,1\n", DatasetErrorKind::OutOfRange, 2},
                      BadCsvCase{"nan", "nan,0,1\n", DatasetErrorKind::BadNumber, 1}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(LearnDataset, ParsesAndScalesFeatures) {
  auto parsed = parse_labelled_csv("0,16,1\r\n8, 4 ,0\n\n");
  ASSERT_TRUE(parsed.ok()) << describe(parsed.error());
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ(parsed->feature_count(), 2);
  EXPECT_EQ(parsed->classes, 2);
  EXPECT_FLOAT_EQ(parsed->features(0, 1), 1.0f);
  EXPECT_FLOAT_EQ(parsed->features(1, 0), 0.5f);
  EXPECT_FLOAT_EQ(parsed->features(1, 1), 0.25f);
  EXPECT_EQ(parsed->labels, (std::vector<std::uint8_t>{1, 0}));
}

TEST(LearnDataset, GunzipRejectsGarbageAndTruncation) {
  const std::string text = "1,2,3\n4,5,6\n";
  std::vector<std::uint8_t> packed(compressBound(text.size()));
  uLongf packed_size = packed.size();
  ASSERT_EQ(compress2(packed.data(), &packed_size, reinterpret_cast<const Bytef*>(text.data()), text.size(), 9), Z_OK);
  packed.resize(packed_size);
  auto ok = gunzip(packed);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, text);

  auto truncated = gunzip(std::span(packed).first(packed.size() - 3));
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.error().kind, DatasetErrorKind::NotGzip);
  const std::vector<std::uint8_t> garbage{0x1f, 0x8b, 1, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_FALSE(gunzip(garbage).ok());
  auto too_big = gunzip(packed, 4);
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.error().kind, DatasetErrorKind::TooLarge);
}

TEST(LearnDataset, MissingFileSaysWhatToInstall) {
  auto loaded = io::load_dataset_file("/nonexistent/digits.csv.gz");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().kind, DatasetErrorKind::Unreadable);
  EXPECT_NE(describe(loaded.error()).find("python3-sklearn"), std::string::npos);
}

TEST(LearnDataset, LoadsScikitLearnDigits) {
  auto digits = io::load_dataset_file(io::kDigitsCsvPath);
  ASSERT_TRUE(digits.ok()) << describe(digits.error());
  EXPECT_EQ(digits->size(), 1797u);
  EXPECT_EQ(digits->feature_count(), 64);
  EXPECT_EQ(digits->classes, 10);
  EXPECT_GE(digits->features.minCoeff(), 0.0f);
  EXPECT_LE(digits->features.maxCoeff(), 1.0f);
}

Dataset toy(std::size_t per_class, int classes) {
  std::string text;
  for (int c = 0; c < classes; ++c)
    for (std::size_t i = 0; i < per_class; ++i) text += std::to_string(i % 17) + "," + std::to_string(c) + "\n";
  return parse_labelled_csv(text).value();
}

TEST(LearnPartition, SplitIsStratifiedAndReproducible) {
  const Dataset all = toy(50, 4);
  Rng a(7), b(7);
  auto first = split_train_test(all, 0.2, a);
  auto second = split_train_test(all, 0.2, b);
  EXPECT_EQ(first.test.size(), 40u);
  EXPECT_EQ(first.train.size(), 160u);
  EXPECT_EQ(first.train.labels, second.train.labels);
  EXPECT_EQ(first.test.features, second.test.features);
  std::vector<int> per_class(4, 0);
  for (auto label : first.test.labels) ++per_class[label];
  for (int count : per_class) EXPECT_EQ(count, 10);
}

TEST(LearnPartition, EveryRowGoesToExactlyOnePeer) {
  const Dataset train = toy(30, 5);
  for (auto kind : {PartitionKind::Iid, PartitionKind::ByLabel}) {
    Rng rng(3);
    const auto shares = partition(train, 4, kind, rng);
    ASSERT_EQ(shares.size(), 4u);
    std::multiset<std::size_t> seen;
    for (const auto& share : shares) {
      EXPECT_NEAR(double(share.size()), 150.0 / 4, 1.5) << to_string(kind);
      seen.insert(share.begin(), share.end());
    }
    EXPECT_EQ(seen.size(), train.size());
    EXPECT_EQ(std::set<std::size_t>(seen.begin(), seen.end()).size(), train.size()) << to_string(kind);
  }
}

TEST(LearnPartition, ByLabelGivesEachPeerFewClasses) {
  const Dataset train = toy(40, 8);
  Rng iid_rng(5), label_rng(5);
  const auto iid = partition(train, 4, PartitionKind::Iid, iid_rng);
  const auto by_label = partition(train, 4, PartitionKind::ByLabel, label_rng);
  for (std::size_t p = 0; p < 4; ++p) {
    std::set<int> iid_classes, label_classes;
    for (auto row : iid[p]) iid_classes.insert(train.labels[row]);
    for (auto row : by_label[p]) label_classes.insert(train.labels[row]);
    EXPECT_EQ(iid_classes.size(), 8u);
    EXPECT_LE(label_classes.size(), 4u);  // two shards of one class each, or straddling two
  }
}

}  // namespace
}  // namespace natpunch::learn
