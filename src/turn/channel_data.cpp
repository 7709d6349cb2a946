#include "turn/channel_data.hpp"

#include "core/bytes.hpp"

namespace natpunch::turn {
namespace {

constexpr std::size_t padded(std::size_t length) { return (length + 3) & ~std::size_t{3}; }
constexpr std::size_t kMaxPayload = 0xFFFF;

}  // namespace

std::string_view to_string(ChannelDataError error) {
  switch (error) {
    case ChannelDataError::kTooShort: return "shorter than the 4-byte ChannelData header";
    case ChannelDataError::kNotChannelData: return "first two bits are not 01 (not ChannelData)";
    case ChannelDataError::kBadChannelNumber: return "channel number outside 0x4000-0x4FFF";
    case ChannelDataError::kTruncated: return "length field claims more bytes than the message has";
    case ChannelDataError::kTrailingBytes: return "more bytes after the data than 4-byte padding allows";
  }
  return "unknown ChannelData error";
}

bool looks_like_channel_data(std::span<const std::uint8_t> bytes) {
  return !bytes.empty() && (bytes[0] & 0xC0) == 0x40;
}

Result<ChannelDataView, ChannelDataError> decode_channel_data(std::span<const std::uint8_t> bytes) {
  ByteReader reader(bytes);
  std::uint16_t channel = 0;
  std::uint16_t length = 0;
  if (!reader.u16(channel) || !reader.u16(length)) return Unexpected{ChannelDataError::kTooShort};
  if ((channel & 0xC000) != 0x4000) return Unexpected{ChannelDataError::kNotChannelData};
  if (!is_valid_channel(channel)) return Unexpected{ChannelDataError::kBadChannelNumber};
  ChannelDataView view{channel, {}};
  if (!reader.view(length, view.payload)) return Unexpected{ChannelDataError::kTruncated};
  if (reader.remaining() > padded(length) - length) return Unexpected{ChannelDataError::kTrailingBytes};
  return view;
}

bool append_channel_data(std::uint16_t channel, std::span<const std::uint8_t> payload, bool pad,
                         std::vector<std::uint8_t>& out) {
  if (payload.size() > kMaxPayload) return false;
  ByteWriter writer(out);
  writer.u16(channel);
  writer.u16(static_cast<std::uint16_t>(payload.size()));
  writer.bytes(payload);
  if (pad) writer.zeros(padded(payload.size()) - payload.size());
  return true;
}

}  // namespace natpunch::turn
