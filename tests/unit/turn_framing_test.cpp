// ChannelData (RFC 8656 §12.4) and the stream framer (§12.5): every error
// from crafted input, padding over streams, and a stream cut at every byte.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <vector>

#include "stun/message.hpp"
#include "turn/channel_data.hpp"
#include "turn/stream_framer.hpp"

namespace natpunch::turn {
namespace {

using Bytes = std::vector<std::uint8_t>;

struct BadChannelData {
  const char* name;
  Bytes bytes;
  ChannelDataError expected;
};

class ChannelDataErrors : public testing::TestWithParam<BadChannelData> {};

TEST_P(ChannelDataErrors, Rejected) {
  const auto& c = GetParam();
  auto decoded = decode_channel_data(c.bytes);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.error(), c.expected) << to_string(decoded.error());
}

INSTANTIATE_TEST_SUITE_P(
    Inputs, ChannelDataErrors,
    testing::Values(BadChannelData{"empty", {}, ChannelDataError::kTooShort},
                    BadChannelData{"three_bytes", {0x40, 0x00, 0x00}, ChannelDataError::kTooShort},
                    BadChannelData{"stun_bits", {0x00, 0x01, 0x00, 0x00}, ChannelDataError::kNotChannelData},
                    BadChannelData{"reserved_range", {0x50, 0x00, 0x00, 0x00}, ChannelDataError::kBadChannelNumber},
                    BadChannelData{"truncated", {0x40, 0x00, 0x00, 0x05, 1, 2, 3, 4}, ChannelDataError::kTruncated},
                    BadChannelData{"too_much_after", {0x40, 0x00, 0x00, 0x01, 1, 0, 0, 0, 0}, ChannelDataError::kTrailingBytes}),
    [](const testing::TestParamInfo<BadChannelData>& info) { return info.param.name; });

TEST(ChannelData, RoundTripPaddedAndUnpadded) {
  const Bytes payload = {1, 2, 3, 4, 5};
  for (const bool pad : {false, true}) {
    Bytes wire;
    ASSERT_TRUE(append_channel_data(0x4abc, payload, pad, wire));
    EXPECT_EQ(wire.size(), pad ? 12u : 9u);
    EXPECT_TRUE(looks_like_channel_data(wire));
    auto decoded = decode_channel_data(wire);
    ASSERT_TRUE(decoded.ok()) << to_string(decoded.error());
    EXPECT_EQ(decoded->channel, 0x4abc);
    EXPECT_EQ(Bytes(decoded->payload.begin(), decoded->payload.end()), payload);
  }
}

TEST(ChannelData, EmptyPayloadAndLimits) {
  Bytes wire;
  ASSERT_TRUE(append_channel_data(kMaxChannel, {}, true, wire));
  EXPECT_EQ(wire.size(), 4u);
  ASSERT_TRUE(decode_channel_data(wire).ok());
  Bytes too_big(0x10000, 0);
  Bytes out;
  EXPECT_FALSE(append_channel_data(kMinChannel, too_big, false, out));
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(is_valid_channel(0x3FFF));
  EXPECT_FALSE(is_valid_channel(0x5000));
}

Bytes stun_message(std::uint8_t marker, std::size_t body) {
  Bytes buffer(20 + body + 8);
  stun::MessageBuilder b(buffer, stun::Method::Refresh, stun::MessageClass::SuccessResponse,
                         stun::TransactionId{marker});
  b.add_padding(body);
  buffer.resize(b.size());
  return buffer;
}

// Two STUN messages and two padded ChannelData messages back to back.
Bytes sample_stream() {
  Bytes stream = stun_message(1, 8);
  append_channel_data(0x4000, Bytes{9, 8, 7}, true, stream);
  const Bytes second = stun_message(2, 0);
  stream.insert(stream.end(), second.begin(), second.end());
  append_channel_data(0x4001, Bytes(6, 5), true, stream);
  return stream;
}

std::vector<Bytes> frames_of(StreamFramer& framer) {
  std::vector<Bytes> out;
  while (auto frame = framer.next()) out.emplace_back(frame->bytes.begin(), frame->bytes.end());
  return out;
}

TEST(StreamFramer, CutsMessagesAtEverySplitPoint) {
  const Bytes stream = sample_stream();
  StreamFramer whole;
  whole.push(stream);
  const auto expected = frames_of(whole);
  ASSERT_EQ(expected.size(), 4u);
  EXPECT_EQ(expected[1], (Bytes{0x40, 0x00, 0x00, 0x03, 9, 8, 7}));  // padding stripped
  EXPECT_EQ(whole.buffered(), 0u);

  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    StreamFramer framer;
    framer.push(std::span(stream).first(cut));
    auto frames = frames_of(framer);
    framer.push(std::span(stream).subspan(cut));
    for (auto& f : frames_of(framer)) frames.push_back(std::move(f));
    EXPECT_EQ(frames, expected) << "cut at " << cut;
  }
  // And one byte at a time.
  StreamFramer trickle;
  std::vector<Bytes> frames;
  for (const std::uint8_t byte : stream) {
    trickle.push(std::span(&byte, 1));
    for (auto& f : frames_of(trickle)) frames.push_back(std::move(f));
  }
  EXPECT_EQ(frames, expected);
  EXPECT_FALSE(trickle.error());
}

