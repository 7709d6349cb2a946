#pragma once
// Beta-distributed ports, as fitted to 900,000 Vodafone NL mappings
// (Section VI-A 4, Table II): port = floor(loc + scale * X) with
// X ~ Beta(alpha, beta), i.e. ports in [floor(loc), ceil(loc + scale) - 1].
// Ports in use are excluded, so what is handed out follows the Beta law
// restricted to the free ports.
//
// Two ways to draw, picked by how full the support is: while it is mostly
// free, draw X and redraw on a port in use (cheap, no setup); once redraws
// keep missing, switch for good to sampling the free ports by their Beta
// mass from a Fenwick tree (a one-off ~1 ms setup for Vodafone's 13,937
// ports, then O(log n) per allocation and release however full the support
// gets). Both draw from the same law, up to the error of the numerically
// integrated masses (for Vodafone below 3e-5 relative on every port whose
// mass exceeds 1e-9, far below what sampling can see).
#include <optional>
#include <random>
#include <vector>

#include "nat/allocator_spec.hpp"
#include "nat/fenwick_tree.hpp"
#include "nat/port_set.hpp"

namespace natpunch::nat {

class BetaAllocator final : public PortAllocator {
 public:
  explicit BetaAllocator(const BetaSpec& spec);

  std::optional<std::uint16_t> allocate(TimePoint now, const PortRequest& request, Rng& rng) override;
  void release(TimePoint now, std::uint16_t port) override;
  bool in_use(std::uint16_t port) const override { return used_.contains(port); }

  // The ports a draw can produce.
  PortRange support() const { return support_; }

 private:
  std::uint16_t draw(Rng& rng);
  void build_free_mass();
  std::uint16_t take(std::uint16_t port);

  BetaSpec spec_;
  PortRange support_;
  std::gamma_distribution<double> gamma_alpha_;
  std::gamma_distribution<double> gamma_beta_;
  // Once crowded: each port's Beta mass in integer units, and the tree of
  // the free ports' masses (a port in use weighs 0).
  std::vector<std::uint64_t> mass_units_;
  std::optional<FenwickTree> free_mass_;
  PortSet used_;
};

}  // namespace natpunch::nat
