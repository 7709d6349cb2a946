// Uses only the installed public headers. Asks for the NAT type of a server
// that is given a malformed address, so it runs offline and must fail with a
// bad-input error, proving the library links and runs.
#include <natpunch/nat_discovery.hpp>
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
  std::cout << "natpunch " << natpunch::kVersionString << ": " << report.error().message << "\n";
  return 0;
}
