#pragma once
// Counters and gauges in the Prometheus text exposition format (version
// 0.0.4): what `natpunch rendezvous --metrics` serves and SIGUSR1 prints.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace natpunch {

struct Metric {
  std::string name;  // [a-zA-Z_:][a-zA-Z0-9_:]*
  std::string help;
  bool counter = true;  // false: gauge
  double value = 0;
  std::string labels;  // e.g. reason="bad_mac" (already escaped), or empty
};

// One HELP/TYPE pair per name (metrics of one name must be adjacent).
inline std::string prometheus_text(const std::vector<Metric>& metrics) {
  std::string out;
  std::string_view last;
  for (const auto& m : metrics) {
    if (m.name != last) {
      out += "# HELP " + m.name + " " + m.help + "\n# TYPE " + m.name + (m.counter ? " counter\n" : " gauge\n");
      last = m.name;
    }
    out += m.name;
    if (!m.labels.empty()) out += "{" + m.labels + "}";
    // Counters are integers; print them without a fraction.
    const auto whole = static_cast<long long>(m.value);
    out += " " + (static_cast<double>(whole) == m.value ? std::to_string(whole) : std::to_string(m.value)) + "\n";
  }
  return out;
}

}  // namespace natpunch
