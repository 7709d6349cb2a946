#pragma once
// The servers' per-source rate options (stun-server, measure-server,
// rendezvous): a rate and burst per source port -- one client socket --
// under a much larger budget per source address, which a carrier-grade NAT
// shares among thousands of subscribers (stun/source_rate_limiter.hpp).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>

#include "cli_checks.hpp"
#include "stun/source_rate_limiter.hpp"

namespace natpunch::cli {

struct SourceLimitOptions {
  double rate = 20.0;  // per source port; 0 disables every limit
  double burst = 40.0;
  double address_rate = 2000.0;
  double address_burst = 4000.0;
};

// `what` names what is counted ("requests", "datagrams without a
// registration"); `port_note` says more about the port's rate.
inline void add_source_limit_options(CLI::App* cmd, SourceLimitOptions& o, const std::string& what,
                                     const std::string& port_note) {
  std::string What = what;
  if (!What.empty()) What[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(What[0])));
  cmd->add_option("--rate", o.rate, What + " per second allowed per source port (one client socket)" + port_note +
                                        "; 0 disables every limit")
      ->capture_default_str()
      ->check(non_negative_number());
  cmd->add_option("--burst", o.burst, "Back-to-back " + what + " allowed per source port")->capture_default_str();
  cmd->add_option("--address-rate", o.address_rate,
                  What + " per second allowed per source address, all its ports together (IPv6: per /64): a carrier NAT "
                         "puts thousands of subscribers behind one; ports seen before keep a small reserve when an "
                         "abuser spends it")
      ->capture_default_str()
      ->check(positive_number());
  cmd->add_option("--address-burst", o.address_burst, "Back-to-back " + what + " allowed per source address")
      ->capture_default_str()
      ->check(positive_number());
}

// Sets `config` (whose other fields keep the server's defaults) from the
// options; --rate 0 turns limiting off.
inline void apply(const SourceLimitOptions& o, std::optional<stun::RateLimitConfig>& config) {
  if (o.rate <= 0) {
    config.reset();
    return;
  }
  if (!config) config.emplace();
  config->requests_per_second = o.rate;
  config->burst = std::max(o.burst, 1.0);
  config->address_requests_per_second = std::max(o.address_rate, o.rate);
  config->address_burst = std::max(o.address_burst, config->burst);
}

}  // namespace natpunch::cli
