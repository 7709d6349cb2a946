#pragma once
// The public API's NAT vocabulary (include/natpunch/nat_behavior.hpp) and
// the NAT model's (nat/nat_behavior.hpp) are the same words: these convert.
#include "nat/nat_behavior.hpp"
#include "natpunch/nat_behavior.hpp"

namespace natpunch::nat {

MappingBehavior to_mapping(NatBehavior behavior);
FilteringBehavior to_filtering(NatBehavior behavior);
NatBehavior to_public(MappingBehavior mapping);
NatBehavior to_public(FilteringBehavior filtering);
ClassicNatType to_public(ClassicType type);

}  // namespace natpunch::nat
