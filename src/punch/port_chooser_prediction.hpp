#pragma once
// Port prediction for sequential and block allocators: the rendezvous (or
// a STUN exchange just before the start) saw the peer's external port
// `observed`; the peer's next mappings are observed+1, observed+2, ... So
// while both sides probe in lockstep, our k-th probe aims at the port the
// peer's k-th probe leaves from, and the peer's k-th probe at ours: the
// first probes already collide.
//
// Other subscribers (sequential allocators share one counter) or other
// flows of the peer take ports meanwhile and push the peer's ports ahead:
// after the lockstep pass the chooser sweeps the window (observed, observed
// + window] once more, now two ports per step ahead of the lockstep, which
// catches a peer whose ports run ahead of ours. For a block allocator the
// window ends at the end of the peer's block: the block's holder is the
// only user, and after the block the next one is random.
#include "punch/port_chooser.hpp"

namespace natpunch::punch {

class PredictionPortChooser final : public PortChooser {
 public:
  // Ports observed+1 .. observed+window (clipped at 65535), in lockstep.
  PredictionPortChooser(std::uint16_t observed, std::uint32_t window);
  std::optional<std::uint16_t> next(Rng& rng) override;

  // The window of a block allocator: the rest of the observed port's block.
  static std::uint32_t rest_of_block(std::uint16_t observed, std::uint32_t block_size);

 private:
  std::uint32_t first_;  // observed + 1
  std::uint32_t last_;   // inclusive
  std::uint32_t step_ = 0;
  int pass_ = 0;
};

}  // namespace natpunch::punch
