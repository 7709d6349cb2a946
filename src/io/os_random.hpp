#pragma once
#include <cstdint>

namespace natpunch::io {
// A seed from the kernel's CSPRNG for the injected Rng of real runs.
std::uint64_t os_random_seed();
}  // namespace natpunch::io
