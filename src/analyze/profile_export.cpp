#include "analyze/profile_export.hpp"

#include <cstdio>
#include <nlohmann/json.hpp>

namespace natpunch::analyze {

namespace {

using Json = nlohmann::ordered_json;

Json allocator_object(const DetectedAllocator& d, bool for_profile) {
  Json object;
  object["kind"] = std::string(to_string(d.kind));
  switch (d.kind) {
    case AllocatorKind::Block:
      object["block_size"] = *d.block_size;
      // In-order is what a block allocator without "order" means, so only
      // the random order needs saying; profiles carry it once the loader
      // knows the key (kProfileLoaderKnowsBlockOrder).
      if (d.block_order == BlockOrder::Random && (!for_profile || kProfileLoaderKnowsBlockOrder))
        object["order"] = std::string(to_string(*d.block_order));
      break;
    case AllocatorKind::Uniform:
      object["min"] = *d.min;
      object["max"] = *d.max;
      break;
    case AllocatorKind::Beta:
      object["alpha"] = *d.alpha;
      object["beta"] = *d.beta;
      object["loc"] = *d.loc;
      object["scale"] = *d.scale;
      break;
    case AllocatorKind::Sequential:
    case AllocatorKind::Preserving:
    case AllocatorKind::Unknown: break;
  }
  return object;
}

std::string percent(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %%", 100.0 * fraction);
  return buf;
}

}  // namespace

std::string allocator_object_json(const DetectedAllocator& detected) {
  return allocator_object(detected, false).dump();
}

std::string profile_json(const DetectedAllocator& detected, const ProfileIdentity& identity) {
  const bool known = detected.kind != AllocatorKind::Unknown;
  Json doc;
  doc["name"] = identity.name;
  doc["country"] = identity.country;
  doc["roaming"] = identity.roaming;
  for (const char* unmeasured : {"type", "mapping", "filtering"}) doc[unmeasured] = nullptr;
  doc["allocator"] = known ? allocator_object(detected, true) : Json(nullptr);
  doc["timeouts"] = nullptr;
  doc["mtu"] = nullptr;
  doc["jumbo"] = nullptr;
  doc["source"] = Json::object();
  if (known) doc["source"]["allocator"] = identity.source;
  std::string notes = "natpunch analyze: " + std::to_string(detected.evidence.rows) + " joined rows; " +
                      std::string(detected.evidence.reason) + ".";
  if (const auto& block = detected.evidence.block) {
    notes += " Ports taken " + std::string(block->order == BlockOrder::Random ? "in random order" : "in order") +
             " inside the block. Block visits: " + std::to_string(block->visits) +
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
