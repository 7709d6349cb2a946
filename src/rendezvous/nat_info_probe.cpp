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

Result<NatInfo, nat::ProfileError> own_nat_info(const std::optional<nat::NatKnowledge>& measured,
                                                const StatedNat& stated, std::vector<std::string>& notes) {
  NatInfo info;
  nat::NatKnowledge nothing;
  nothing.no_answer = true;
  const nat::NatKnowledge& m = measured ? *measured : nothing;
  apply_knowledge(m, info);
  if (stated.profile) {
    if (auto problem = refine_with_profile(*stated.profile, m, info, notes)) return Unexpected{*problem};
  }
  const bool learned = !m.no_answer;
  if (stated.mapping != nat::MappingBehavior::Unknown) {
    if (learned && m.mapping != nat::MappingBehavior::Unknown && m.mapping != stated.mapping)
      notes.push_back("--mapping says " + std::string(to_string(stated.mapping)) + ", measured " +
                      std::string(to_string(m.mapping)) + ": telling the peer " +
                      std::string(to_string(stated.mapping)));
    info.mapping = stated.mapping;
  }
  if (stated.filtering != nat::FilteringBehavior::Unknown) {
    if (learned && m.filtering != nat::FilteringBehavior::Unknown && m.filtering != stated.filtering)
      notes.push_back("--filtering says " + std::string(to_string(stated.filtering)) + ", measured " +
                      std::string(to_string(m.filtering)) + ": telling the peer " +
                      std::string(to_string(stated.filtering)));
    info.filtering = stated.filtering;
  }
  if (stated.pending_timeout_ms > 0) info.pending_timeout_ms = stated.pending_timeout_ms;
  if (stated.idle_timeout_ms > 0) info.idle_timeout_ms = stated.idle_timeout_ms;
  return info;
}

}  // namespace natpunch::rendezvous
