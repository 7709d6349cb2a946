#include "wire/probe.hpp"

namespace natpunch::wire {
namespace {

constexpr std::uint8_t kMagic0 = 'N';
constexpr std::uint8_t kMagic1 = 'P';

void put_u64(std::uint8_t* out, std::uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) out[i] = static_cast<std::uint8_t>(v);
}
void put_u32(std::uint8_t* out, std::uint32_t v) {
  for (int i = 3; i >= 0; --i, v >>= 8) out[i] = static_cast<std::uint8_t>(v);
}
std::uint64_t get_u64(const std::uint8_t* in) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | in[i];
  return v;
}
std::uint32_t get_u32(const std::uint8_t* in) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | in[i];
  return v;
}

}  // namespace

ProbeBytes encode(const ProbeMessage& message) {
  ProbeBytes out{};
  out[0] = kMagic0;
  out[1] = kMagic1;
  out[2] = kProbeVersion;
  out[3] = static_cast<std::uint8_t>(message.kind);
  put_u64(out.data() + 4, message.session_id);
  put_u32(out.data() + 12, message.sequence);
  return out;
}

void set_sequence(ProbeBytes& bytes, std::uint32_t sequence) { put_u32(bytes.data() + 12, sequence); }

std::optional<ProbeMessage> decode_probe(std::span<const std::uint8_t> bytes) {
  if (bytes.size() != kProbeSize) return std::nullopt;
  if (bytes[0] != kMagic0 || bytes[1] != kMagic1 || bytes[2] != kProbeVersion) return std::nullopt;
  if (bytes[3] != static_cast<std::uint8_t>(ProbeKind::Probe) && bytes[3] != static_cast<std::uint8_t>(ProbeKind::Ack))
    return std::nullopt;
  return ProbeMessage{static_cast<ProbeKind>(bytes[3]), get_u64(bytes.data() + 4), get_u32(bytes.data() + 12)};
}

}  // namespace natpunch::wire
