#pragma once
// Port prediction for allocators with locality (nat::WindowSpec): the
// rendezvous saw the peer's external port `observed`, and the peer's next
// mappings stay in the window holding it until the stay ends. So the
// window comes first: in order, observed+1, observed+2, ... wrapping inside
// the window (the lockstep of PredictionPortChooser, and the port after the
// window's last is its first); at random, the window's ports in a random
// order (every one is as likely, the observed one too: a port whose
// mapping timed out is handed out again). The observed port comes last in
// order, once the window has gone round.
#include <cstdint>
#include <vector>

#include "nat/allocator_spec.hpp"
#include "punch/port_chooser.hpp"

namespace natpunch::punch {

class WindowPortChooser final : public PortChooser {
 public:
  WindowPortChooser(const nat::WindowSpec& spec, std::uint16_t observed);
  std::optional<std::uint16_t> next(Rng& rng) override;

  // The window holding `port` under `spec`'s grid, clipped to 1..65535.
  static std::pair<std::uint16_t, std::uint16_t> window_of(const nat::WindowSpec& spec, std::uint16_t port);

 private:
  std::uint32_t first_;  // the window's first port
  std::uint32_t size_;   // ports in it (fewer where clipped)
  nat::WindowOrder order_;
  std::uint32_t observed_offset_;
  std::uint32_t step_ = 0;
  // Random order: a lazy Fisher-Yates over offsets 0..size-1.
  std::vector<std::uint16_t> offsets_;
};

}  // namespace natpunch::punch
