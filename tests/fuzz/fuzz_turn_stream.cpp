// libFuzzer target for the TURN stream framer (RFC 8656 §12.5) and the
// client machine behind it. The first input byte picks a piece size; the
// rest is the stream. Checks: the frames do not depend on how the stream
// was cut; each frame is one whole message of its kind; memory stays
// bounded; and a TURN client fed the same bytes as its server's answers
// (over TCP, and over UDP as datagrams) ends in a defined state without
// crashing or hanging.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/rng.hpp"
#include "fuzz_check.hpp"
#include "stun/message.hpp"
#include "turn/channel_data.hpp"
#include "turn/client.hpp"
#include "turn/stream_framer.hpp"

namespace {

using namespace natpunch;
using namespace natpunch::turn;
using Frames = std::vector<std::vector<std::uint8_t>>;

Frames frames_of(std::span<const std::uint8_t> stream, std::size_t piece, bool& broken) {
  StreamFramer framer;
  Frames out;
  for (std::size_t i = 0; i < stream.size(); i += piece) {
    framer.push(stream.subspan(i, std::min(piece, stream.size() - i)));
    while (auto frame = framer.next()) {
      out.emplace_back(frame->bytes.begin(), frame->bytes.end());
      if (frame->kind == FrameKind::kStun) {
        FUZZ_CHECK(frame->bytes.size() >= 20 && (frame->bytes[0] & 0xC0) == 0);
        (void)stun::MessageView::decode(frame->bytes);
      } else {
        FUZZ_CHECK(looks_like_channel_data(frame->bytes));
        FUZZ_CHECK(decode_channel_data(frame->bytes).ok());
      }
    }
    // One partial frame at most: a STUN message is 20 + 65535 bytes long.
    FUZZ_CHECK(framer.buffered() <= 20 + 0xFFFF + piece);
  }
  broken = framer.error().has_value();
  return out;
}

void drive_client(Transport transport, std::span<const std::uint8_t> answers, std::size_t piece) {
  Rng rng(1);
  ClientConfig config;
  config.server = Endpoint{IpAddress::v4({203, 0, 113, 10}), 3478};
  config.transport = transport;
  config.credentials = {"alice", "secret"};
  config.udp_retransmit = {milliseconds(100), 2, 2};
  config.stream_timeout = milliseconds(300);
  Client client(config, rng);
  TimePoint now = kTimeZero;
  client.allocate(now);
  client.create_permission(now, IpAddress::v4({203, 0, 113, 102}));
  client.bind_channel(now, Endpoint{IpAddress::v4({203, 0, 113, 102}), 3480});
  for (std::size_t i = 0; i < answers.size() && !client.done(); i += piece) {
    while (client.poll_transmit(now)) {
    }
    client.on_datagram(now, 0, config.server, answers.subspan(i, std::min(piece, answers.size() - i)));
    const std::uint8_t payload[4] = {1, 2, 3, 4};
    client.send(now, Endpoint{IpAddress::v4({203, 0, 113, 102}), 3480}, payload);
    while (client.poll_event()) {
    }
  }
  // Time runs out: every request ends (answered, or timed out) — no hang.
  for (int step = 0; step < 10000 && !client.done(); ++step) {
    while (client.poll_transmit(now)) {
    }
    while (client.poll_event()) {
    }
    const auto deadline = client.next_deadline();
    if (!deadline) break;
    now = std::max(now + milliseconds(1), *deadline);
    client.on_timer(now);
    if (client.state() == Client::State::kAllocated) client.close(now);
  }
  FUZZ_CHECK(client.done());
}

// The frames as UDP answers that match the client's request in flight
// (its cookie and transaction id spliced in): 401/438 challenges need no
// HMAC, so arbitrary realms, nonces and algorithm lists reach the
// long-term credential logic and the signed requests after them.
void answer_requests(const Frames& frames) {
  Rng rng(2);
  ClientConfig config;
  config.server = Endpoint{IpAddress::v4({203, 0, 113, 10}), 3478};
  config.credentials = {"alice", "secret"};
  config.udp_retransmit = {milliseconds(100), 2, 2};
  Client client(config, rng);
  TimePoint now = kTimeZero;
  client.allocate(now);
  std::vector<std::uint8_t> last_request;
  for (const auto& frame : frames) {
    if (client.done()) break;
    while (auto transmit = client.poll_transmit(now))
      if (transmit->bytes.size() >= 20 && (transmit->bytes[0] & 0xC0) == 0) last_request = transmit->bytes.to_vector();
    std::vector<std::uint8_t> answer = frame;
    if (answer.size() >= 20 && last_request.size() >= 20 && (answer[0] & 0xC0) == 0)
      std::copy(last_request.begin() + 4, last_request.begin() + 20, answer.begin() + 4);
    client.on_datagram(now, 0, config.server, answer);
    while (client.poll_event()) {
    }
    now += milliseconds(10);
    client.on_timer(now);
  }
  for (int step = 0; step < 10000 && !client.done(); ++step) {
    while (client.poll_transmit(now)) {
    }
    while (client.poll_event()) {
    }
    const auto deadline = client.next_deadline();
    if (!deadline) break;
    now = std::max(now + milliseconds(1), *deadline);
    client.on_timer(now);
    if (client.state() == Client::State::kAllocated) client.close(now);
  }
  FUZZ_CHECK(client.done());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t piece = 1 + data[0] % 64;
  const std::span<const std::uint8_t> stream(data + 1, size - 1);
  bool broken_whole = false;
  bool broken_pieces = false;
  const Frames whole = frames_of(stream, stream.empty() ? 1 : stream.size(), broken_whole);
  const Frames pieces = frames_of(stream, piece, broken_pieces);
  FUZZ_CHECK(whole == pieces);
  FUZZ_CHECK(broken_whole == broken_pieces);
  drive_client(Transport::kTcp, stream, piece);
  drive_client(Transport::kUdp, stream, piece);
  answer_requests(whole);
  return 0;
}
