#include "punch/port_chooser_chain.hpp"

namespace natpunch::punch {

ChainPortChooser::ChainPortChooser(std::unique_ptr<PortChooser> first, std::unique_ptr<PortChooser> then)
    : first_(std::move(first)), then_(std::move(then)) {}

std::optional<std::uint16_t> ChainPortChooser::next(Rng& rng) {
  if (!first_done_) {
    if (auto port = first_->next(rng)) {
      tried_.set(*port);
      return port;
    }
    first_done_ = true;
  }
  // Bounded: a chooser that hands out only tried ports runs dry (every
  // chooser here is finite or draws fresh ports), so this loop ends.
  while (auto port = then_->next(rng))
    if (!tried_.test(*port)) return port;
  return std::nullopt;
}

}  // namespace natpunch::punch
