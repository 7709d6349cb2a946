#pragma once
// FUZZ_CHECK(condition): an invariant a fuzz target checks on every input.
// A false condition traps (__builtin_trap), which libFuzzer reports as a
// crash and saves the input that caused it. Unlike assert() it stays active
// under -DNDEBUG (the fuzz build is RelWithDebInfo).
#define FUZZ_CHECK(condition)           \
  do {                                  \
    if (!(condition)) __builtin_trap(); \
  } while (false)
