#pragma once
// The lab's coturn (Debian's turnserver) on the server host, as the lab
// tests of issue 20 run it: 203.0.113.10, UDP/TCP 3478 and TLS 443 with
// use-auth-secret (a fresh secret), a PKI made for the run whose server
// certificate names 203.0.113.10 (the rendezvous's TLS listener may share
// it), relaying only to `allowed_peers` (default: the server's own address,
// where the peers' relayed addresses are). Stopped when the object goes away.
#include <memory>
#include <string>

#include "../support/coturn.hpp"
#include "lab_harness.hpp"

namespace natpunch::lab {

struct LabCoturn {
  test_support::CoturnSettings settings;  // settings.pki and settings.secret are set once started
  std::unique_ptr<BackgroundProcess> process;
  std::string error;  // why it did not start (empty: it listens on 3478 and 443)
  bool ready() const { return error.empty(); }
};

// Starts coturn in `lab`'s server host with its files in `dir`; check ready().
inline std::unique_ptr<LabCoturn> start_lab_coturn(const Lab& lab, const std::string& dir,
                                                   const std::string& allowed_peers = "203.0.113.10") {
  auto coturn = std::make_unique<LabCoturn>();
  auto& s = coturn->settings;
  s.dir = dir;
  s.address = "203.0.113.10";
  s.port = 3478;
  s.tls_port = 443;
  s.secret = test_support::random_secret();
  s.allowed_peers = allowed_peers;
  s.pki = test_support::make_test_pki(dir, s.address, coturn->error);
  if (!s.pki) {
    coturn->error = "no test PKI: " + coturn->error;
    return coturn;
  }
  const std::string conf = test_support::write_coturn_config(s);
  auto argv = lab.in("server");
  argv.insert(argv.end(), {"sh", "-c", "exec turnserver -c '" + conf + "' >'" + dir + "/coturn.log' 2>&1"});
  coturn->process = std::make_unique<BackgroundProcess>(argv);
  if (!test_support::wait_for_tcp_listener("ip netns exec " + lab.netns("server") + " ", s.tls_port) ||
      !lab.wait_for_udp_listener(s.address + ":" + std::to_string(s.port)))
    coturn->error = "coturn did not start: " + file_text(dir + "/coturn.log");
  return coturn;
}

}  // namespace natpunch::lab
