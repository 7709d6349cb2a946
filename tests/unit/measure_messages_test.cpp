// The measurement wire format: round trips, the size rule (no reply larger
// than any request), and one distinct error per kind of malformed input.
#include <gtest/gtest.h>

#include "wire/measure_messages.hpp"

namespace natpunch::wire {
namespace {

template <class T, std::size_t N>
T round_trip(const T& message, const std::array<std::uint8_t, N>& bytes) {
  auto decoded = decode_measure(bytes);
  EXPECT_TRUE(decoded.ok());
  if (!decoded) return T{};
  EXPECT_TRUE(std::holds_alternative<T>(*decoded));
  if (!std::holds_alternative<T>(*decoded)) return T{};
  EXPECT_EQ(std::get<T>(*decoded), message);
  return std::get<T>(*decoded);
}

TEST(MeasureMessages, EveryKindRoundTrips) {
  round_trip(ReflectRequest{7}, encode(ReflectRequest{7}));
  round_trip(DelayedReflectRequest{8, 119'750}, encode(DelayedReflectRequest{8, 119'750}));
  round_trip(ScheduleProbeRequest{9, 5000, true}, encode(ScheduleProbeRequest{9, 5000, true}));
  Uuid uuid{};
  for (std::size_t i = 0; i < uuid.size(); ++i) uuid[i] = static_cast<std::uint8_t>(i * 17);
  round_trip(CollectPacket{10, uuid, 1'732'540'800'123ULL}, encode(CollectPacket{10, uuid, 1'732'540'800'123ULL}));
  round_trip(Reflection{11, MeasureKind::DelayedReflect, *Endpoint::parse("198.51.100.1:40123"), 40001},
             encode(Reflection{11, MeasureKind::DelayedReflect, *Endpoint::parse("198.51.100.1:40123"), 40001}));
  round_trip(Reflection{12, MeasureKind::Reflect, *Endpoint::parse("[2001:db8::7]:9"), 3479},
             encode(Reflection{12, MeasureKind::Reflect, *Endpoint::parse("[2001:db8::7]:9"), 3479}));
  round_trip(SizeReport{13, 65507}, encode(SizeReport{13, 65507}));
  auto echo = encode(SizeEchoRequest{14, 1472});
  ASSERT_EQ(echo.size(), 1472u);
  auto decoded = decode_measure(echo);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(std::get<SizeEchoRequest>(*decoded), (SizeEchoRequest{14, 1472}));
}

TEST(MeasureMessages, NoReplyIsLargerThanTheSmallestRequest) {
  EXPECT_LE(kReflectionSize, kRequestSize);
  EXPECT_LE(kSizeReportSize, kRequestSize);
  EXPECT_EQ(encode(SizeEchoRequest{1, 3}).size(), kRequestSize);  // clamped up
  EXPECT_EQ(encode(SizeEchoRequest{1, 100000}).size(), kMaxDatagram);
}

TEST(MeasureMessages, UuidTextIsCanonical) {
  Uuid uuid{};
  for (std::size_t i = 0; i < uuid.size(); ++i) uuid[i] = static_cast<std::uint8_t>(0xa0 + i);
  EXPECT_EQ(uuid_text(uuid), "a0a1a2a3-a4a5-a6a7-a8a9-aaabacadaeaf");
}

struct BadBytes {
  const char* name;
  std::vector<std::uint8_t> bytes;
  MeasureDecodeError error;
};

std::vector<std::uint8_t> valid_reflect() {
  auto b = encode(ReflectRequest{1});
  return {b.begin(), b.end()};
}
std::vector<std::uint8_t> with(std::vector<std::uint8_t> b, std::size_t index, std::uint8_t value) {
  b.at(index) = value;
  return b;
}
std::vector<std::uint8_t> delayed(std::uint32_t ms) {
  auto b = encode(DelayedReflectRequest{1, 0});
  b[8] = static_cast<std::uint8_t>(ms >> 24);
  b[9] = static_cast<std::uint8_t>(ms >> 16);
  b[10] = static_cast<std::uint8_t>(ms >> 8);
  b[11] = static_cast<std::uint8_t>(ms);
  return {b.begin(), b.end()};
}
std::vector<std::uint8_t> reflection(std::uint8_t family, std::uint8_t answered) {
  auto b = encode(Reflection{1, MeasureKind::Reflect, *Endpoint::parse("198.51.100.1:1"), 1});
  b[8] = answered;
  b[9] = family;
  return {b.begin(), b.end()};
}

class MeasureDecodeRejects : public testing::TestWithParam<BadBytes> {};

TEST_P(MeasureDecodeRejects, WithItsOwnError) {
  auto decoded = decode_measure(GetParam().bytes);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.error(), GetParam().error) << to_string(decoded.error());
}

using E = MeasureDecodeError;
INSTANTIATE_TEST_SUITE_P(
    Table, MeasureDecodeRejects,
    testing::Values(BadBytes{"empty", {}, E::TooShort}, BadBytes{"seven", {'N', 'M', 1, 1, 0, 0, 0}, E::TooShort},
                    BadBytes{"stun", with(valid_reflect(), 0, 0x00), E::BadMagic},
                    BadBytes{"probe_magic", with(valid_reflect(), 1, 'P'), E::BadMagic},
                    BadBytes{"version", with(valid_reflect(), 2, 2), E::BadVersion},
                    BadBytes{"kind0", with(valid_reflect(), 3, 0), E::UnknownKind},
                    BadBytes{"kind99", with(valid_reflect(), 3, 99), E::UnknownKind},
                    BadBytes{"short_reflect", [] {
                               auto b = valid_reflect();
                               b.resize(20);
                               return b;
                             }(), E::BadLength},
                    BadBytes{"padding", with(valid_reflect(), 31, 1), E::NonZeroReserved},
                    BadBytes{"delay", delayed(kMaxDelayMs + 1), E::DelayOutOfRange},
                    BadBytes{"flags", with([] {
                               auto b = encode(ScheduleProbeRequest{1, 1, false});
                               return std::vector<std::uint8_t>(b.begin(), b.end());
                             }(), 12, 2),
                             E::UnknownFlags},
                    BadBytes{"family", reflection(5, 1), E::BadFamily},
                    BadBytes{"answered", reflection(4, 4), E::BadAnsweredKind},
                    BadBytes{"echo_short", [] {
                               auto b = encode(SizeEchoRequest{1, 32});
                               b.pop_back();
                               return b;
                             }(), E::BadLength}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace natpunch::wire
