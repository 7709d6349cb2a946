#include "io/session_measure.hpp"

#include <algorithm>
#include <thread>
#include <vector>

#include "core/bytes.hpp"

namespace natpunch::io {

namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::microseconds;
using std::chrono::milliseconds;

constexpr std::uint8_t kPing = 'P', kPong = 'Q', kBulk = 'B', kEnd = 'E', kReport = 'R', kAck = 'K', kMeasuring = 'M';
// The test datagram's and --stdio's flags (io/session_exchange.hpp): at most these bits.
constexpr std::uint8_t kMaxPlainFlags = 7;  // kGotYours | kEndOfInput | kSettled (io/session_exchange.hpp)
constexpr int kMaxPings = 200;

std::uint64_t now_us() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<microseconds>(SteadyClock::now().time_since_epoch()).count());
}

double percentile(std::vector<double> sorted, double q) {
  if (sorted.empty()) return 0;
  const auto index = static_cast<std::size_t>(std::min<double>(sorted.size() - 1, q * (sorted.size() - 1) + 0.5));
  return sorted[index];
}

// Tells a peer in the other mode why nothing it expects will come.
void say_measuring(Session& session) {
  for (int i = 0; i < 3; ++i) session.send(std::vector<std::uint8_t>{kMeasuring});
}

}  // namespace

FrameMode frame_mode(std::span<const std::uint8_t> payload) {
  if (payload.empty()) return FrameMode::Unknown;
  switch (payload[0]) {
    case kPing:
    case kPong:
    case kBulk:
    case kEnd:
    case kReport:
    case kAck:
    case kMeasuring: return FrameMode::Measure;
    default: return payload[0] <= kMaxPlainFlags ? FrameMode::Plain : FrameMode::Unknown;
  }
}

nlohmann::json MeasureResult::to_json() const {
  return nlohmann::json{{"pings", pings},
                        {"pongs", pongs},
                        {"rtt_min_ms", rtt_min_ms},
                        {"rtt_median_ms", rtt_median_ms},
                        {"rtt_p99_ms", rtt_p99_ms},
                        {"bulk_sent", bulk_sent},
                        {"bulk_received", bulk_received},
                        {"bulk_bytes_received", bulk_bytes_received},
                        {"bulk_seconds", bulk_seconds},
                        {"throughput_mbit_s", mbit_per_s},
                        {"loss_percent", loss_percent},
                        {"report", report},
                        {"peer_not_measuring", peer_not_measuring}};
}

