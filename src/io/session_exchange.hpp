#pragma once
// What natpunch's own tools say to each other over an open Session when
// they do not measure (io/session_measure.hpp): the test datagram that
// proves a route (`natpunch connect/listen`) and a byte stream
// (`--stdio`). Payloads are framed [flags u8 <= 7][bytes]: kGotYours says
// "your test datagram arrived", kEnd "my input ended", kSettled "my first
// punch ended" (older peers ignore it); the first byte tells
// these frames from a measuring peer's, so each side refuses the other
// mode clearly (frame_mode()).
#include <chrono>
#include <cstdint>
#include <functional>
#include <natpunch/session.hpp>
#include <optional>
#include <span>
#include <string>

namespace natpunch::io {

inline constexpr std::uint8_t kGotYours = 1;
inline constexpr std::uint8_t kEndOfInput = 2;
inline constexpr std::uint8_t kSettled = 4;
inline constexpr std::size_t kMaxFrameChunk = kMaxSessionPayload - 1;

struct Frame {
  std::uint8_t flags = 0;
  std::vector<std::uint8_t> bytes;
};
// [flags][bytes] (bytes cut at kMaxFrameChunk).
std::vector<std::uint8_t> encode_frame(std::uint8_t flags, std::span<const std::uint8_t> bytes);
// nullopt unless `payload` is such a frame (frame_mode() Plain).
std::optional<Frame> decode_frame(std::span<const std::uint8_t> payload);

struct TestExchange {
  std::optional<std::string> received;  // the peer's test text
  // From the call (made as the session opened) to the peer's test text:
  // with open_early, the first byte's way over the relay.
  std::optional<std::chrono::microseconds> received_after;
  bool interrupted = false;             // should_stop held
  bool peer_measures = false;           // the peer runs --measure: nothing exchanged
};

// Both sides send `text` every 100 ms until they have the peer's and know
// the peer has theirs (or, having the peer's, a second passes: the peer
// may already be gone), or `timeout` ends. A measuring peer ends it at
// once, after our datagram went out once more so that peer hears why too.
TestExchange exchange_test_datagram(Session& session, const std::string& text, std::chrono::milliseconds timeout,
                                    const std::function<bool()>& should_stop);

// Our first punch ended (the session opened at the pairing, on the relay):
// says so to the peer every 50 ms until the peer says the same, it closed,
// `timeout` ends or should_stop holds, then twice more. Neither side closes
// the session while the other's punch may still connect over it (a close
// ends the peer's punch on the relay: a lost last handshake message then
// left one side direct, the other relayed). True when the peer said so.
bool await_peer_settled(Session& session, std::chrono::milliseconds timeout, const std::function<bool()>& should_stop);

struct StreamResult {
  bool complete = false;  // both inputs ended (or the peer went quiet after ours)
  bool interrupted = false;
  bool peer_measures = false;
};

// `in` -> peer, peer -> `out` (file descriptors), until our input ends and
// the peer's has ended too (or it stays silent for 2 s after our end), or
// should_stop holds (the peer is told our end), or the peer turns out to
// measure.
StreamResult pipe_stream(Session& session, int in, int out, const std::function<bool()>& should_stop);

}  // namespace natpunch::io
