#include "rendezvous/nat_info_probe.hpp"

#include "nat/allocator_spec_text.hpp"
#include "rendezvous/nat_info_profile.hpp"

namespace natpunch::rendezvous {

void apply_knowledge(const nat::NatKnowledge& knowledge, NatInfo& info) {
  if (knowledge.no_answer) return;
  info.mapping = knowledge.mapping;
  info.filtering = knowledge.filtering;
  info.allocator = knowledge.allocator.spec;
}

std::optional<nat::ProfileError> refine_with_profile(const nat::Profile& profile, const nat::NatKnowledge& measured,
                                                     NatInfo& info, std::vector<std::string>& disagreements) {
  NatInfo from_profile;
  if (auto problem = apply_profile(profile, from_profile)) return problem;
  const bool learned = !measured.no_answer;
  const std::string who = "profile " + profile.id;

  info.carrier_profile = from_profile.carrier_profile;
  if (info.pending_timeout_ms == 0) info.pending_timeout_ms = from_profile.pending_timeout_ms;
  if (info.idle_timeout_ms == 0) info.idle_timeout_ms = from_profile.idle_timeout_ms;

  if (profile.mapping) {
    if (!learned || measured.mapping == nat::MappingBehavior::Unknown) {
      info.mapping = *profile.mapping;
    } else if (*profile.mapping != measured.mapping) {
      disagreements.push_back(who + " says " + std::string(to_string(*profile.mapping)) + " mapping, measured " +
                              std::string(to_string(measured.mapping)) + ": keeping the measurement");
    }
  }
  if (profile.filtering) {
    if (!learned || measured.filtering == nat::FilteringBehavior::Unknown) {
      info.filtering = *profile.filtering;
    } else if (*profile.filtering != measured.filtering) {
      disagreements.push_back(who + " says " + std::string(to_string(*profile.filtering)) + " filtering, measured " +
                              std::string(to_string(measured.filtering)) + ": keeping the measurement");
    }
  }
  if (from_profile.allocator) {
    const auto seen = measured.allocator.kind;
    if (!learned || seen == nat::AllocatorClass::Unknown || nat::sample_class(*from_profile.allocator) == seen) {
      info.allocator = from_profile.allocator;
    } else {
      disagreements.push_back(who + " says " + nat::format_allocator_spec(*from_profile.allocator) +
                              " ports, measured " + std::string(to_string(seen)) + " ports: keeping the measurement");
    }
  }
  return std::nullopt;
}

}  // namespace natpunch::rendezvous