TEST(StreamFramer, FrameKinds) {
  StreamFramer framer;
  framer.push(sample_stream());
  std::vector<FrameKind> kinds;
  while (auto frame = framer.next()) kinds.push_back(frame->kind);
  EXPECT_EQ(kinds, (std::vector<FrameKind>{FrameKind::kStun, FrameKind::kChannelData, FrameKind::kStun,
                                           FrameKind::kChannelData}));
}

struct BrokenStream {
  const char* name;
  Bytes bytes;
  FramingError expected;
  std::uint8_t offending;
};

class StreamFramerErrors : public testing::TestWithParam<BrokenStream> {};

TEST_P(StreamFramerErrors, StopsForGood) {
  const auto& c = GetParam();
  StreamFramer framer;
  framer.push(c.bytes);
  EXPECT_FALSE(framer.next());
  ASSERT_TRUE(framer.error());
  EXPECT_EQ(*framer.error(), c.expected) << to_string(*framer.error());
  EXPECT_EQ(framer.offending_byte(), c.offending);
  framer.push(sample_stream());  // nothing after a broken frame can be trusted
  EXPECT_FALSE(framer.next());
}

INSTANTIATE_TEST_SUITE_P(
    Inputs, StreamFramerErrors,
    testing::Values(BrokenStream{"ssh", {'S', 'S', 'H', '-', '2', '.', '0'}, FramingError::kBadChannelNumber, 'S'},
                    BrokenStream{"reserved_channel", {0x50, 0x00, 0x00, 0x00}, FramingError::kBadChannelNumber, 0x50},
                    BrokenStream{"bits_11", {0xC0, 0, 0, 0}, FramingError::kNotTurn, 0xC0},
                    BrokenStream{"stun_odd_length", Bytes{0x01, 0x01, 0x00, 0x05, 0x21, 0x12, 0xa4, 0x42, 0, 0, 0, 0,
                                                          0,    0,    0,    0,    0,    0,    0,    0},
                                 FramingError::kBadStunLength, 0x01}),
    [](const testing::TestParamInfo<BrokenStream>& info) { return info.param.name; });

TEST(StreamFramer, IncompleteFrameWaits) {
  StreamFramer framer;
  const Bytes message = stun_message(3, 40);
  framer.push(std::span(message).first(message.size() - 1));
  EXPECT_FALSE(framer.next());
  EXPECT_FALSE(framer.error());
  EXPECT_EQ(framer.buffered(), message.size() - 1);
  framer.push(std::span(message).last(1));
  auto frame = framer.next();
  ASSERT_TRUE(frame);
  EXPECT_EQ(frame->bytes.size(), message.size());
}

}  // namespace
}  // namespace natpunch::turn
