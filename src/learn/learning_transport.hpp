#pragma once
// The seam between the averaging protocol and a network. AveragingPeer is
// sans-IO; a driver (io/learning_driver.hpp) moves its datagrams over an
// implementation of this interface:
//   - the simulator (learn/learning_simulation.hpp) does the same in virtual time,
//   - io/session_learning_transport.hpp carries them over natpunch Sessions
//     (direct after punching, or relayed), one Session per neighbour.
// Neighbours are the small integers AveragingPeer uses.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/time.hpp"

namespace natpunch::learn {

struct TransportDatagram {
  std::size_t from = 0;
  std::vector<std::uint8_t> bytes;
};

class LearningTransport {
 public:
  virtual ~LearningTransport() = default;
  // Largest payload that reaches `peer` in one datagram (path MTU minus all
  // headers; for a Session, kMaxSessionPayload). Chunks are cut to fit.
  virtual std::size_t max_datagram(std::size_t peer) const = 0;
  // Never blocks. False: not sent (peer gone, no route): a lost datagram to the protocol.
  virtual bool send(std::size_t peer, std::span<const std::uint8_t> bytes) = 0;
  // The next datagram from any neighbour, or nullopt once `until` has passed.
  virtual std::optional<TransportDatagram> receive(TimePoint until) = 0;
  // "direct" or "relay" (for the report), "gone" when the session closed.
  virtual std::string route(std::size_t peer) const = 0;
};

}  // namespace natpunch::learn
