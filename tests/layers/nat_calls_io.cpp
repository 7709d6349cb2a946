// Linked into the NAT model's layer-check shared object: it calls into io
// without including io's header (a forward declaration), which the
// include check cannot see. The link must fail with an undefined
// reference: nat's arrows do not reach io (tests/layers/CMakeLists.txt).
#include <cstdint>

namespace natpunch::io {
std::uint64_t os_random_seed();
}

std::uint64_t natpunch_layer_probe_seed() { return natpunch::io::os_random_seed(); }
