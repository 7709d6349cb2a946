#pragma once
// The per-round CSV of `natpunch learn --csv` (simulated or real), read by
// scripts/plot_learning.py:
//   round,who,accuracy,bytes_sent,timed_out,neighbours_complete,neighbours_partial,neighbours_silent
// `who` is "central" or "peer<index>". Written to FILE.part and renamed, so
// an interrupted run never leaves half a file.
#include <string>
#include <vector>

#include "learn/averaging_peer.hpp"

namespace natpunch::io {

struct LearningCsvSeries {
  std::string who;
  const std::vector<learn::RoundRecord>* rounds = nullptr;
};

bool write_learning_csv(const std::string& path, const std::vector<double>& central, const std::vector<LearningCsvSeries>& peers);

}  // namespace natpunch::io
