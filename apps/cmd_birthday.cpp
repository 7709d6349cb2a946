// `natpunch birthday`: the analytic odds of random-port hole punching, so a
// strategy or simulator result can be checked against the arithmetic, and
// the thesis's figures (Sections III-A and VI-E) can be reproduced.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "commands.hpp"
#include "punch/birthday_model.hpp"

namespace natpunch::cli {

namespace {

using namespace natpunch::punch;

// ---- parsing -------------------------------------------------------------

std::optional<std::uint64_t> parse_whole(const std::string& s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  for (char c : s)
    if (c < '0' || c > '9') return std::nullopt;
  errno = 0;
  const unsigned long long v = std::strtoull(s.c_str(), nullptr, 10);
  if (errno == ERANGE) return std::nullopt;
  return static_cast<std::uint64_t>(v);
}

std::optional<double> parse_real(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

// "N" or "B^E", so the thesis's 65535^2 and the 2^32 can be typed as written.
std::optional<std::uint64_t> parse_space(const std::string& s) {
  const auto caret = s.find('^');
  if (caret == std::string::npos) return parse_whole(s);
  const auto base = parse_whole(s.substr(0, caret));
  const auto exponent = parse_whole(s.substr(caret + 1));
  if (!base || !exponent || *exponent > 64) return std::nullopt;
  std::uint64_t v = 1;
  for (std::uint64_t i = 0; i < *exponent; ++i) {
    if (*base != 0 && v > kMaxSpace / *base) return std::nullopt;
    v *= *base;
  }
  return v;
}

// Accepts 0.999 and 99.9% alike; rewrites the percent form to a fraction.
CLI::Validator open_probability() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        std::string number = s;
        const bool percent = !number.empty() && number.back() == '%';
        if (percent) number.pop_back();
        auto v = parse_real(number);
        if (v && percent) *v /= 100.0;
        if (!v || !(*v > 0.0 && *v < 1.0))
          return "must be a probability strictly between 0 and 1 (like 0.5, 0.999 or 99.9%), got '" + s + "'";
        if (percent) {
          char buf[64];
          std::snprintf(buf, sizeof buf, "%.17g", *v);
          s = buf;
        }
        return {};
      },
      "");
}

CLI::Validator whole_number(std::uint64_t minimum, std::uint64_t maximum = UINT64_MAX) {
  return CLI::Validator(
      [minimum, maximum](std::string& s) -> std::string {
        const auto v = parse_whole(s);
        if (!v || *v < minimum || *v > maximum)
          return "must be a whole number from " + std::to_string(minimum) +
                 (maximum == UINT64_MAX ? " up" : " to " + std::to_string(maximum)) + ", got '" + s + "'";
        return {};
      },
      "");
}

CLI::Validator positive_real() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        const auto v = parse_real(s);
        if (!v || !(*v > 0.0)) return "must be a positive number, got '" + s + "'";
        return {};
      },
      "");
}

CLI::Validator space_size() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        const auto v = parse_space(s);
        if (!v || *v < 1)
          return "must be a whole number or POWER like 2^32 or 65535^2, between 1 and 2^53, got '" + s + "'";
        s = std::to_string(*v);
        return {};
      },
      "");
}

// ---- formatting ----------------------------------------------------------

// Thousands separators on the integer part, as the thesis prints its figures
// (the leading digits only: "1e-298" and "-1234.5" keep their other parts).
std::string grouped(const std::string& digits) {
  const std::size_t sign = !digits.empty() && digits.front() == '-' ? 1 : 0;
  std::size_t end = sign;
  while (end < digits.size() && digits[end] >= '0' && digits[end] <= '9') ++end;
  const std::string integer = digits.substr(sign, end - sign);
  std::string out = digits.substr(0, sign);
  const std::size_t first = integer.size() % 3 == 0 ? 3 : integer.size() % 3;
  for (std::size_t i = 0; i < integer.size(); ++i) {
    if (i >= first && (i - first) % 3 == 0) out += ',';
    out += integer[i];
  }
  return out + digits.substr(end);
}

std::string grouped(std::uint64_t v) { return grouped(std::to_string(v)); }

// Validated options always reach a count; this only guards the model's contract.
std::string grouped(const std::optional<std::uint64_t>& v) { return v ? grouped(*v) : std::string("no count"); }

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return grouped(buf);
}

std::string scientific(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4e", v);
  return buf;
}

