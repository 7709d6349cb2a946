#pragma once
// Building blocks the factory composes: a port tried again and again (the
// peer's known endpoint), and "this order first, then that one", where the
// second order skips every port the first already tried.
#include <bitset>
#include <memory>

#include "punch/port_chooser.hpp"

namespace natpunch::punch {

// The same port `count` times (a hole punch to a known endpoint keeps
// knocking until the peer's probe has opened its side).
class RepeatPortChooser final : public PortChooser {
 public:
  RepeatPortChooser(std::uint16_t port, std::uint64_t count) : port_(port), left_(count) {}
  std::optional<std::uint16_t> next(Rng&) override {
    if (left_ == 0) return std::nullopt;
    --left_;
    return port_;
  }

 private:
  std::uint16_t port_;
  std::uint64_t left_;
};

class ChainPortChooser final : public PortChooser {
 public:
  ChainPortChooser(std::unique_ptr<PortChooser> first, std::unique_ptr<PortChooser> then);
  std::optional<std::uint16_t> next(Rng& rng) override;

 private:
  std::unique_ptr<PortChooser> first_;
  std::unique_ptr<PortChooser> then_;
  bool first_done_ = false;
  std::bitset<65536> tried_;  // ports handed out by `first`
};

}  // namespace natpunch::punch
