// Uses only the installed public headers. Asks for the NAT type of a server
// that is given a malformed address, so it runs offline and must fail with a
// bad-input error, proving the library links and runs.
#include <natpunch/nat_discovery.hpp>
#include <natpunch/session.hpp>
#include <natpunch/version.hpp>

#include <iostream>

int main() {
  natpunch::NatTypeOptions options;
  options.servers = {"203.0.113.10:99999"};
  auto report = natpunch::detect_nat_type(options);
  if (report || report.error().kind != natpunch::ErrorKind::kBadInput) {
    std::cerr << "expected a bad-input error\n";
    return 1;
  }
  // The session API reports bad input with the same error type, before it
  // sends anything; NAT behaviour is a typed enum with stable spellings.
  natpunch::SessionOptions session;
  session.rendezvous = "203.0.113.10:7000";
  session.nat.mapping = natpunch::NatBehavior::kEndpointIndependent;
  auto connected = natpunch::connect(session, "not-a-key");
  if (connected || connected.error().kind != natpunch::ErrorKind::kBadInput ||
      natpunch::to_string(session.nat.mapping) != "endpoint-independent") {
    std::cerr << "expected a bad-input error from connect\n";
    return 1;
  }
  std::cout << "natpunch " << natpunch::kVersionString << ": " << report.error().message << "\n";
  return 0;
}
