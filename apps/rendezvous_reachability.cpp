#include "rendezvous_reachability.hpp"

#include <vector>

#include "io/rendezvous_client_runner.hpp"
#include "io/turn_link.hpp"
#include "rendezvous/crypto.hpp"

namespace natpunch::cli {

bool rendezvous_answers_over_udp(const Endpoint& server, const std::function<bool()>& should_stop) {
  rendezvous::ClientConfig config;
  config.server = server;
  config.identity = rendezvous::Identity::generate(rendezvous::system_random_bytes());
  config.listening = false;
  const Endpoint any{server.address.is_v4() ? IpAddress::v4({0, 0, 0, 0}) : IpAddress::v6({}), 0};
  auto client = io::RendezvousClientRunner::open(any, config);
  return client && static_cast<bool>((*client)->wait_registered(kReachabilityCheckTimeout, should_stop));
}

std::optional<Endpoint> rendezvous_stream_answering(const Endpoint& server, std::uint16_t tcp_port,
                                                    std::uint16_t tls_port, const std::function<bool()>& should_stop) {
  std::vector<std::uint16_t> ports{tcp_port != 0 ? tcp_port : server.port};
  if (tls_port != 0 && tls_port != ports.front()) ports.push_back(tls_port);
  for (const auto port : ports) {
    io::TurnLinkOptions link;
    link.transport = turn::Transport::kTcp;
    link.server = Endpoint{server.address, port};
    link.connect_timeout = kReachabilityCheckTimeout;
    link.label = "rendezvous server";
    link.should_stop = should_stop;
    if (io::TurnLink::open(link)) return link.server;
    if (should_stop && should_stop()) return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace natpunch::cli
