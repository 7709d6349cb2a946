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

bool os_random_bytes(std::span<std::uint8_t> out) {
  std::size_t done = 0;
  while (done < out.size()) {
    const auto n = getrandom(out.data() + done, out.size() - done, 0);
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace natpunch::io