// Prints 100 % only for true certainty (more draws than values, every port
// mapped); a probability that merely rounds to 1 is shown as "> 99.9999 %",
// and the failure column carries the digits that matter near certainty.
// Likewise 0 % only for impossibility (too few draws for any hit; the
// models' floating point can give -0 there), "< 0.0001 %" for the merely tiny.
std::string percent(double p, bool certain) {
  if (certain) return "100 %";
  if (p >= 0.9999995) return "> 99.9999 %";
  if (p <= 0.0) return "0 %";
  if (p < 0.0000005) return "< 0.0001 %";
  return fixed(p * 100.0, 4) + " %";
}

std::string failure(double p) {
  const double q = 1.0 - p;
  return q <= 0.0 ? "1 - P < 1e-16" : "1 - P = " + scientific(q);
}

std::string human_duration(double ms) {
  if (ms < 1000.0) return fixed(ms, 1) + " ms";
  const double s = ms / 1000.0;
  if (s < 120.0) return fixed(s, 1) + " seconds";
  if (s < 120.0 * 60.0) return fixed(s / 60.0, 1) + " minutes";
  if (s < 72.0 * 3600.0) return fixed(s / 3600.0, 1) + " hours";
  return fixed(s / 86400.0, 1) + " days";
}

std::string padded(const std::string& s, std::size_t width) {
  return s.size() >= width ? s + " " : s + std::string(width - s.size(), ' ');
}

// Short, exact decimal for echoing inputs: 79.2 rather than 79.200000.
std::string plain(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return grouped(buf);
}

// ---- `natpunch birthday --success / --probes` ----------------------------

struct BirthdayCliOptions {
  double success = 0;
  std::uint64_t probes = 0;
  std::string model = "all";
  std::uint64_t space = kThesisPortPairSpace;
  std::uint64_t ports = kThesisUsablePorts;
  std::uint64_t hard_mappings = 256;
  bool json = false;
  CLI::Option* success_option = nullptr;
  CLI::Option* probes_option = nullptr;
};

bool wants(const BirthdayCliOptions& o, const std::string& model) { return o.model == "all" || o.model == model; }

std::string space_label(std::uint64_t space) {
  if (space == kThesisPortPairSpace) return grouped(space) + " values (65535^2 port pairs)";
  if (space == (1ULL << 32)) return grouped(space) + " values (2^32)";
  return grouped(space) + " values";
}

int run_success(const BirthdayCliOptions& o) {
  const double p = o.success;
  nlohmann::json models = nlohmann::json::array();
  if (!o.json) std::cout << "Probes needed for P(success) >= " << plain(p * 100.0) << " %:\n";
  if (wants(o, "classic")) {
    const auto n = classic_draws_for_probability(p, o.space);
    const double approx = classic_draws_approximation(p, o.space);
    models.push_back({{"model", "classic"}, {"space", o.space}, {"probes", n ? nlohmann::json(*n) : nullptr},
                      {"approximation", approx}});
    if (!o.json)
      std::cout << "  classic        " << grouped(n) << " draws among " << space_label(o.space)
                << ", exact product\n"
                << "                 (the calculators' sqrt(2N ln(1/(1-p))) gives " << fixed(approx, 1) << ")\n";
  }
  if (wants(o, "nat-pair")) {
    const auto n = nat_pair_probes_for_probability(p, o.ports);
    models.push_back({{"model", "nat-pair"}, {"ports", o.ports}, {"probes", n ? nlohmann::json(*n) : nullptr}});
    if (!o.json)
      std::cout << "  nat-pair       " << grouped(n) << " probes per side over " << grouped(o.ports)
                << " ports: 1 - exp(-n^2/N^2)\n";
  }
  if (wants(o, "one-hard-side")) {
    const auto n = one_hard_side_probes_for_probability(p, o.hard_mappings, o.ports);
    models.push_back({{"model", "one-hard-side"},
                      {"ports", o.ports},
                      {"hard_mappings", o.hard_mappings},
                      {"probes", n ? nlohmann::json(*n) : nullptr}});
    if (!o.json)
      std::cout << "  one-hard-side  " << grouped(n) << " probes from the easy side while the hard side holds "
                << grouped(o.hard_mappings) << " of " << grouped(o.ports) << " ports: 1 - (1 - K/N)^n\n";
  }
  if (o.json) std::cout << nlohmann::json{{"query", "success"}, {"target", p}, {"models", models}}.dump() << "\n";
  return kExitOk;
}

