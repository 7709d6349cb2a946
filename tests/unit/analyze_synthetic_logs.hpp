#pragma once
// Synthetic mapping-collection logs for the analyzer tests: the phone sends
// from random local ports, the port comes from one of the NAT model's real
// allocators, and both sides write their CSV as the tools would.
#include <cstdint>
#include <deque>
#include <string>

#include "core/rng.hpp"
#include "nat/allocator_spec.hpp"

namespace natpunch::analyze::testing {

struct SyntheticLogs {
  std::string client;
  std::string server;
};

enum class SyntheticDialect { Natpunch, Thesis };

// `live_mappings`: how many mappings stay open; older ones are released
// (time out), as during a real collection. 0 keeps every mapping, which a
// block allocator needs to keep its block (see BlockSpec).
inline SyntheticLogs make_logs(const nat::AllocatorSpec& spec, std::size_t rows, std::uint64_t seed,
                               std::size_t live_mappings, SyntheticDialect dialect = SyntheticDialect::Natpunch) {
  Rng rng(seed);
  auto allocator = nat::make_allocator(spec);
  std::deque<std::uint16_t> live;
  SyntheticLogs logs;
  const bool thesis = dialect == SyntheticDialect::Thesis;
  logs.client = thesis ? "Message id, Time, Sender Port, Receiver Port, Success\n" : "uuid,time_ms,local_port,server_port\n";
  logs.server = thesis ? "Message id, Time, Sender Port, Receiver Port\n" : "uuid,time_ms,observed_port,server_port\n";
  const std::string sep = thesis ? ", " : ",";
  const double server_clock_offset_ms = 3'600'000.0 + 123.0;  // the clocks are not synchronised
  for (std::size_t i = 0; i < rows; ++i) {
    const auto local = static_cast<std::uint16_t>(rng.uniform(1024, 65535));
    const auto server_port = static_cast<std::uint16_t>(rng.uniform(2000, 2999));
    const auto now = kTimeZero + milliseconds(15 * i);
    const auto mapped = allocator->allocate(now, nat::PortRequest{0, local}, rng);
    if (!mapped) continue;
    if (live_mappings > 0) {
      live.push_back(*mapped);
      if (live.size() > live_mappings) {
        allocator->release(now, live.front());
        live.pop_front();
      }
    }
    const std::string id = "id-" + std::to_string(seed) + "-" + std::to_string(i);
    const double t = 15.0 * static_cast<double>(i);
    logs.client += id + sep + std::to_string(t) + sep + std::to_string(local) + sep + std::to_string(server_port) +
                   (thesis ? sep + "True" : "") + "\n";
    logs.server += id + sep + std::to_string(t + server_clock_offset_ms + 40) + sep + std::to_string(*mapped) + sep +
                   std::to_string(server_port) + "\n";
  }
  return logs;
}

}  // namespace natpunch::analyze::testing
