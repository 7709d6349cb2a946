#include "punch/port_chooser_prediction.hpp"

#include <algorithm>

namespace natpunch::punch {

PredictionPortChooser::PredictionPortChooser(std::uint16_t observed, std::uint32_t window)
    : first_(std::uint32_t{observed} + 1), last_(std::min<std::uint32_t>(std::uint32_t{observed} + window, 65535)) {}

std::uint32_t PredictionPortChooser::rest_of_block(std::uint16_t observed, std::uint32_t block_size) {
  if (block_size == 0) return 0;
  return block_size - 1 - observed % block_size;
}

std::optional<std::uint16_t> PredictionPortChooser::next(Rng&) {
  if (first_ > last_) return std::nullopt;
  const std::uint32_t span = last_ - first_ + 1;
  if (pass_ == 0) {
    const auto port = static_cast<std::uint16_t>(first_ + step_);
    if (++step_ == span) {
      step_ = 0;
      pass_ = 1;
    }
    return port;
  }
  // Second pass: the odd offsets of the window, i.e. two ports per step.
  const std::uint32_t offset = 2 * step_ + 1;
  if (offset >= span) return std::nullopt;
  ++step_;
  return static_cast<std::uint16_t>(first_ + offset);
}

}  // namespace natpunch::punch
