#include "io/reflexive_address.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <vector>

#include "core/rng.hpp"
#include "io/os_random.hpp"
#include "io/udp_batch.hpp"
#include "stun/binding_query.hpp"

namespace natpunch::io {

std::optional<Endpoint> reflexive_address(int fd, std::span<const Endpoint> servers, Duration budget) {
  sockaddr_storage own{};
  socklen_t own_length = sizeof own;
  if (servers.empty() || ::getsockname(fd, reinterpret_cast<sockaddr*>(&own), &own_length) != 0) return std::nullopt;
  const int family = own.ss_family;
  const auto start = Clock::now();
  const auto end = start + budget;
  // Quick retransmissions: the rendezvous is one round trip away, and an
  // unanswered query must not hold the session's start for long.
  const stun::RetransmitPolicy policy{milliseconds(100), 3, 2};
  Rng rng(os_random_seed());
  stun::BindingQuery query(std::vector<Endpoint>(servers.begin(), servers.end()), policy, rng, start);
  std::array<std::uint8_t, 1500> in{};
  for (;;) {
    auto now = Clock::now();
    while (auto t = query.poll_transmit(now)) {
      sockaddr_storage to{};
      const socklen_t length = to_sockaddr(t->to, family, to);
      if (length == 0) continue;  // a server of the other family
      [[maybe_unused]] auto sent =
          ::sendto(fd, t->bytes.span().data(), t->bytes.span().size(), 0, reinterpret_cast<const sockaddr*>(&to), length);
    }
    if (query.done() || now >= end) break;
    auto wake = std::min(end, query.next_deadline().value_or(end));
    const auto wait_ms = std::chrono::ceil<std::chrono::milliseconds>(std::max(Duration::zero(), wake - now)).count();
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait_ms)) > 0) {
      sockaddr_storage from{};
      socklen_t from_length = sizeof from;
      const auto n = ::recvfrom(fd, in.data(), in.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &from_length);
      if (n > 0)
        query.on_datagram(Clock::now(), 0, from_sockaddr(from), std::span<const std::uint8_t>(in.data(), std::size_t(n)));
    }
    now = Clock::now();
    if (auto due = query.next_deadline(); due && *due <= now) query.on_timer(now);
  }
  const auto& r = query.result();
  if (!r.answered || r.error_code || !r.mapped) return std::nullopt;
  return r.mapped;
}

}  // namespace natpunch::io
