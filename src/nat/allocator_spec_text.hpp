#pragma once
// The one-line spelling of an allocator used on command lines and in lab
// NAT kinds (`model:<mapping>/<filtering>/<allocator>`), KIND[:PARAMS]:
//   preserving | sequential | random | uniform[:MIN-MAX] | block[:SIZE]
//   | beta[:ALPHA,BETA,LOC,SCALE]
// Without PARAMS each kind takes its spec's defaults (block = 256-port
// blocks like KPN, beta = Vodafone NL's fit). Parsing checks the syntax
// only; validate() checks the values.
#include <optional>
#include <string>
#include <string_view>

#include "nat/allocator_spec.hpp"

namespace natpunch::nat {

std::optional<AllocatorSpec> parse_allocator_spec(std::string_view text);

// The spelling parse_allocator_spec() reads back: "block:256",
// "uniform:2048-65535", "beta:2.242,5.008,4630,13937". Not part of it: the
// ranges of preserving and sequential allocators, a block allocator's range
// and background subscribers; kinds without a spelling give their kind name.
std::string format_allocator_spec(const AllocatorSpec& spec);

}  // namespace natpunch::nat