int run_probes(const BirthdayCliOptions& o) {
  const std::uint64_t n = o.probes;
  nlohmann::json models = nlohmann::json::array();
  if (!o.json) std::cout << "P(success) with " << grouped(n) << " probes:\n";
  const auto row = [&](const std::string& name, double p, bool certain, const std::string& meaning) {
    if (!o.json)
      std::cout << "  " << padded(name, 15) << padded(percent(p, certain), 13)
                << padded("(" + (certain ? std::string("certain") : failure(p)) + ")", 20) << meaning << "\n";
  };
  if (wants(o, "classic")) {
    const double log_miss = classic_log_no_collision(n, o.space);
    const double p = std::max(0.0, classic_collision_probability(n, o.space));  // never -0
    models.push_back({{"model", "classic"}, {"space", o.space}, {"probability", p},
                      {"failure", std::exp(log_miss)}});
    row("classic", p, n > o.space, "draws among " + space_label(o.space));
  }
  if (wants(o, "nat-pair")) {
    const double p = nat_pair_success_probability(n, o.ports);
    const double ratio = static_cast<double>(n) / static_cast<double>(o.ports);
    models.push_back({{"model", "nat-pair"}, {"ports", o.ports}, {"probability", p},
                      {"failure", std::exp(-ratio * ratio)}});
    row("nat-pair", p, false, "per side over " + grouped(o.ports) + " ports");
  }
  if (wants(o, "one-hard-side")) {
    const double p = one_hard_side_success_probability(n, o.hard_mappings, o.ports);
    models.push_back({{"model", "one-hard-side"}, {"ports", o.ports}, {"hard_mappings", o.hard_mappings},
                      {"probability", p}, {"failure", 1.0 - p}});
    row("one-hard-side", p, n > 0 && o.hard_mappings >= o.ports, "from the easy side; the hard side holds " + grouped(o.hard_mappings) + " mappings");
  }
  if (o.json) std::cout << nlohmann::json{{"query", "probability"}, {"probes", n}, {"models", models}}.dump() << "\n";
  return kExitOk;
}

int run_birthday(const BirthdayCliOptions& o) {
  const bool has_success = o.success_option->count() > 0;
  const bool has_probes = o.probes_option->count() > 0;
  if (has_success == has_probes) {
    std::cerr << "error: give exactly one of --success P (probes needed) or --probes N (probability); "
                 "see `natpunch birthday --help`\n";
    return kExitUsage;
  }
  if (wants(o, "one-hard-side") && o.hard_mappings > o.ports) {
    std::cerr << "error: --hard-mappings " << o.hard_mappings << " exceeds --ports " << o.ports
              << ": the hard side cannot hold more mappings than there are ports\n";
    return kExitUsage;
  }
  return has_success ? run_success(o) : run_probes(o);
}

// ---- `natpunch birthday roaming` -----------------------------------------

struct RoamingCliOptions {
  double timeout_s = 0;
  double latency_ms = 0;
  double probe_interval_ms = kThesisProbeIntervalMs;
  std::uint64_t ports = kThesisUsablePorts;
  bool thesis = false;
  bool json = false;
  CLI::Option* timeout_option = nullptr;
  CLI::Option* latency_option = nullptr;
};

nlohmann::json roaming_json(const RoamingParameters& in, const RoamingEstimate& e) {
  return {{"pending_timeout_ms", in.pending_timeout_ms},
          {"probe_interval_ms", in.probe_interval_ms},
          {"latency_ms", in.latency_ms},
          {"ports", in.ports},
          {"pair_space", e.pair_space},
          {"probes_per_window", e.probes_per_window},
          {"window_probability", e.window_probability},
          {"windows_needed", e.windows_needed},
          {"time_ms", e.time_ms},
          {"time_hours", e.time_ms / 3.6e6}};
}

void print_roaming(const std::string& title, const RoamingParameters& in, const RoamingEstimate& e) {
  const double per_window = in.pending_timeout_ms / in.probe_interval_ms;
  std::cout << title << "\n"
            << "  pending timeout   T = " << plain(in.pending_timeout_ms / 1000.0) << " s = " << plain(in.pending_timeout_ms)
            << " ms (a mapping's life without a reply)\n"
            << "  probe interval    p = " << plain(in.probe_interval_ms) << " ms\n"
            << "  latency           l = " << plain(in.latency_ms) << " ms (a new window starts every l)\n"
            << "  ports             P = " << grouped(in.ports) << ", P^2 = " << grouped(e.pair_space)
            << " (source, destination) pairs\n"
            << "  probes per window Y = ceil(T / p) = ceil(" << plain(in.pending_timeout_ms) << " / "
            << plain(in.probe_interval_ms) << ") = ceil(" << fixed(per_window, 2) << ") = "
            << grouped(e.probes_per_window) << "\n"
            << "  P(hit per window) Y / P^2 = " << grouped(e.probes_per_window) << " / " << grouped(e.pair_space)
            << " = " << scientific(e.window_probability) << "\n"
            << "  windows needed    ceil(P^2 / Y) = " << grouped(e.windows_needed)
            << " (the mean; the thesis calls it the worst case)\n"
            << "  time              " << grouped(e.windows_needed) << " x " << plain(in.latency_ms)
            << " ms = " << fixed(e.time_ms, 0) << " ms = " << human_duration(e.time_ms) << "\n";
}

