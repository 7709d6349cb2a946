#pragma once
// Algorithm 7 (the thesis's MTU search) as a sans-IO machine: a binary
// search for the largest UDP payload the server reports receiving.
//
// The thesis's loop (left = mid + 1 on success, right = mid - 1 on failure,
// answer right) can report a size it never tried; this one keeps the
// largest size seen arriving and the smallest seen failing and stops when
// they are adjacent, so the answer is always a size that arrived. A size
// fails only after `attempts` tries with no report, so one lost datagram
// is not taken for a size limit; a send the kernel refuses as too big
// (EMSGSIZE: above the interface MTU with DF set) fails at once.
//
// The search asks its driver for a socket with the don't-fragment bit of
// its config (the contract's socket_options): with DF the answer is the
// path MTU's payload, without it the largest datagram that arrives at all,
// fragmented or not (the thesis's "jumbo" column).
#include <cstdint>
#include <optional>
#include <span>
#include <variant>

#include "core/endpoint.hpp"
#include "core/time.hpp"
#include "core/transmit.hpp"
#include "wire/measure_messages.hpp"

namespace natpunch::measure {

struct MtuSearchConfig {
  std::size_t low = wire::kRequestSize;  // smallest size tried (a request is never smaller)
  std::size_t high = wire::kMaxDatagram;
  int attempts = 3;
  Duration timeout = milliseconds(1000);
  Fragmentation fragmentation = Fragmentation::DontFragment;
};

struct MtuSearchResult {
  std::optional<std::size_t> largest_ok;     // nullopt: not even `low` arrived
  std::optional<std::size_t> smallest_fail;  // nullopt: `high` arrived
  bool local_limit = false;                  // the kernel refused a size (interface MTU)
  std::uint32_t probes = 0;                  // datagrams sent
};

// What poll_event() reports: the search ended, once.
namespace mtu_event {
struct Done {
  MtuSearchResult result;
};
}  // namespace mtu_event
using MtuSearchEvent = std::variant<mtu_event::Done>;

// A machine of the contract (core/transmit.hpp) on one socket (1), with the
// optional socket_options and on_send_error.
class MtuSearch {
 public:
  MtuSearch(Endpoint server, MtuSearchConfig config, std::uint32_t id_seed);

  std::optional<Transmit> poll_transmit(TimePoint now);
  void on_datagram(TimePoint now, SocketId socket, const Endpoint& from, std::span<const std::uint8_t> bytes);
  void on_timer(TimePoint now);
  std::optional<TimePoint> next_deadline() const;
  std::optional<MtuSearchEvent> poll_event();
  SocketOptions socket_options(SocketId) { return SocketOptions{0, config_.fragmentation}; }
  // The kernel refused a probe as too big (EMSGSIZE: above the interface
  // MTU with DF set): that size fails at once. Other errors count as loss.
  void on_send_error(TimePoint now, SocketId socket, const Endpoint& to, SendError error);

  bool done() const { return done_; }
  const MtuSearchResult& result() const { return result_; }
  // The size being tried, for progress output.
  std::size_t trying() const { return size_; }

 private:
  void outcome(bool arrived);
  void next_size();

  Endpoint server_;
  MtuSearchConfig config_;
  std::uint32_t next_id_;
  std::size_t size_ = 0;
  std::size_t good_ = 0;  // largest arrived so far (0: none)
  std::size_t bad_ = 0;   // smallest failed so far (high + 1: none)
  int tries_ = 0;
  std::uint32_t waiting_id_ = 0;
  bool send_due_ = true;
  std::optional<TimePoint> deadline_;
  bool done_ = false;
  bool done_reported_ = false;
  MtuSearchResult result_;
};

static_assert(ProtocolMachine<MtuSearch> && ChoosesSocketOptions<MtuSearch> && HearsSendErrors<MtuSearch>);

}  // namespace natpunch::measure
