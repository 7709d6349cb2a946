#pragma once
// `natpunch connect/listen --measure SECONDS`: RTT and one-way throughput
// over an open Session, whatever its route. The connector measures, the
// listener serves (answers pings, counts the bulk datagrams, reports).
//
// Frames inside session payloads, [kind u8][...] (all integers big-endian):
//   'P' ping  [id u32][t u64]   answered by 'Q' with the same bytes
//   'B' bulk  [seq u32][fill]   one-way load, as large as a session allows
//   'E' end   [sent u32]        the bulk phase is over (sent 3 times)
//   'R' report [received u32][bytes u64][span_us u64]  the listener's count,
//              repeated until the connector says 'K' (or a few seconds pass)
//   'M' measuring  (nothing)    "I run --measure": sent by a measuring side
//              that hears a peer in the other mode
// The first 'B' or 'P' also tells a listener that the peer measures.
//
// The test datagram and --stdio frame payloads as [flags <= 3][bytes], so
// the first byte tells the two modes apart: a side in one mode that hears
// the other refuses clearly on both ends instead of taking the peer's
// frames for data (issue 22: a plain listener reported a measuring
// caller's ping as its "test datagram", while the caller got no pong).
#include <chrono>
#include <cstdint>
#include <functional>
#include <natpunch/session.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>

namespace natpunch::io {

struct MeasureOptions {
  std::chrono::seconds duration{10};  // whole run; RTT takes ~1/4 of it (>= 1 s, at most 200 pings)
  double rate_mbit = 0;               // bulk pacing; 0: as fast as the socket takes it
};

enum class FrameMode { Plain, Measure, Unknown };
// Which mode sent `payload` (empty or unknown first bytes: Unknown).
FrameMode frame_mode(std::span<const std::uint8_t> payload);
// One line each side prints when the modes differ.
inline constexpr const char* kPeerMeasures =
    "the peer runs --measure: run this side with --measure too (or the peer without it)";
inline constexpr const char* kPeerDoesNotMeasure =
    "the peer does not run --measure: run both sides with --measure (or neither)";

struct MeasureResult {
  int pings = 0, pongs = 0;
  double rtt_min_ms = 0, rtt_median_ms = 0, rtt_p99_ms = 0;
  std::uint64_t bulk_sent = 0, bulk_received = 0, bulk_bytes_received = 0;
  double bulk_seconds = 0;  // the receiver's first-to-last span
  double mbit_per_s = 0, loss_percent = 0;
  bool report = false;  // the listener's count arrived
  bool peer_not_measuring = false;  // the peer sent test or --stdio frames: nothing measured
  nlohmann::json to_json() const;
};

// Connector side. nullopt when interrupted before anything was measured.
std::optional<MeasureResult> run_measurement(Session& session, const MeasureOptions& options,
                                             const std::function<bool()>& should_stop);
// Listener side: serves until the connector is done or `duration` + 10 s pass.
struct MeasureServed {
  bool served = false;              // a measuring peer was served
  bool peer_not_measuring = false;  // the peer sent test or --stdio frames instead
};
MeasureServed serve_measurement(Session& session, const MeasureOptions& options,
                                const std::function<bool()>& should_stop);

}  // namespace natpunch::io
