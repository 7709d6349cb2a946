#include "punch/side_knowledge.hpp"

namespace natpunch::punch {

SideKnowledge side_knowledge(const rendezvous::NatInfo& info, std::uint16_t observed_port) {
  SideKnowledge k;
  k.mapping = info.mapping;
  k.filtering = info.filtering;
  k.allocator = info.allocator;
  k.observed_port = observed_port;
  return k;
}

}  // namespace natpunch::punch
