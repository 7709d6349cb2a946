#include "analyze/profile_export.hpp"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace natpunch::analyze {

namespace {

using Json = nlohmann::ordered_json;

Json beta_fields(Json object, const DetectedAllocator& d) {
  object["alpha"] = *d.alpha;
  object["beta"] = *d.beta;
  object["loc"] = *d.loc;
  object["scale"] = *d.scale;
  return object;
}

// Seconds to the millisecond: what the wire carries.
double whole_ms(double seconds) { return std::round(seconds * 1000) / 1000; }

Json block_object(const DetectedAllocator& d) {
  if (d.plain_block()) {
    Json object{{"kind", "block"}, {"block_size", *d.block_size}};
    if (d.min) object["min"] = *d.min;
    if (d.max) object["max"] = *d.max;
    return object;
  }
  Json object = d.alpha ? beta_fields(Json{{"kind", "beta"}}, d) : Json{{"kind", "uniform"}, {"min", *d.min}, {"max", *d.max}};
  Json locality{{"window", *d.block_size},
                {"offset", d.block_offset.value_or(0)},
                {"order", d.block_order == BlockOrder::Random ? "random" : "in_order"}};
  const ResetDecision reset = d.block_reset.value_or(ResetDecision{ResetRule::Mappings, *d.block_size, 0, ""});
  if (reset.rule == ResetRule::Hold) locality["hold_s"] = whole_ms(reset.hold_s);
  else locality["mappings"] = reset.mappings;
  object["locality"] = locality;
  return object;
}

Json allocator_object(const DetectedAllocator& d) {
  Json object;
  object["kind"] = std::string(to_string(d.kind));
  switch (d.kind) {
    case AllocatorKind::Block:
      return block_object(d);
    case AllocatorKind::Uniform:
      object["min"] = *d.min;
      object["max"] = *d.max;
      break;
    case AllocatorKind::Beta: return beta_fields(object, d);
    case AllocatorKind::Sequential:
    case AllocatorKind::Preserving:
    case AllocatorKind::Unknown: break;
  }
  return object;
}

// The numbers behind the allocator (provenance.allocator.fit).
Json provenance_fit(const DetectedAllocator& d) {
  Json fit = Json::object();
  const auto& e = d.evidence;
  if (const auto& b = e.block) {
    fit["stay_fraction"] = b->same_block_fraction;
    fit["jump_rate"] = 1 - b->same_block_fraction;
    fit["visits"] = b->visits;
    fit["complete_visits"] = b->complete_visits;
    fit["median_mappings_per_visit"] = b->median_mappings;
    fit["mappings_cv"] = b->mappings_cv;
    fit["median_hold_s"] = b->median_hold_s;
    fit["hold_cv"] = b->hold_cv;
    fit["in_visit_step_fraction"] = b->in_visit_step_fraction;
    if (b->order == BlockOrder::InOrder) {
      fit["boundary_crossings"] = b->boundary_crossings;
      fit["expected_sequential_crossings"] = b->expected_sequential_crossings;
    } else {
      fit["stay_by_chance"] = b->same_block_by_chance;
    }
    if (const auto& u = b->placement_uniform) {
      fit["placement_uniform_ks_d"] = u->ks_d;
      fit["placement_uniform_ks_p"] = u->ks_p;
    }
    if (const auto& f = b->placement_beta) {
      fit["placement_beta_ks_d"] = f->ks_d;
      fit["placement_beta_ks_p"] = f->ks_p;
    }
  }
  if (const auto& u = e.uniform) {
    fit["uniform_ks_d"] = u->ks_d;
    fit["uniform_ks_p"] = u->ks_p;
    fit["uniform_chi_square_p"] = u->chi_square.p;
  }
  if (const auto& f = e.beta) {
    fit["beta_ks_d"] = f->ks_d;
    fit["beta_ks_p"] = f->ks_p;
    fit["beta_chi_square_p"] = f->chi_square.p;
  }
  if (d.kind != AllocatorKind::Block && d.min) fit["observed_min"] = *d.min;
  if (d.kind != AllocatorKind::Block && d.max) fit["observed_max"] = *d.max;
  return fit;
}

std::string fixed1(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", value);
  return buf;
}

std::string percent(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %%", 100.0 * fraction);
  return buf;
}

}  // namespace

std::string allocator_object_json(const DetectedAllocator& detected) { return allocator_object(detected).dump(); }

std::string provenance_fit_json(const DetectedAllocator& d) { return provenance_fit(d).dump(); }

std::string profile_json(const DetectedAllocator& detected, const ProfileIdentity& identity) {
  const bool known = detected.kind != AllocatorKind::Unknown;
  Json doc;
  doc["name"] = identity.name;
  doc["country"] = identity.country;
  doc["roaming"] = identity.roaming;
  for (const char* unmeasured : {"type", "mapping", "filtering"}) doc[unmeasured] = nullptr;
  doc["allocator"] = known ? allocator_object(detected) : Json(nullptr);
  doc["timeouts"] = nullptr;
  doc["mtu"] = nullptr;
  doc["jumbo"] = nullptr;
  doc["source"] = Json::object();
  if (known) doc["source"]["allocator"] = identity.source;
  if (known && !identity.runs.empty()) {
    Json provenance{{"runs", identity.runs}, {"rows", detected.evidence.rows}, {"fit", provenance_fit(detected)}};
    if (!identity.command.empty()) provenance["command"] = identity.command;
    doc["provenance"] = Json{{"allocator", provenance}};
  }
  std::string notes = "natpunch analyze: " + std::to_string(detected.evidence.rows) + " joined rows; " +
                      std::string(detected.evidence.reason) + ".";
  if (const auto& block = detected.evidence.block) {
    notes += " Ports taken " + std::string(block->order == BlockOrder::Random ? "in random order" : "in order") +
             " inside blocks of " + std::to_string(*detected.block_size) + " at offset " +
             std::to_string(block->offset) + "; a stay ends " +
             (block->reset.rule == ResetRule::Hold ? "after " + fixed1(block->reset.hold_s) + " s"
                                                   : "after " + std::to_string(block->reset.mappings) + " mappings") +
             " (" + block->reset.why + "); " + block->placement_why + ". Block visits: " +
             std::to_string(block->visits) +
             ", starting at a multiple of 256: " + percent(block->start_aligned_fraction) +
             ", consumed whole: " + percent(block->consumed_whole_fraction) + ".";
  }
  if (const auto& beta = detected.evidence.beta; beta && detected.kind == AllocatorKind::Beta)
    notes += " Beta fit KS D = " + std::to_string(beta->ks_d) + ", chi-square p = " +
             std::to_string(beta->chi_square.p) + ".";
  if (const auto& uniform = detected.evidence.uniform; uniform && detected.kind == AllocatorKind::Uniform)
    notes += " Uniformity KS p = " + std::to_string(uniform->ks_p) + ", chi-square p = " +
             std::to_string(uniform->chi_square.p) + ".";
  doc["notes"] = notes;
  return doc.dump(2) + "\n";
}

}  // namespace natpunch::analyze
