#pragma once
// What a peer knows about its own NAT from measuring it: mapping and
// filtering behaviour (RFC 4787), hairpinning, and what a handful of fresh
// mappings say about the port allocator. measure/nat_probe.* fills it in a
// few hundred milliseconds at registration; rendezvous/nat_info_probe.*
// turns it into the NatInfo the other side is told, where a carrier profile
// or explicit flags may refine it.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/endpoint.hpp"
#include "core/time.hpp"
#include "nat/allocator_spec.hpp"
#include "nat/nat_behavior.hpp"

namespace natpunch::nat {

// What a handful of mappings from fresh local ports can tell apart (and
// no more: a sequential allocator and blocks consumed in order look alike
// until a block runs out; a uniform range and a Beta law look alike
// without hundreds of mappings; see measure/allocator_sample.hpp).
enum class AllocatorClass : std::uint8_t {
  Unknown,        // too few mappings
  NotTranslated,  // no NAT: the ports are the local ones
  Preserving,     // the external port is the local port
  InOrder,        // consecutive ports: sequential, or blocks consumed in order
  Clustered,      // within a few dozen ports, not in order (windows in random order)
  Random,         // spread over a range
};

// "unknown", "not-translated", "preserving", "in-order", "clustered", "random".
std::string_view to_string(AllocatorClass c);
std::optional<AllocatorClass> parse_allocator_class(std::string_view text);

// What a sample (about a dozen mappings within a second) of a NAT running
// `spec` shows: preserving -> Preserving; sequential, block and in-order
// windows -> InOrder; random-order windows of at most kClusteredWindow
// ports held for a time or for at least kSampleStay mappings (Vodafone NL's
// 32-port windows) -> Clustered; uniform, random, Beta and other windows
// -> Random; a replayed trace -> Unknown (it shows what the log did).
inline constexpr std::uint32_t kClusteredWindow = 64;
inline constexpr std::uint32_t kSampleStay = 16;
AllocatorClass sample_class(const AllocatorSpec& spec);

struct AllocatorGuess {
  AllocatorClass kind = AllocatorClass::Unknown;
  // What the peer is told (its port choosers and prediction follow it);
  // nullopt: nothing worth telling.
  std::optional<AllocatorSpec> spec;
  std::size_t mappings = 0;  // the sample's size
  std::uint16_t lowest = 0;  // the sample's port range
  std::uint16_t highest = 0;
  std::string why;  // one line: which rule decided
  bool operator==(const AllocatorGuess&) const = default;
};

struct NatKnowledge {
  MappingBehavior mapping = MappingBehavior::Unknown;
  FilteringBehavior filtering = FilteringBehavior::Unknown;
  Hairpinning hairpinning = Hairpinning::Unknown;
  // No STUN answer at all: UDP blocked, or a server without STUN.
  bool no_answer = false;
  AllocatorGuess allocator;
  std::optional<Endpoint> mapped;  // the probing socket's public endpoint
  std::optional<Endpoint> server;  // the STUN server that answered
  Duration took{};                 // how long the probe ran
  std::string note;                // what happened, for humans; "; "-separated
  bool operator==(const NatKnowledge&) const = default;
};

// One line for people: "endpoint-independent mapping, address-dependent
// filtering, in-order ports (sequential) from 9 mappings".
std::string describe(const NatKnowledge& k);

}  // namespace natpunch::nat
