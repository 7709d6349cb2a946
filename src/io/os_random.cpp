#include "io/os_random.hpp"

#include <sys/random.h>

#include <chrono>

namespace natpunch::io {

std::uint64_t os_random_seed() {
  std::uint64_t seed = 0;
  if (getrandom(&seed, sizeof seed, 0) == static_cast<ssize_t>(sizeof seed)) return seed;
  // getrandom only fails on ancient kernels; a time seed still gives distinct ids.
  return static_cast<std::uint64_t>(std::chrono::high_resolution_clock::now().time_since_epoch().count());
}

}  // namespace natpunch::io
