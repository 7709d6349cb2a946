#pragma once
// For Beta allocators (Vodafone NL: port = floor(loc + scale * X), X ~
// Beta(2.242, 5.008); Table II): the ports of the support in decreasing
// order of the density, so the k-th probe hits the peer's port with the
// k-th largest probability; then the usable ports outside the support in a
// random order (a profile can be wrong). No port is tried twice.
#include <memory>
#include <vector>

#include "nat/allocator_spec.hpp"
#include "punch/port_chooser.hpp"
#include "punch/port_chooser_uniform.hpp"

namespace natpunch::punch {

class BetaPortChooser final : public PortChooser {
 public:
  explicit BetaPortChooser(const nat::BetaSpec& spec);
  // With the order computed once (densest_first_order) and shared by many
  // choosers: a chooser per predicted mapping costs no sort.
  BetaPortChooser(const nat::BetaSpec& spec, std::shared_ptr<const std::vector<std::uint16_t>> order);
  std::optional<std::uint16_t> next(Rng& rng) override;

  // The support in the order next() walks it (for tests and reports).
  const std::vector<std::uint16_t>& densest_first() const { return *order_; }

  static std::shared_ptr<const std::vector<std::uint16_t>> densest_first_order(const nat::BetaSpec& spec);

 private:
  std::shared_ptr<const std::vector<std::uint16_t>> order_;
  std::size_t index_ = 0;
  std::uint16_t support_min_ = 0;
  std::uint16_t support_max_ = 0;
  UniformPortChooser rest_;
};

}  // namespace natpunch::punch
