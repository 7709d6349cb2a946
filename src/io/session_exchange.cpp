#include "io/session_exchange.hpp"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <array>

#include "core/time.hpp"
#include "io/session_measure.hpp"

namespace natpunch::io {

namespace {

void send_frame(Session& s, std::uint8_t flags, std::span<const std::uint8_t> bytes) {
  s.send(encode_frame(flags, bytes));
}

struct Received {
  Frame frame;
  bool measure = false;  // the peer's --measure framing, not ours
};

// The next frame of ours or the first of a measuring peer, by `deadline`.
std::optional<Received> receive_frame(Session& s, TimePoint deadline) {
  for (;;) {
    const auto now = Clock::now();
    const auto wait = deadline > now ? std::chrono::ceil<std::chrono::milliseconds>(deadline - now) : milliseconds(0);
    auto payload = s.receive(wait);
    if (!payload) return std::nullopt;
    const auto mode = frame_mode(*payload);
    if (mode == FrameMode::Measure) return Received{{}, true};
    if (auto frame = decode_frame(*payload)) return Received{std::move(*frame), false};
  }
}

bool write_all(int fd, std::span<const std::uint8_t> bytes) {
  while (!bytes.empty()) {
    const auto n = ::write(fd, bytes.data(), bytes.size());
    if (n <= 0) return false;
    bytes = bytes.subspan(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

std::vector<std::uint8_t> encode_frame(std::uint8_t flags, std::span<const std::uint8_t> bytes) {
  const auto n = std::min(bytes.size(), kMaxFrameChunk);
  std::vector<std::uint8_t> framed(n + 1);
  framed[0] = flags;
  std::copy_n(bytes.begin(), n, framed.begin() + 1);
  return framed;
}

std::optional<Frame> decode_frame(std::span<const std::uint8_t> payload) {
  if (frame_mode(payload) != FrameMode::Plain) return std::nullopt;
  return Frame{payload.front(), {payload.begin() + 1, payload.end()}};
}

TestExchange exchange_test_datagram(Session& s, const std::string& text, std::chrono::milliseconds timeout,
                                    const std::function<bool()>& should_stop) {
  const std::vector<std::uint8_t> payload(text.begin(), text.end());
  const auto called = Clock::now();
  const auto deadline = called + timeout;
  TestExchange result;
  bool peer_has_ours = false;
  TimePoint got_at{};
  TimePoint next_send = Clock::now();
  while (Clock::now() < deadline) {
    if (should_stop && should_stop()) {
      result.interrupted = true;
      return result;
    }
    const auto now = Clock::now();
    if (result.received && (peer_has_ours || now - got_at > seconds(1))) break;
    if (now >= next_send) {
      send_frame(s, result.received ? kGotYours : 0, payload);
      next_send = now + milliseconds(100);
    }
    if (auto r = receive_frame(s, std::min(next_send, deadline))) {
      if (r->measure) {
        result.peer_measures = true;
        result.received.reset();
        send_frame(s, 0, payload);
        return result;
      }
      if (r->frame.flags & kSettled) continue;  // the peer's word for later (await_peer_settled)
      if (!result.received) {
        result.received = std::string(r->frame.bytes.begin(), r->frame.bytes.end());
        got_at = Clock::now();
        result.received_after = std::chrono::duration_cast<std::chrono::microseconds>(got_at - called);
      }
      if (r->frame.flags & kGotYours) peer_has_ours = true;
    }
  }
  // The peer may still wait to hear that its datagram arrived.
  if (result.received)
    for (int i = 0; i < 2; ++i) send_frame(s, kGotYours, payload);
  return result;
}

bool await_peer_settled(Session& s, std::chrono::milliseconds timeout, const std::function<bool()>& should_stop) {
  const auto deadline = Clock::now() + timeout;
  bool heard = false;
  TimePoint next_send = Clock::now();
  while (!heard && Clock::now() < deadline && !(should_stop && should_stop()) && !s.stats().peer_closed) {
    const auto now = Clock::now();
    if (now >= next_send) {
      send_frame(s, kSettled, {});
      next_send = now + milliseconds(50);
    }
    if (auto r = receive_frame(s, std::min(next_send, deadline)); r && !r->measure && (r->frame.flags & kSettled))
      heard = true;
  }
  if (heard)
    for (int i = 0; i < 2; ++i) send_frame(s, kSettled, {});  // the peer may still wait for ours
  return heard;
}

StreamResult pipe_stream(Session& s, int in, int out, const std::function<bool()>& should_stop) {
  StreamResult result;
  bool our_end = false, their_end = false;
  TimePoint last_heard = Clock::now();
  std::array<std::uint8_t, kMaxFrameChunk> buffer{};
  const auto say_end = [&s] {
    for (int i = 0; i < 3; ++i) send_frame(s, kEndOfInput, {});  // datagrams: more than once
  };
  while (!(our_end && (their_end || Clock::now() - last_heard > seconds(2)))) {
    if (should_stop && should_stop()) {
      result.interrupted = true;
      say_end();  // the peer need not wait for us
      return result;
    }
    if (!our_end) {
      pollfd readable{in, POLLIN, 0};
      if (::poll(&readable, 1, 0) > 0) {
        const auto n = ::read(in, buffer.data(), buffer.size());
        if (n > 0) {
          send_frame(s, 0, std::span(buffer.data(), static_cast<std::size_t>(n)));
        } else {
          our_end = true;
          say_end();
        }
      }
    }
    if (auto r = receive_frame(s, Clock::now() + milliseconds(20))) {
      if (r->measure) {
        result.peer_measures = true;
        say_end();
        return result;
      }
      last_heard = Clock::now();
      if (r->frame.flags & kEndOfInput) their_end = true;
      if (!r->frame.bytes.empty()) write_all(out, r->frame.bytes);
    }
  }
  result.complete = true;
  return result;
}

}  // namespace natpunch::io