std::optional<MeasureResult> run_measurement(Session& session, const MeasureOptions& options,
                                             const std::function<bool()>& should_stop) {
  MeasureResult r;
  const auto start = SteadyClock::now();
  const auto rtt_until = start + std::max(milliseconds(1000), std::chrono::duration_cast<milliseconds>(options.duration) / 4);
  const auto bulk_until = start + options.duration;

  // --- RTT: one ping at a time, each waits up to 1 s for its pong.
  std::vector<double> rtts;
  while (SteadyClock::now() < rtt_until && r.pings < kMaxPings) {
    if (should_stop()) return std::nullopt;
    std::vector<std::uint8_t> ping{kPing};
    ByteWriter w(ping);
    w.u32(static_cast<std::uint32_t>(r.pings));
    w.u64(now_us());
    ++r.pings;
    session.send(ping);
    // Short: the peer may still be finishing its punch and miss the first ones.
    const auto give_up = SteadyClock::now() + milliseconds(250);
    while (SteadyClock::now() < give_up) {
      auto d = session.receive(std::chrono::duration_cast<milliseconds>(give_up - SteadyClock::now()) + milliseconds(1));
      if (!d) break;
      if (frame_mode(*d) == FrameMode::Plain) {
        say_measuring(session);
        r.peer_not_measuring = true;
        return r;
      }
      if (d->size() == ping.size() && (*d)[0] == kPong && std::equal(d->begin() + 1, d->end(), ping.begin() + 1)) {
        rtts.push_back(static_cast<double>(now_us() - load_be64(d->data() + 5)) / 1000.0);
        ++r.pongs;
        break;
      }
    }
  }
  std::sort(rtts.begin(), rtts.end());
  if (!rtts.empty()) {
    r.rtt_min_ms = rtts.front();
    r.rtt_median_ms = percentile(rtts, 0.5);
    r.rtt_p99_ms = percentile(rtts, 0.99);
  }

  // --- one-way bulk, paced when asked.
  std::vector<std::uint8_t> bulk(kMaxSessionPayload, 0x5a);
  const double bits = static_cast<double>(bulk.size()) * 8;
  const auto gap = options.rate_mbit > 0 ? microseconds(static_cast<long long>(bits / options.rate_mbit)) : microseconds(0);
  auto next = SteadyClock::now();
  while (SteadyClock::now() < bulk_until) {
    if ((r.bulk_sent & 255) == 0 && should_stop()) break;
    bulk[0] = kBulk;
    store_be32(bulk.data() + 1, static_cast<std::uint32_t>(r.bulk_sent));
    if (session.send(bulk)) ++r.bulk_sent;
    if (gap.count() > 0) {
      next += gap;
      std::this_thread::sleep_until(next);
    }
  }
  // --- the listener's count
  std::vector<std::uint8_t> end{kEnd};
  ByteWriter(end).u32(static_cast<std::uint32_t>(r.bulk_sent));
  const auto report_until = SteadyClock::now() + std::chrono::seconds(3);
  auto next_end = SteadyClock::now();
  while (SteadyClock::now() < report_until && !should_stop()) {
    if (SteadyClock::now() >= next_end) {
      session.send(end);
      next_end = SteadyClock::now() + milliseconds(200);
    }
    auto d = session.receive(milliseconds(50));
    if (!d || d->size() != 1 + 4 + 8 + 8 || (*d)[0] != kReport) continue;
    r.report = true;
    r.bulk_received = load_be32(d->data() + 1);
    r.bulk_bytes_received = load_be64(d->data() + 5);
    r.bulk_seconds = static_cast<double>(load_be64(d->data() + 13)) / 1e6;
    break;
  }
  for (int i = 0; i < 3; ++i) session.send(std::vector<std::uint8_t>{kAck});
  if (r.bulk_seconds > 0) r.mbit_per_s = static_cast<double>(r.bulk_bytes_received) * 8 / r.bulk_seconds / 1e6;
  if (r.bulk_sent > 0 && r.report)
    r.loss_percent = 100.0 * static_cast<double>(r.bulk_sent - std::min(r.bulk_sent, r.bulk_received)) /
                     static_cast<double>(r.bulk_sent);
  return r;
}

MeasureServed serve_measurement(Session& session, const MeasureOptions& options,
                                const std::function<bool()>& should_stop) {
  const auto give_up = SteadyClock::now() + options.duration + std::chrono::seconds(10);
  bool served = false;
  std::uint64_t received = 0, bytes = 0;
  std::optional<SteadyClock::time_point> first, last;
  std::optional<SteadyClock::time_point> report_until;
  std::vector<std::uint8_t> report;
  while (SteadyClock::now() < give_up && !should_stop()) {
    if (report_until && SteadyClock::now() > *report_until) break;
    auto d = session.receive(milliseconds(50));
    if (!d || d->empty()) continue;
    if (frame_mode(*d) == FrameMode::Plain) {
      say_measuring(session);
      return {served, true};
    }
    switch ((*d)[0]) {
      case kPing:
        served = true;
        (*d)[0] = kPong;
        session.send(*d);
        break;
      case kBulk:
        served = true;
        ++received;
        bytes += d->size();
        if (!first) first = SteadyClock::now();
        last = SteadyClock::now();
        break;
      case kEnd: {
        served = true;
        report.assign({kReport});
        ByteWriter w(report);
        w.u32(static_cast<std::uint32_t>(received));
        w.u64(bytes);
        const auto span = first && last && *last > *first ? *last - *first : SteadyClock::duration::zero();
        w.u64(static_cast<std::uint64_t>(std::chrono::duration_cast<microseconds>(span).count()));
        session.send(report);
        if (!report_until) report_until = SteadyClock::now() + std::chrono::seconds(3);
        break;
      }
      case kAck:
        if (report_until) return {served, false};
        break;
      default: break;
    }
  }
  return {served, false};
}

}  // namespace natpunch::io
