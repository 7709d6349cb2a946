#pragma once
// natpunch public API: ask STUN servers what this host looks like from the
// outside — its mapped (public) address, and how the NAT in front of it maps
// and filters (RFC 5780) with the classic RFC 3489 type.
//
//   natpunch::NatTypeOptions options;
//   options.servers = {"203.0.113.10:3478"};
//   auto report = natpunch::detect_nat_type(options);
//   if (report) std::cout << natpunch::to_string(report->classic_type) << "\n";   // "port-restricted cone"
//   else        std::cerr << report.error().message << "\n";
//
// Both calls block for at most a few retransmission timeouts per server.
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "natpunch/error.hpp"
#include "natpunch/nat_behavior.hpp"
#include "natpunch/result.hpp"

namespace natpunch {

struct StunOptions {
  // HOST, HOST:PORT, IP:PORT or [IPv6]:PORT (default port 3478), tried in order.
  std::vector<std::string> servers;
  // Local IP:PORT to bind ("0.0.0.0:0", "[::]:0"); empty: any address of
  // the first server's family, any port.
  std::string local;
  // RFC 8489 retransmission: first timeout, total sends, final wait in RTOs.
  std::chrono::milliseconds rto{300};
  int rc = 4;
  int rm = 8;
  // Asked between events (at least every 100 ms); when it holds, the query
  // ends at once: Ctrl-C in a command line tool. Empty: never.
  std::function<bool()> stop;
};

struct NatTypeOptions : StunOptions {
  bool test_hairpinning = true;
};

struct MappedAddressReport {
  std::string mapped_address;   // "198.51.100.7:40123"
  std::string local_address;    // this socket as the kernel sees it
  std::string server;           // the server that answered
  std::optional<std::string> other_address;  // server's alternate (RFC 5780 / 3489)
  std::chrono::microseconds round_trip{};
  int requests_sent = 0;
};

struct NatTypeReport {
  ClassicNatType classic_type = ClassicNatType::kUnknown;
  NatBehavior mapping = NatBehavior::kUnknown;
  NatBehavior filtering = NatBehavior::kUnknown;
  std::optional<bool> hairpinning;  // nullopt: not tested / unknown
  std::optional<std::string> mapped_address;
  std::string local_address;
  std::optional<std::string> server;            // nullopt when nobody answered
  std::optional<std::string> server_alternate;
  std::string note;                             // what happened, for humans
  bool interrupted = false;  // `stop` held before the tests finished: the findings so far
};

Result<MappedAddressReport, Error> query_mapped_address(const StunOptions& options);

// A report whose classic_type is kUdpBlocked comes back as a value (it is
// a finding), with `server` unset; only bad input and socket errors fail.
Result<NatTypeReport, Error> detect_nat_type(const NatTypeOptions& options);

}  // namespace natpunch
