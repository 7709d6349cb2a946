#include "nat/nat_knowledge.hpp"

#include <array>
#include <type_traits>
#include <utility>

#include "nat/allocator_spec_text.hpp"

namespace natpunch::nat {

namespace {
constexpr std::array<std::pair<AllocatorClass, std::string_view>, 6> kClassNames{{
    {AllocatorClass::Unknown, "unknown"},
    {AllocatorClass::NotTranslated, "not-translated"},
    {AllocatorClass::Preserving, "preserving"},
    {AllocatorClass::InOrder, "in-order"},
    {AllocatorClass::Clustered, "clustered"},
    {AllocatorClass::Random, "random"},
}};
}  // namespace

std::string_view to_string(AllocatorClass c) {
  for (const auto& [value, name] : kClassNames)
    if (value == c) return name;
  return "unknown";
}

std::optional<AllocatorClass> parse_allocator_class(std::string_view text) {
  for (const auto& [value, name] : kClassNames)
    if (name == text) return value;
  return std::nullopt;
}

AllocatorClass sample_class(const AllocatorSpec& spec) {
  return std::visit(
      [](const auto& s) {
        using Spec = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<Spec, PreservingSpec>) return AllocatorClass::Preserving;
        else if constexpr (std::is_same_v<Spec, SequentialSpec> || std::is_same_v<Spec, BlockSpec>)
          return AllocatorClass::InOrder;
        else if constexpr (std::is_same_v<Spec, WindowSpec>) {
          if (s.order == WindowOrder::InOrder) return AllocatorClass::InOrder;
          // A dozen mappings in one small window; a stay of a few mappings
          // spreads them over windows placed at random.
          const bool one_window = s.hold || (s.mappings && *s.mappings >= kSampleStay);
          return one_window && s.size <= kClusteredWindow ? AllocatorClass::Clustered : AllocatorClass::Random;
        } else if constexpr (std::is_same_v<Spec, TraceSpec>) return AllocatorClass::Unknown;  // whatever the log did
        else return AllocatorClass::Random;
      },
      spec);
}

std::string describe(const NatKnowledge& k) {
  if (k.no_answer) return "nothing learned: no STUN answer";
  std::string out;
  if (k.mapping == MappingBehavior::None) {
    out = "no NAT";
  } else {
    out = std::string(to_string(k.mapping)) + " mapping";
  }
  out += ", " + std::string(to_string(k.filtering)) + " filtering";
  if (k.allocator.kind != AllocatorClass::Unknown && k.allocator.kind != AllocatorClass::NotTranslated) {
    out += ", " + std::string(to_string(k.allocator.kind)) + " ports";
    if (k.allocator.spec) out += " (" + format_allocator_spec(*k.allocator.spec) + ")";
    out += " from " + std::to_string(k.allocator.mappings) + " mappings";
  }
  return out;
}

}  // namespace natpunch::nat
