#pragma once
// FUZZ_CHECK(condition): an invariant a fuzz target checks on every input.
// A false condition traps (__builtin_trap), which libFuzzer reports as a
// crash and saves the input that caused it. Unlike assert() it stays active
// under -DNDEBUG (the fuzz build is RelWithDebInfo).
#define FUZZ_CHECK(condition)           \
  do {                                  \
    if (!(condition)) __builtin_trap(); \
  } while (false)

#include <cstdint>

// The next `bytes` bytes at p (big-endian, fewer at the end of the input).
inline std::uint64_t fuzz_take(const std::uint8_t*& p, const std::uint8_t* end, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes && p < end; ++i) v = (v << 8) | *p++;
  return v;
}
