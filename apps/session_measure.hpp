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
// The first 'B' or 'P' also tells a listener that the peer measures.
#include <chrono>
#include <cstdint>
#include <functional>
#include <natpunch/session.hpp>
#include <nlohmann/json.hpp>
#include <optional>

namespace natpunch::cli {

struct MeasureOptions {
  std::chrono::seconds duration{10};  // whole run; RTT takes ~1/4 of it (>= 1 s, at most 200 pings)
  double rate_mbit = 0;               // bulk pacing; 0: as fast as the socket takes it
};

struct MeasureResult {
  int pings = 0, pongs = 0;
  double rtt_min_ms = 0, rtt_median_ms = 0, rtt_p99_ms = 0;
  std::uint64_t bulk_sent = 0, bulk_received = 0, bulk_bytes_received = 0;
  double bulk_seconds = 0;  // the receiver's first-to-last span
  double mbit_per_s = 0, loss_percent = 0;
  bool report = false;  // the listener's count arrived
  nlohmann::json to_json() const;
};

// Connector side. nullopt when interrupted before anything was measured.
std::optional<MeasureResult> run_measurement(Session& session, const MeasureOptions& options,
                                             const std::function<bool()>& should_stop);
// Listener side: serves until the connector is done or `duration` + 10 s pass.
// True when a measuring peer was served.
bool serve_measurement(Session& session, const MeasureOptions& options, const std::function<bool()>& should_stop);

}  // namespace natpunch::cli
