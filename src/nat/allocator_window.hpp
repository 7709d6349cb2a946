#pragma once
// Windows with locality (WindowSpec), as the real carrier logs show: a
// subscriber's mappings stay inside one window of `size` ports, taken in
// order (Lebara: the port after the previous one, wrapping inside the
// window) or at random (Vodafone NL: any free port of the 32-port window),
// until the stay ends (after a number of mappings, or after holding the
// window for a time); then it gets a new window, placed uniformly over the
// whole windows of the range or by a Beta law (the window holding
// floor(loc + scale * X), X ~ Beta(alpha, beta)).
//
// Windows are not owned: two subscribers may stay in the same window, and
// only ports are exclusive (the PortAllocator contract). A window with no
// free port ends a stay at once. A subscriber entering a window in order
// starts at the window's first free port.
#include <cstdint>
#include <optional>
#include <random>
#include <vector>

#include "nat/allocator_spec.hpp"
#include "nat/port_set.hpp"

namespace natpunch::nat {

class WindowAllocator final : public PortAllocator {
 public:
  explicit WindowAllocator(const WindowSpec& spec);

  std::optional<std::uint16_t> allocate(TimePoint now, const PortRequest& request, Rng& rng) override;
  void release(TimePoint now, std::uint16_t port) override;
  bool in_use(std::uint16_t port) const override { return used_.contains(port); }

  // The whole windows a stay can land in, and the range they cover.
  std::uint32_t window_count() const { return windows_; }
  PortRange window_at(std::uint32_t window) const;

 private:
  static constexpr std::uint32_t kNoWindow = 0xffffffffU;
  struct Holding {
    std::uint32_t window = kNoWindow;
    TimePoint entered{};
    std::uint32_t mappings = 0;
    std::uint32_t next_offset = 0;  // in order: where the next port is looked for
  };

  std::optional<std::uint32_t> window_of(std::uint16_t port) const;
  std::optional<std::uint32_t> draw_window(Rng& rng);
  std::optional<std::uint32_t> placed_window(Rng& rng);
  std::optional<std::uint16_t> take_in(Holding& holding, Rng& rng);

  WindowSpec spec_;
  std::uint32_t first_start_ = 0;  // first port of window 0
  std::uint32_t windows_ = 0;
  std::vector<std::uint32_t> used_in_window_;
  std::optional<std::gamma_distribution<double>> gamma_alpha_, gamma_beta_;
  std::vector<Holding> holdings_;  // by subscriber
  PortSet used_;
};

// The port range a window placement draws from: [min, max] of a uniform
// placement, the Beta law's support [floor(loc), ceil(loc + scale) - 1]
// clipped to 1..65535.
PortRange placement_range(const WindowSpec& spec);

// The whole windows of `spec` inside its placement range: the first one's
// first port and how many there are (0: none fits).
struct WindowRun {
  std::uint32_t first_start = 0;
  std::uint32_t count = 0;
};
WindowRun whole_windows(const WindowSpec& spec);

}  // namespace natpunch::nat
