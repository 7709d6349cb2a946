// libFuzzer target for the ChannelData decoder (RFC 8656 §12.4): never
// reads past the input, and whatever decodes re-encodes (padded or not) to
// a message that decodes to the same channel and payload.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "fuzz_check.hpp"
#include "turn/channel_data.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace natpunch::turn;
  const std::span<const std::uint8_t> input(data, size);
  auto view = decode_channel_data(input);
  if (!view.ok()) {
    FUZZ_CHECK(!to_string(view.error()).empty());
    return 0;
  }
  FUZZ_CHECK(looks_like_channel_data(input));
  FUZZ_CHECK(is_valid_channel(view->channel));
  FUZZ_CHECK(view->payload.size() + kChannelDataHeaderSize <= size);
  for (const bool pad : {false, true}) {
    std::vector<std::uint8_t> wire;
    FUZZ_CHECK(append_channel_data(view->channel, view->payload, pad, wire));
    FUZZ_CHECK(!pad || wire.size() % 4 == 0);
    auto again = decode_channel_data(wire);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(again->channel == view->channel);
    FUZZ_CHECK(std::equal(again->payload.begin(), again->payload.end(), view->payload.begin(), view->payload.end()));
  }
  return 0;
}
