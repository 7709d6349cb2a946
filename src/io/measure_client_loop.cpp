#include "io/measure_client_loop.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace natpunch::io::detail {

std::string open_client_socket(ClientSocket& s, const IpAddress& bind, std::uint16_t port, FragmentPolicy policy) {
  asio::error_code ec;
  const auto local = to_asio(Endpoint{bind, port});
  s.socket.open(local.protocol(), ec);
  if (ec) return "cannot open a UDP socket: " + ec.message();
  s.socket.bind(local, ec);
  if (ec && port != 0) {
    ec.clear();
    s.socket.bind(to_asio(Endpoint{bind, 0}), ec);  // the wanted port is taken: any will do
  }
  if (ec) return "cannot bind " + Endpoint{bind, port}.to_string() + ": " + ec.message();
  if (policy != FragmentPolicy::KernelDefault) {
    const bool v4 = bind.is_v4();
    const int value = policy == FragmentPolicy::DontFragmentProbe ? (v4 ? IP_PMTUDISC_PROBE : IPV6_PMTUDISC_PROBE)
                                                                  : (v4 ? IP_PMTUDISC_DONT : IPV6_PMTUDISC_DONT);
    const int rc = v4 ? ::setsockopt(s.socket.native_handle(), IPPROTO_IP, IP_MTU_DISCOVER, &value, sizeof value)
                      : ::setsockopt(s.socket.native_handle(), IPPROTO_IPV6, IPV6_MTU_DISCOVER, &value, sizeof value);
    if (rc != 0) return "cannot set the don't-fragment policy: " + std::string(std::strerror(errno));
  }
  // Large datagrams (65,507 bytes) must fit the send buffer in one piece.
  s.socket.set_option(asio::socket_base::send_buffer_size(1 << 20), ec);
  s.socket.set_option(asio::socket_base::receive_buffer_size(1 << 20), ec);
  return {};
}

bool is_message_too_big(const asio::error_code& ec) { return ec.value() == EMSGSIZE; }

}  // namespace natpunch::io::detail
