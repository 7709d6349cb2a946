#include "io/learning_csv.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace natpunch::io {

bool write_learning_csv(const std::string& path, const std::vector<double>& central, const std::vector<LearningCsvSeries>& peers) {
  const std::string temporary = path + ".part";
  {
    std::ofstream out(temporary);
    if (!out) return false;
    out << "round,who,accuracy,bytes_sent,timed_out,neighbours_complete,neighbours_partial,neighbours_silent\n";
    for (std::size_t i = 0; i < central.size(); ++i) out << i + 1 << ",central," << central[i] << ",0,0,0,0,0\n";
    for (const auto& series : peers)
      for (const auto& record : *series.rounds)
        out << record.round << "," << series.who << "," << record.accuracy << "," << record.bytes_sent << ","
            << (record.timed_out ? 1 : 0) << "," << record.neighbours_complete << "," << record.neighbours_partial << ","
            << record.neighbours_silent << "\n";
    if (!out.flush()) {
      out.close();
      std::remove(temporary.c_str());
      return false;
    }
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec) std::remove(temporary.c_str());
  return !ec;
}

}  // namespace natpunch::io
