#pragma once
// The one-line spelling of an allocator used on command lines and in lab
// NAT kinds (`model:<mapping>/<filtering>/<allocator>`), KIND[:PARAMS]:
//   preserving | sequential | random | uniform[:MIN-MAX] | block[:SIZE]
//   | beta[:ALPHA,BETA,LOC,SCALE]
// Without PARAMS each kind takes its spec's defaults (block = 256-port
// blocks like KPN, beta = Vodafone NL's fit). Parsing checks the syntax
// only; validate() checks the values.
#include <optional>
#include <string_view>

#include "nat/allocator_spec.hpp"

namespace natpunch::nat {

std::optional<AllocatorSpec> parse_allocator_spec(std::string_view text);

}  // namespace natpunch::nat
