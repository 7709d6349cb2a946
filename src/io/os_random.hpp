#pragma once
#include <cstdint>
#include <span>

namespace natpunch::io {
// A seed from the kernel's CSPRNG for the injected Rng of real runs.
std::uint64_t os_random_seed();
// Key material (server secrets) from the kernel's CSPRNG; false if it has none.
bool os_random_bytes(std::span<std::uint8_t> out);
}  // namespace natpunch::io
