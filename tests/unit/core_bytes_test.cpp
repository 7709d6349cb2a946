// The one big-endian reader/writer: in-place loads and stores agree with
// the sequential reader and writer, byte for byte, and reads never pass the end.
#include "core/bytes.hpp"

#include <gtest/gtest.h>

#include <array>
#include <vector>

namespace natpunch {
namespace {

TEST(CoreBytes, StoresAreNetworkOrder) {
  std::array<std::uint8_t, 14> b{};
  store_be16(b.data(), 0x0102);
  store_be32(b.data() + 2, 0x03040506);
  store_be64(b.data() + 6, 0x0708090a0b0c0d0eULL);
  EXPECT_EQ(b, (std::array<std::uint8_t, 14>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}));
  EXPECT_EQ(load_be16(b.data()), 0x0102);
  EXPECT_EQ(load_be32(b.data() + 2), 0x03040506u);
  EXPECT_EQ(load_be64(b.data() + 6), 0x0708090a0b0c0d0eULL);
  // All bits high: no sign extension on the way through int.
  store_be16(b.data(), 0xffff);
  store_be32(b.data() + 2, 0xfffffffe);
  EXPECT_EQ(load_be16(b.data()), 0xffff);
  EXPECT_EQ(load_be32(b.data() + 2), 0xfffffffeu);
}

TEST(CoreBytes, WriterAndReaderAgreeWithTheInPlaceForms) {
  std::vector<std::uint8_t> out;
  ByteWriter w(out);
  w.u8(0xab);
  w.u16(0xbeef);
  w.u32(0xdeadbeef);
  w.u64(0x0123456789abcdefULL);
  ASSERT_EQ(out.size(), 15u);
  EXPECT_EQ(load_be16(out.data() + 1), 0xbeef);
  EXPECT_EQ(load_be32(out.data() + 3), 0xdeadbeefu);
  EXPECT_EQ(load_be64(out.data() + 7), 0x0123456789abcdefULL);

  ByteReader r(out);
  std::uint8_t a = 0;
  std::uint16_t b = 0;
  std::uint32_t c = 0;
  std::uint64_t d = 0;
  ASSERT_TRUE(r.u8(a) && r.u16(b) && r.u32(c) && r.u64(d));
  EXPECT_EQ(a, 0xab);
  EXPECT_EQ(b, 0xbeef);
  EXPECT_EQ(c, 0xdeadbeefu);
  EXPECT_EQ(d, 0x0123456789abcdefULL);
  EXPECT_EQ(r.remaining(), 0u);
  EXPECT_FALSE(r.u8(a));
}

TEST(CoreBytes, ShortReadFailsAndConsumesNothing) {
  const std::array<std::uint8_t, 3> three{1, 2, 3};
  ByteReader r(three);
  std::uint32_t v = 7;
  EXPECT_FALSE(r.u32(v));
  EXPECT_EQ(v, 7u);
  EXPECT_EQ(r.offset(), 0u);
  std::uint16_t w = 0;
  EXPECT_TRUE(r.u16(w));
  EXPECT_EQ(w, 0x0102);
}

}  // namespace
}  // namespace natpunch