int run_roaming(const RoamingCliOptions& o) {
  if (o.thesis) {
    const auto roaming = thesis_roaming_estimate(kThesisRoamingScenario);
    const auto local = thesis_roaming_estimate(kThesisLocalScenario);
    const double ratio = roaming->time_ms / local->time_ms;
    if (o.json) {
      std::cout << nlohmann::json{{"roaming", roaming_json(kThesisRoamingScenario, *roaming)},
                                  {"local", roaming_json(kThesisLocalScenario, *local)},
                                  {"ratio", ratio}}
                       .dump()
                << "\n";
      return kExitOk;
    }
    print_roaming("Telia Norway roaming from Cyprus (thesis Section VI-E: ~54.6 hours)", kThesisRoamingScenario,
                  *roaming);
    std::cout << "  (the thesis prints 2,480,159 windows: it inverted Y / P^2 after rounding it to 0.0000004032)\n\n";
    print_roaming("Telia Norway at home in Norway (thesis: ~39.6 minutes)", kThesisLocalScenario, *local);
    std::cout << "\nratio: " << human_duration(roaming->time_ms) << " / " << human_duration(local->time_ms) << " = "
              << fixed(ratio, 1) << "x (the thesis: roaming needs \"at least 82x\" more time)\n";
    return kExitOk;
  }
  if (o.timeout_option->count() == 0 || o.latency_option->count() == 0) {
    std::cerr << "error: give --timeout S and --latency MS (or --thesis for the thesis's two scenarios); "
                 "see `natpunch birthday roaming --help`\n";
    return kExitUsage;
  }
  const RoamingParameters in{o.timeout_s * 1000.0, o.latency_ms, o.probe_interval_ms, o.ports};
  const auto e = thesis_roaming_estimate(in);
  if (!e) {
    std::cerr << "error: --timeout / --probe-interval gives more probes per window than the model can count "
                 "(over 2^53); use realistic values\n";
    return kExitUsage;
  }
  if (o.json)
    std::cout << roaming_json(in, *e).dump() << "\n";
  else
    print_roaming("Thesis roaming estimate (Section VI-E):", in, *e);
  return kExitOk;
}

}  // namespace

