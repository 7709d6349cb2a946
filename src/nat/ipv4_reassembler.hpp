#pragma once
// Reassembles fragmented IPv4 datagrams (RFC 791 / RFC 815), sans-IO, with
// bounded memory: at most `max_datagrams` reassemblies at once holding at
// most `max_bytes` in total, each given up `timeout` after its first
// fragment. natd needs whole datagrams because only the first fragment
// carries the UDP ports it translates.
//
// Fragments are keyed by (source, destination, protocol, identification).
// Overlapping data is accepted, later bytes winning (a retransmitted or
// duplicated fragment carries the same bytes anyway).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "core/time.hpp"
#include "nat/ipv4_header.hpp"

namespace natpunch::nat {

enum class ReassemblyError : std::uint8_t {
  NotAFragment,     // neither MF nor an offset: nothing to reassemble
  BadFragmentSize,  // a fragment with MF set whose data is not a multiple of 8 bytes, or with no data
  TooLarge,         // the datagram would exceed 65,535 bytes
  ConflictingEnd,   // data beyond the end a last fragment announced, or two different ends
  LimitReached,     // max_datagrams or max_bytes reached: the fragment is dropped
};
inline constexpr std::size_t kReassemblyErrorCount = static_cast<std::size_t>(ReassemblyError::LimitReached) + 1;

// "not a fragment", "bad fragment size", "too large", "conflicting end", "limit reached".
std::string_view to_string(ReassemblyError error);

struct ReassemblyLimits {
  std::size_t max_datagrams = 256;
  std::size_t max_bytes = std::size_t{32} << 20;
  Duration timeout = seconds(30);  // Linux's ipfrag_time
};

class Ipv4Reassembler {
 public:
  explicit Ipv4Reassembler(ReassemblyLimits limits = {}) : limits_(limits) {}

  // Adds one fragment (`header` parsed from `fragment`). Returns the whole
  // datagram once its last hole is filled (header from the first fragment,
  // total length and checksum fixed, MF and offset cleared); the span stays
  // valid and writable until the next call. Returns an empty span while
  // holes remain.
  Result<std::span<std::uint8_t>, ReassemblyError> add(TimePoint now, std::span<const std::uint8_t> fragment,
                                                       const Ipv4Header& header);
  // Gives up reassemblies older than the timeout; returns how many.
  std::size_t expire(TimePoint now);
  std::optional<TimePoint> next_deadline() const;

  std::size_t in_progress() const { return partials_.size(); }
  std::size_t bytes_held() const { return bytes_held_; }

 private:
  static constexpr std::size_t kHeaderRoom = 60;  // the largest IPv4 header sits in front of the data
  struct Range {
    std::size_t begin = 0;
    std::size_t end = 0;
  };
  struct Partial {
    std::uint32_t source = 0;
    std::uint32_t destination = 0;
    std::uint16_t identification = 0;
    std::uint8_t protocol = 0;
    TimePoint started;
    std::optional<std::size_t> data_end;  // known once the last fragment (MF clear) arrived
    std::size_t header_length = 0;        // of the first fragment, 0 until it arrived
    std::vector<Range> received;          // sorted, disjoint, coalesced
    std::vector<std::uint8_t> buffer;     // kHeaderRoom + data
  };

  // Forgets reassembly `index`; its buffer goes to `keep_buffer` if given.
  void release(std::size_t index, std::vector<std::uint8_t>* keep_buffer = nullptr);

  ReassemblyLimits limits_;
  std::vector<Partial> partials_;  // few at once: a linear search is cheapest
  std::size_t bytes_held_ = 0;
  std::vector<std::uint8_t> completed_;
};

}  // namespace natpunch::nat
