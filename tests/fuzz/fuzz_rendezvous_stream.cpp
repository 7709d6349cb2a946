// libFuzzer target for the rendezvous stream deframer (TCP/TLS framing,
// rendezvous/stream_framing.hpp). The first input byte picks a piece size;
// the rest is the stream. Checks: the messages do not depend on how the
// stream was cut; each is 1..kMaxMessageSize bytes and re-frames to the
// bytes it came from; memory stays bounded by one partial frame plus one
// push; and each message goes through the decoder without a crash.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "fuzz_check.hpp"
#include "rendezvous/messages.hpp"
#include "rendezvous/stream_framing.hpp"

namespace {

using namespace natpunch::rendezvous;
using Messages = std::vector<std::vector<std::uint8_t>>;

Messages messages_of(std::span<const std::uint8_t> stream, std::size_t piece, bool& broken) {
  StreamDeframer deframer;
  Messages out;
  for (std::size_t i = 0; i < stream.size(); i += piece) {
    deframer.push(stream.subspan(i, std::min(piece, stream.size() - i)));
    while (auto m = deframer.next()) {
      FUZZ_CHECK(!m->empty() && m->size() <= kMaxMessageSize);
      out.emplace_back(m->begin(), m->end());
      (void)decode(*m);
    }
    FUZZ_CHECK(deframer.buffered() <= kFrameHeaderSize + kMaxMessageSize + piece);
  }
  broken = deframer.error().has_value();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t piece = 1 + data[0] % 64;
  const std::span<const std::uint8_t> stream(data + 1, size - 1);
  bool broken_whole = false;
  bool broken_pieces = false;
  const Messages whole = messages_of(stream, stream.empty() ? 1 : stream.size(), broken_whole);
  const Messages pieces = messages_of(stream, piece, broken_pieces);
  FUZZ_CHECK(whole == pieces);
  FUZZ_CHECK(broken_whole == broken_pieces);
  // What came out, framed again, is the stream's prefix it was read from.
  std::vector<std::uint8_t> reframed;
  for (const auto& m : whole) FUZZ_CHECK(append_frame(reframed, m));
  FUZZ_CHECK(reframed.size() <= stream.size());
  FUZZ_CHECK(std::equal(reframed.begin(), reframed.end(), stream.begin()));
  return 0;
}
