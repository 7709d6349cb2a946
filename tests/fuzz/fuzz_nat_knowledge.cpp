// libFuzzer target for what a peer knows of its own NAT when it comes from
// a file: one NatKnowledge JSON object (nat::nat_knowledge_from_json, as
// `natpunch probe --json` prints it) and the on-disk NAT cache
// (io::parse_nat_cache, $XDG_CACHE_HOME/natpunch/nat-knowledge.json), plus
// the allocator-sample classifier on arbitrary port sequences.
//
// Beyond "never throws, never crashes": what is accepted writes back and
// reads again as the same knowledge (the cache rewrites its file on every
// update), an accepted allocator is valid, and a classified sample tells
// the peer only valid allocators of the class it names.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "io/nat_knowledge_cache.hpp"
#include "measure/allocator_sample.hpp"
#include "nat/allocator_spec.hpp"
#include "nat/nat_knowledge_json.hpp"

#include "fuzz_check.hpp"

namespace {

using namespace natpunch;

// Equal but for the run time, which goes through milliseconds as a double.
bool same_knowledge(const nat::NatKnowledge& a, const nat::NatKnowledge& b) {
  nat::NatKnowledge x = a, y = b;
  const auto drift = x.took > y.took ? x.took - y.took : y.took - x.took;
  x.took = y.took = Duration{};
  return x == y && drift <= std::chrono::milliseconds(1);
}

void knowledge(std::string_view text) {
  const auto k = nat::nat_knowledge_from_json(text);
  if (!k) return;
  if (k->allocator.spec) FUZZ_CHECK(!nat::validate(*k->allocator.spec));
  const auto again = nat::nat_knowledge_from_json(nat::to_json(*k));
  FUZZ_CHECK(again && same_knowledge(*k, *again));
}

void cache(std::string_view text) {
  const auto entries = io::parse_nat_cache(text);
  FUZZ_CHECK(entries.size() <= 256);
  if (entries.empty()) return;
  const auto again = io::parse_nat_cache(io::format_nat_cache(entries));
  FUZZ_CHECK(again.size() == entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    FUZZ_CHECK(again[i].local == entries[i].local);
    FUZZ_CHECK(same_knowledge(again[i].knowledge, entries[i].knowledge));
  }
}

void sample(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return;
  const auto mapping = static_cast<nat::MappingBehavior>(data[0] % 5);
  std::vector<measure::ProbeMapping> mappings;
  for (std::size_t i = 1; i + 4 <= size && mappings.size() < 64; i += 5) {
    measure::ProbeMapping m;
    if (data[i] & 1) m.local_port = static_cast<std::uint16_t>(data[i + 1] << 8 | data[i + 2]);
    m.mapped_port = static_cast<std::uint16_t>(data[i + 3] << 8 | (i + 4 < size ? data[i + 4] : 0));
    mappings.push_back(m);
  }
  const auto guess = measure::classify_allocator_sample(mappings, mapping);
  FUZZ_CHECK(guess.mappings == mappings.size());
  FUZZ_CHECK(!guess.why.empty());
  if (guess.spec) {
    FUZZ_CHECK(!nat::validate(*guess.spec));
    const auto told = nat::sample_class(*guess.spec);
    FUZZ_CHECK(told == guess.kind || (guess.kind == nat::AllocatorClass::Clustered && told == nat::AllocatorClass::Random));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  knowledge(text);
  cache(text);
  sample(data, size);
  return 0;
}