void add_birthday_command(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<BirthdayCliOptions>();
  auto* cmd = app.add_subcommand(
      "birthday", "Odds of random-port hole punching: probes needed for a success rate, or the reverse");
  options->success_option =
      cmd->add_option("--success", options->success,
                      "Target probability of at least one hit, in (0, 1) or as a percentage: prints the "
                      "probes each model needs")
          ->transform(open_probability())
          ->type_name("P");
  options->probes_option =
      cmd->add_option("--probes", options->probes,
                      "Probe count n (classic: draws; nat-pair: per side; one-hard-side: from the easy side): "
                      "prints each model's probability of a hit")
          ->check(whole_number(0))
          ->type_name("N");
  options->success_option->excludes(options->probes_option);
  cmd->add_option("--model", options->model, "Which model to evaluate")
      ->check(CLI::IsMember({"classic", "nat-pair", "one-hard-side", "all"}))
      ->default_str("all")
      ->type_name("MODEL");
  cmd->add_option("--space", options->space,
                  "classic: number of equally likely values, N or B^E (default 65535^2, the thesis's port pairs)")
      ->transform(space_size())
      ->type_name("N|B^E");
  cmd->add_option("--ports", options->ports, "nat-pair, one-hard-side: usable ports per NAT (default 64511)")
      ->check(whole_number(1, 0xFFFFFFFFULL))
      ->type_name("N");
  cmd->add_option("--hard-mappings", options->hard_mappings,
                  "one-hard-side: mappings the hard side holds open (default 256)")
      ->check(whole_number(1))
      ->type_name("K");
  cmd->add_flag("--json", options->json, "Print one JSON object on stdout (for scripts)");
  cmd->footer(
      "Models (\"hit\" = at least one probe gets through):\n"
      "  classic        the textbook birthday problem the thesis quotes (Section III-A): n draws from N\n"
      "                 equally likely values contain a repeat. Exact product, not the sqrt approximation.\n"
      "                 With N = 65535^2 it gives the thesis's 77,162 (50 %) and 243,587 (99.9 %).\n"
      "  nat-pair       the naive birthday attack (Algorithm 1): both sides send n probes from random\n"
      "                 ports to random ports of the other; a hit is A's (x, y) = B's (y, x):\n"
      "                 P = 1 - exp(-n^2/N^2), N = 64,511 ports. 170,000 probes per side -> 99.9 %.\n"
      "  one-hard-side  the hard (symmetric) side opens K mappings, the easy side probes random ports of\n"
      "                 it: P = 1 - (1 - K/N)^n. Cheap when only one NAT is hard.\n"
      "Examples:\n"
      "  natpunch birthday --success 0.5                  # 77,162 | 53,709 per side | 175\n"
      "  natpunch birthday --success 99.9%                # 243,587 | 169,552 per side | 1,738\n"
      "  natpunch birthday --probes 170000                # nat-pair: 99.90 %, the thesis's attack size\n"
      "  natpunch birthday --success 0.5 --space 2^32     # exactly 2^32 values: 77,164\n"
      "  natpunch birthday --probes 1000 --model one-hard-side --hard-mappings 512 --json\n"
      "  natpunch birthday roaming --thesis               # 54.6 hours vs 39.6 minutes, ~82x\n"
      "Exit codes: 0 ok, 2 bad arguments.");
  cmd->callback([options, cmd, &exit_code] {
    if (cmd->get_subcommands().empty()) exit_code = run_birthday(*options);
  });

  auto roaming_options = std::make_shared<RoamingCliOptions>();
  auto* roaming = cmd->add_subcommand(
      "roaming", "The thesis's time-to-connect estimate for a pending timeout (Section VI-E), step by step");
  roaming_options->timeout_option =
      roaming->add_option("--timeout", roaming_options->timeout_s,
                          "Pending timeout in seconds: how long a mapping lives without a reply (Table IV)")
          ->check(positive_real())
          ->type_name("S");
  roaming_options->latency_option =
      roaming->add_option("--latency", roaming_options->latency_ms,
                          "Average network latency in ms; a new window starts every latency (the thesis: 79.2 "
                          "Limassol-Oslo, 23 within Norway)")
          ->check(positive_real())
          ->type_name("MS");
  roaming->add_option("--probe-interval", roaming_options->probe_interval_ms,
                      "Time per probe in ms (default 2.98, the thesis's phones)")
      ->check(positive_real())
      ->type_name("MS");
  roaming->add_option("--ports", roaming_options->ports, "Usable ports per NAT (default 64511)")
      ->check(whole_number(1, 0xFFFFFFFFULL))
      ->type_name("N");
  roaming->add_flag("--thesis", roaming_options->thesis,
                    "Print the thesis's two Telia Norway scenarios and their ratio");
  roaming->add_flag("--json", roaming_options->json, "Print one JSON object on stdout (for scripts)");
  roaming_options->timeout_option->excludes(roaming->get_option("--thesis"));
  roaming_options->latency_option->excludes(roaming->get_option("--thesis"));
  roaming->footer(
      "The thesis's arithmetic, reproduced as written: each side can send Y = ceil(T / p) probes while its\n"
      "first mapping waits for a reply; one such window hits with probability Y / P^2; a new window starts\n"
      "every l ms, so the expected P^2 / Y windows take P^2 / Y x l. It ignores that windows overlap and that\n"
      "both sides' probes pair up (the nat-pair model), so read it as the thesis's comparison, not a forecast.\n"
      "Examples:\n"
      "  natpunch birthday roaming --timeout 5 --latency 79.2     # Telia NO roaming from Cyprus: ~54.6 hours\n"
      "  natpunch birthday roaming --timeout 120 --latency 23     # Telia NO in Norway: ~39.6 minutes\n"
      "  natpunch birthday roaming --thesis                       # both, and the ratio (~82x)\n"
      "Exit codes: 0 ok, 2 bad arguments.");
  roaming->callback([roaming_options, &exit_code] { exit_code = run_roaming(*roaming_options); });
}

}  // namespace natpunch::cli
