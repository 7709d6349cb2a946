// libFuzzer target for mapping-log parsing, joining and allocator
// detection: any bytes parse without crashing, every non-blank line is
// accounted for exactly once, and the analysis of whatever parsed stays
// within its contract. The input is split at the first NUL-free "\n--\n"
// into a client and a server log, so joins see matching ids.
//
// Speed: parsing and joining run on every input (they are the parsers of
// outside bytes). Allocator detection is the expensive part: from 50 joined
// rows on it scans all 65,536 ports for each of 15 block sizes and may run
// a Nelder-Mead Beta MLE -- milliseconds per input under the sanitizers. So
// it runs on every join below 50 rows (the detector stops early there), and
// on a deterministic 1 in kAnalysisEvery of the joins with 50 to
// kMaxRowsForAnalysis rows (chosen by a hash of the bytes, so a crashing
// input reproduces). Measured: ~6,800 executions per CPU-second (>100k per
// 15 s on an idle core), 8x the rate of running the detector on every input.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "analyze/allocator_detect.hpp"
#include "analyze/mapping_join.hpp"
#include "analyze/mapping_log.hpp"
#include "analyze/plot_data.hpp"

#include "fuzz_check.hpp"

namespace {

constexpr std::size_t kMaxRowsForAnalysis = 160;
constexpr std::uint64_t kAnalysisEvery = 256;

std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t h = 0xcbf29ce484222325u;
  for (unsigned char c : text) h = (h ^ c) * 0x100000001b3u;
  return h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace natpunch::analyze;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto split = text.find("\n--\n");
  const std::string_view client_text = text.substr(0, split);
  const std::string_view server_text = split == std::string_view::npos ? text : text.substr(split + 4);

  const auto client = parse_mapping_log(client_text, LogSide::Client);
  const auto server = parse_mapping_log(server_text, LogSide::Server);
  for (const auto* log : {&client, &server}) {
    FUZZ_CHECK(log->records.size() + log->header_lines + log->malformed_total() == log->lines);
    for (const auto& record : log->records) {
      FUZZ_CHECK(!log->id_of(record).empty());
      FUZZ_CHECK(record.sender_port != 0 && record.receiver_port != 0);
    }
  }
  const auto joined = join_mappings(client, server);
  FUZZ_CHECK(joined.rows.size() <= client.records.size() && joined.rows.size() <= server.records.size());
  for (std::size_t i = 1; i < joined.rows.size(); ++i)
    FUZZ_CHECK(!(joined.rows[i].client_time_ms < joined.rows[i - 1].client_time_ms));
  const auto sessions = assign_sessions(joined.rows, 30'000);
  FUZZ_CHECK(sessions.size() == joined.rows.size());
  for (std::size_t i = 1; i < sessions.size(); ++i)
    FUZZ_CHECK(sessions[i] == sessions[i - 1] || sessions[i] == sessions[i - 1] + 1);
  // Joins too small to analyse skip detection's statistics but are cheap:
  // run it on every one of them.
  const bool small = joined.rows.size() < kMinRowsForDetection;
  if (joined.rows.size() > kMaxRowsForAnalysis || (!small && fnv1a(text) % kAnalysisEvery != 0)) return 0;
  const auto detected = detect_allocator(joined.rows);
  FUZZ_CHECK(detected.evidence.rows == joined.rows.size());
  if (detected.kind == AllocatorKind::Block) {
    FUZZ_CHECK(detected.block_size && *detected.block_size >= 2);
    FUZZ_CHECK(detected.block_order && detected.evidence.block);
    const auto& block = *detected.evidence.block;
    FUZZ_CHECK(block.visits >= 1 && block.visits <= joined.rows.size());
    for (double fraction : {block.start_aligned_fraction, block.consumed_whole_fraction, block.in_visit_step_fraction,
                            block.reused_start_fraction, block.reused_block_fraction})
      FUZZ_CHECK(fraction >= 0 && fraction <= 1);
  }
  FUZZ_CHECK(detected.evidence.sessions <= joined.rows.size());
  std::size_t run_rows = 0;
  for (const auto& [length, runs] : detected.evidence.run_lengths) run_rows += length * runs;
  FUZZ_CHECK(run_rows == joined.rows.size());
  if (const auto& uniform = detected.evidence.uniform)
    FUZZ_CHECK(uniform->chi_square.p >= 0 && uniform->chi_square.p <= 1);
  // The figures' data is computed from whatever was detected.
  const auto histogram = histogram_csv(joined.rows, detected);
  FUZZ_CHECK(!histogram.empty());
  FUZZ_CHECK(!run_lengths_csv(detected.evidence).empty());
  FUZZ_CHECK(!mappings_csv(joined.rows, 30'000).empty());
  return 0;
}
