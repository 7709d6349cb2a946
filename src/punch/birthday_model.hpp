#pragma once
// Analytic success probabilities of random-port hole punching (thesis
// Section III-A and VI-E). The punching strategies and the simulator are
// judged against these numbers, so they are computed exactly where the
// thesis's figures depend on the last probe.
//
// Every probability is of "at least one hit"; every inverse returns the
// smallest whole count that reaches the target, or nullopt when none does
// (target outside (0, 1), or a model that can never succeed).
#include <cstdint>
#include <optional>

namespace natpunch::punch {

// The thesis's sender x receiver port space: "the space for this is 65535^2"
// (Section III-A). Its calculator figures (77,162 and 243,587 probes) are the
// exact birthday-problem inverse over exactly this space; over 2^32 they
// would be 77,164 and 243,591.
inline constexpr std::uint64_t kThesisPortPairSpace = 65535ULL * 65535ULL;
// Ports 1024..65535 (Section VI-E: "all ports except the first 1024").
inline constexpr std::uint64_t kThesisUsablePorts = 64511;
// One probe per ~2.98 ms on the thesis's phones (Section VI-E).
inline constexpr double kThesisProbeIntervalMs = 2.98;
// Probes per side in the thesis's naive attack (Algorithm 1, Table I).
inline constexpr std::uint64_t kThesisProbesPerSide = 170000;
// Spaces above 2^53 would lose integers in the double arithmetic below.
inline constexpr std::uint64_t kMaxSpace = 1ULL << 53;

// ---- Classic birthday problem -------------------------------------------
// P(at least two of `draws` uniform draws from `space` values are equal)
// = 1 - prod_{i<draws} (1 - i/space). 0 for draws < 2, 1 for draws > space.
// ln(1 - P) is accurate to ~1e-15 relative for space up to kMaxSpace (tests
// compare with 60-digit references); a difference of double lgamma values
// would be off in the 5th digit at space = 2^32.
// Precondition: 1 <= space <= kMaxSpace.
double classic_collision_probability(std::uint64_t draws, std::uint64_t space);

// ln(1 - classic_collision_probability): keeps its precision when the
// probability is within 1e-16 of 1. -infinity for draws > space.
double classic_log_no_collision(std::uint64_t draws, std::uint64_t space);

// Smallest draws with classic_collision_probability >= p (exact product).
// The thesis's calculator figures are this over kThesisPortPairSpace; the
// calculator's own inverse is the approximation below, which gives 77,162
// (ceil) but 243,589, not 243,587.
std::optional<std::uint64_t> classic_draws_for_probability(double p, std::uint64_t space);

// The square-root approximation sqrt(2 space ln(1/(1-p))) that birthday
// calculators (e.g. the one the thesis cites) use for the inverse; real-valued,
// so callers can show how it rounds. NaN for p outside (0, 1).
double classic_draws_approximation(double p, std::uint64_t space);

// ---- NAT-pair collision model (naive birthday attack, Algorithm 1) -------
// Both sides send `probes_per_side` probes from random ports to random ports
// of the other over `ports` usable ports; a connection needs A's (x, y) to
// equal B's (y, x) while both mappings live. n^2 probe pairs each match with
// probability 1/ports^2, so P = 1 - exp(-n^2/ports^2) (Poisson limit; the
// exact value differs by O(n/ports^2)). Precondition: ports >= 1.
double nat_pair_success_probability(std::uint64_t probes_per_side, std::uint64_t ports);
std::optional<std::uint64_t> nat_pair_probes_for_probability(double p, std::uint64_t ports);

// ---- One hard side (many-socket punch) -----------------------------------
// The hard (endpoint-dependent) side opens `hard_mappings` distinct mappings
// by sending that many probes to the easy side's known port; the easy (EIM)
// side then probes random ports of the hard side, each hitting an open
// mapping with probability k/ports: P = 1 - (1 - k/ports)^n. Exact for
// probes drawn with replacement. hard_mappings >= ports gives 1 for n >= 1;
// hard_mappings == 0 never succeeds. Precondition: ports >= 1.
double one_hard_side_success_probability(std::uint64_t easy_probes, std::uint64_t hard_mappings,
                                         std::uint64_t ports);
std::optional<std::uint64_t> one_hard_side_probes_for_probability(double p, std::uint64_t hard_mappings,
                                                                  std::uint64_t ports);

// ---- Thesis roaming estimate (Section VI-E) ------------------------------
// The thesis's back-of-envelope time to a collision when the pending (no
// reply yet) timeout is T: a "window" is the set of probes one side can send
// while its first mapping still lives, Y = T/p probes; one window succeeds
// with probability Y/P^2; a new window starts every latency l, so 1/(Y/P^2)
// windows take 1/(Y/P^2) * l. Reproduced as written (including treating the
// mean of the geometric distribution as the "worst case"), so the numbers can
// be compared with the thesis's; it is not a model of overlapping windows.
struct RoamingParameters {
  double pending_timeout_ms = 0;
  double latency_ms = 0;
  double probe_interval_ms = kThesisProbeIntervalMs;
  std::uint64_t ports = kThesisUsablePorts;
};

struct RoamingEstimate {
  std::uint64_t probes_per_window = 0;  // Y = ceil(T / p): 5000/2.98 -> 1678, 120000/2.98 -> 40269
  std::uint64_t pair_space = 0;         // P^2
  double window_probability = 0;        // Y / P^2
  std::uint64_t windows_needed = 0;     // ceil(P^2 / Y)
  double time_ms = 0;                   // windows_needed * l
};

// nullopt unless every input is finite and positive and ports <= 2^32.
std::optional<RoamingEstimate> thesis_roaming_estimate(const RoamingParameters& in);

// The thesis's two Telia Norway scenarios: roaming from Cyprus (T = 5 s,
// l = 79.20 ms Limassol-Oslo) and at home (T = 120 s, l = 23 ms).
inline constexpr RoamingParameters kThesisRoamingScenario{5000.0, 79.20, kThesisProbeIntervalMs, kThesisUsablePorts};
inline constexpr RoamingParameters kThesisLocalScenario{120000.0, 23.0, kThesisProbeIntervalMs, kThesisUsablePorts};

}  // namespace natpunch::punch
