#include "nat/ipv4_reassembler.hpp"

#include <algorithm>
#include <cstring>

#include "nat/ipv4_wire.hpp"

namespace natpunch::nat {

using namespace wire;

std::string_view to_string(ReassemblyError error) {
  switch (error) {
    case ReassemblyError::NotAFragment: return "not a fragment";
    case ReassemblyError::BadFragmentSize: return "bad fragment size";
    case ReassemblyError::TooLarge: return "too large";
    case ReassemblyError::ConflictingEnd: return "conflicting end";
    case ReassemblyError::LimitReached: return "limit reached";
  }
  return "unknown";
}

void Ipv4Reassembler::release(std::size_t index, std::vector<std::uint8_t>* keep_buffer) {
  bytes_held_ -= partials_[index].buffer.size();
  if (keep_buffer) keep_buffer->swap(partials_[index].buffer);
  partials_[index] = std::move(partials_.back());
  partials_.pop_back();
}

std::size_t Ipv4Reassembler::expire(TimePoint now) {
  std::size_t expired = 0;
  for (std::size_t i = 0; i < partials_.size();) {
    if (now - partials_[i].started > limits_.timeout) {
      release(i);
      ++expired;
    } else {
      ++i;
    }
  }
  return expired;
}

std::optional<TimePoint> Ipv4Reassembler::next_deadline() const {
  std::optional<TimePoint> earliest;
  for (const Partial& p : partials_)
    if (!earliest || p.started < *earliest) earliest = p.started;
  if (earliest) *earliest += limits_.timeout + Duration{1};
  return earliest;
}

Result<std::span<std::uint8_t>, ReassemblyError> Ipv4Reassembler::add(TimePoint now,
                                                                      std::span<const std::uint8_t> fragment,
                                                                      const Ipv4Header& header) {
  if (!header.is_fragment()) return Unexpected{ReassemblyError::NotAFragment};
  const std::size_t begin = header.fragment_offset();
  const std::size_t length = header.total_length - header.header_length;
  const std::size_t end = begin + length;
  if (length == 0 || (header.more_fragments() && length % 8 != 0))
    return Unexpected{ReassemblyError::BadFragmentSize};
  if (end + kIpv4MinHeader > 65535) return Unexpected{ReassemblyError::TooLarge};
  expire(now);

  std::size_t index = 0;
  for (; index < partials_.size(); ++index) {
    const Partial& p = partials_[index];
    if (p.identification == header.identification && p.source == header.source &&
        p.destination == header.destination && p.protocol == header.protocol)
      break;
  }
  if (index == partials_.size()) {
    if (partials_.size() >= limits_.max_datagrams) return Unexpected{ReassemblyError::LimitReached};
    Partial p;
    p.source = header.source;
    p.destination = header.destination;
    p.identification = header.identification;
    p.protocol = header.protocol;
    p.started = now;
    partials_.push_back(std::move(p));
  }
  Partial& p = partials_[index];
  if (!header.more_fragments()) {
    if ((p.data_end && *p.data_end != end) || (!p.received.empty() && p.received.back().end > end)) {
      release(index);
      return Unexpected{ReassemblyError::ConflictingEnd};
    }
    p.data_end = end;
  } else if (p.data_end && end > *p.data_end) {
    release(index);
    return Unexpected{ReassemblyError::ConflictingEnd};
  }
  if (kHeaderRoom + end > p.buffer.size()) {
    const std::size_t grow = kHeaderRoom + end - p.buffer.size();
    if (bytes_held_ + grow > limits_.max_bytes) {
      release(index);
      return Unexpected{ReassemblyError::LimitReached};
    }
    p.buffer.resize(kHeaderRoom + end);
    bytes_held_ += grow;
  }
  std::memcpy(p.buffer.data() + kHeaderRoom + begin, fragment.data() + header.header_length, length);
  if (begin == 0) {
    p.header_length = header.header_length;
    std::memcpy(p.buffer.data() + kHeaderRoom - header.header_length, fragment.data(), header.header_length);
  }

  // Insert [begin, end) and coalesce with its neighbours.
  auto& ranges = p.received;
  auto it = std::lower_bound(ranges.begin(), ranges.end(), begin,
                             [](const Range& r, std::size_t value) { return r.end < value; });
  Range merged{begin, end};
  auto last = it;
  while (last != ranges.end() && last->begin <= end) {
    merged.begin = std::min(merged.begin, last->begin);
    merged.end = std::max(merged.end, last->end);
    ++last;
  }
  it = ranges.erase(it, last);
  ranges.insert(it, merged);

  const bool complete = p.data_end && p.header_length != 0 && ranges.size() == 1 && ranges.front().begin == 0 &&
                        ranges.front().end == *p.data_end;
  if (!complete) return std::span<std::uint8_t>{};

  // Hand the datagram out of a buffer that outlives this reassembly.
  const std::size_t total = p.header_length + *p.data_end;
  if (total > 65535) {  // header options pushed it over
    release(index);
    return Unexpected{ReassemblyError::TooLarge};
  }
  const std::size_t header_length = p.header_length;
  release(index, &completed_);
  std::uint8_t* out = completed_.data() + kHeaderRoom - header_length;
  store_be16(out + 2, static_cast<std::uint16_t>(total));
  store_be16(out + 6, static_cast<std::uint16_t>(load_be16(out + 6) & kFlagDontFragment));
  store_be16(out + 10, 0);
  store_be16(out + 10, internet_checksum(std::span<const std::uint8_t>(out, header_length)));
  return std::span<std::uint8_t>(out, total);
}

}  // namespace natpunch::nat
