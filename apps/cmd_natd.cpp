// `natpunch natd`: a userspace NAT on a TUN device, running the NAT model
// of src/nat/ on real packets with the real clock.
#include <array>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "commands.hpp"
#include "core/endpoint.hpp"
#include "core/rng.hpp"
#include "io/os_random.hpp"
#include "io/profile_files.hpp"
#include "io/tun_device.hpp"
#include "io/tun_packet_loop.hpp"
#include "nat/allocator_spec.hpp"
#include "nat/allocator_spec_text.hpp"
#include "nat/ipv4_udp_translator.hpp"
#include "nat/nat_table.hpp"
#include "nat/profile.hpp"

namespace natpunch::cli {

namespace {

struct NatdOptions {
  std::string tun;
  std::string inside_cidr;
  std::string public_ip;
  std::string profile;
  std::string mapping;
  std::string filtering;
  std::string allocator;
  std::optional<double> pending_timeout;
  std::optional<double> idle_timeout;
  std::string log_mappings;
};

struct Ipv4Prefix {
  std::uint32_t network = 0;
  std::uint32_t mask = 0;
  bool contains(std::uint32_t address) const { return (address & mask) == network; }
};

std::optional<Ipv4Prefix> parse_prefix(const std::string& text) {
  const auto slash = text.find('/');
  if (slash == std::string::npos) return std::nullopt;
  auto address = IpAddress::parse(std::string_view(text).substr(0, slash));
  unsigned length = 0;
  const char* first = text.data() + slash + 1;
  const char* last = text.data() + text.size();
  auto [end, ec] = std::from_chars(first, last, length);
  if (!address || !address->is_v4() || ec != std::errc{} || end != last || first == last || length > 32)
    return std::nullopt;
  Ipv4Prefix prefix;
  prefix.mask = length == 0 ? 0 : ~std::uint32_t{0} << (32 - length);
  prefix.network = address->v4_host_order() & prefix.mask;
  return prefix;
}

std::optional<Duration> seconds_option(const std::optional<double>& value) {
  if (!value) return std::nullopt;
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(*value));
}

// Everything is checked here, before the TUN device exists.
std::optional<nat::NatConfig> build_config(const NatdOptions& o, const IpAddress& public_ip) {
  const auto pending = seconds_option(o.pending_timeout);
  const auto idle = seconds_option(o.idle_timeout);
  nat::NatConfig config;
  if (!o.profile.empty()) {
    if (!o.mapping.empty() || !o.filtering.empty() || !o.allocator.empty()) {
      std::cerr << "error: --profile cannot be combined with --mapping/--filtering/--allocator\n";
      return std::nullopt;
    }
    auto profile = io::load_profile(o.profile);
    if (!profile) {
      std::cerr << "error: " << profile.error().to_string() << "\n";
      return std::nullopt;
    }
    nat::NatConfigOptions options;
    options.public_addresses = {public_ip};
    options.fallbacks.pending_timeout = pending;
    options.fallbacks.established_timeout = idle;
    auto made = nat::make_nat_config(*profile, options);
    if (!made) {
      std::cerr << "error: " << made.error().to_string()
                << " (give --pending-timeout / --idle-timeout for timeouts the profile leaves unknown)\n";
      return std::nullopt;
    }
    config = *made;
  } else {
    if (o.mapping.empty() || o.filtering.empty() || o.allocator.empty()) {
      std::cerr << "error: give --profile FILE, or all of --mapping, --filtering and --allocator\n";
      return std::nullopt;
    }
    auto mapping = nat::parse_mapping_behavior(o.mapping);
    auto filtering = nat::parse_filtering_behavior(o.filtering);
    if (!mapping || !filtering) {
      std::cerr << "error: --mapping/--filtering must be endpoint-independent, address-dependent or "
                   "address-and-port-dependent\n";
      return std::nullopt;
    }
    auto allocator = nat::parse_allocator_spec(o.allocator);
    if (!allocator) {
      std::cerr << "error: --allocator '" << o.allocator
                << "' is not one of preserving, sequential, random, uniform[:MIN-MAX], block[:SIZE], "
                   "beta[:ALPHA,BETA,LOC,SCALE]\n";
      return std::nullopt;
    }
    config.mapping = *mapping;
    config.filtering = *filtering;
    config.allocator = *allocator;
    config.public_addresses = {public_ip};
  }
  // Explicit timeouts win over the profile's, so lab tests can shorten them.
  if (pending) config.pending_timeout = *pending;
  if (idle) config.established_timeout = *idle;
  if (auto error = nat::validate(config)) {
    std::cerr << "error: NAT config: " << error->field << ": " << error->message << "\n";
    return std::nullopt;
  }
  return config;
}

struct NatdCounters {
  std::uint64_t outbound = 0;
  std::uint64_t inbound = 0;
  std::uint64_t not_ours = 0;  // neither from the inside prefix nor to the public address
  std::array<std::uint64_t, 16> malformed{};
  std::array<std::uint64_t, 16> dropped{};
};

std::uint32_t source_of(std::span<const std::uint8_t> p) {
  return (std::uint32_t{p[12]} << 24) | (std::uint32_t{p[13]} << 16) | (std::uint32_t{p[14]} << 8) | p[15];
}
std::uint32_t destination_of(std::span<const std::uint8_t> p) {
  return (std::uint32_t{p[16]} << 24) | (std::uint32_t{p[17]} << 16) | (std::uint32_t{p[18]} << 8) | p[19];
}

void print_counters(const NatdCounters& c, const io::TunLoopCounters& loop) {
  std::cout << "stopped: read=" << loop.read << " written=" << loop.written << " write_errors=" << loop.write_errors
            << " outbound=" << c.outbound << " inbound=" << c.inbound << " not_ours=" << c.not_ours;
  for (std::size_t i = 0; i <= static_cast<std::size_t>(nat::PacketError::BadUdpLength); ++i)
    if (c.malformed[i] != 0)
      std::cout << " malformed[" << nat::to_string(static_cast<nat::PacketError>(i)) << "]=" << c.malformed[i];
  for (std::size_t i = 0; i <= static_cast<std::size_t>(nat::Drop::Filtered); ++i)
    if (c.dropped[i] != 0) std::cout << " dropped[" << nat::to_string(static_cast<nat::Drop>(i)) << "]=" << c.dropped[i];
  std::cout << std::endl;
}

int run(const NatdOptions& o) {
  auto inside = parse_prefix(o.inside_cidr);
  if (!inside) {
    std::cerr << "error: --inside-cidr '" << o.inside_cidr << "' is not an IPv4 prefix (e.g. 100.64.1.0/24)\n";
    return kExitUsage;
  }
  auto public_ip = IpAddress::parse(o.public_ip);
  if (!public_ip || !public_ip->is_v4()) {
    std::cerr << "error: --public-ip '" << o.public_ip << "' is not an IPv4 address (e.g. 203.0.113.111)\n";
    return kExitUsage;
  }
  if (inside->contains(public_ip->v4_host_order())) {
    std::cerr << "error: --public-ip must lie outside --inside-cidr\n";
    return kExitUsage;
  }
  for (const auto& [name, value] : {std::pair{"--pending-timeout", o.pending_timeout}, {"--idle-timeout", o.idle_timeout}})
    if (value && !(*value > 0)) {
      std::cerr << "error: " << name << " must be a positive number of seconds\n";
      return kExitUsage;
    }
  if (o.tun.empty() || o.tun.size() > 15) {
    std::cerr << "error: --tun '" << o.tun << "' must be an interface name of 1-15 characters\n";
    return kExitUsage;
  }
  auto config = build_config(o, *public_ip);
  if (!config) return kExitUsage;

  std::ofstream log;
  if (!o.log_mappings.empty()) {
    log.open(o.log_mappings, std::ios::out | std::ios::trunc);
    if (!log) {
      std::cerr << "error: --log-mappings: cannot write '" << o.log_mappings << "'\n";
      return kExitUsage;
    }
    log << "# time_s internal external remote\n" << std::flush;
  }

  Rng rng(io::os_random_seed());
  auto table = nat::NatTable::create(*config, rng);
  if (!table) {
    std::cerr << "error: NAT config: " << table.error().field << ": " << table.error().message << "\n";
    return kExitUsage;
  }
  const TimePoint start = Clock::now();
  if (log.is_open()) {
    table->set_mapping_observer([&log, start](const nat::MappingEvent& e) {
      const double t = std::chrono::duration<double>(e.time - start).count();
      log << t << ' ' << e.internal.to_string() << ' ' << e.external.to_string() << ' ' << e.remote.to_string()
          << '\n' << std::flush;  // lab tests read it while natd runs
    });
  }
  // The kernel verified the header before forwarding into the device.
  nat::Ipv4UdpTranslator translator(*table, nat::TranslatorOptions{.verify_header_checksum = false});

  auto device = io::TunDevice::open(o.tun);
  if (!device) {
    std::cerr << "error: " << device.error() << "\n";
    if (log.is_open()) {  // nothing half-made stays behind
      log.close();
      std::error_code ignored;
      std::filesystem::remove(o.log_mappings, ignored);
    }
    return kExitNoAnswer;
  }

  NatdCounters counters;
  const std::uint32_t public_address = public_ip->v4_host_order();
  auto handler = [&](TimePoint now, std::span<std::uint8_t> packet) -> std::size_t {
    if (packet.size() < 20 || (packet[0] >> 4) != 4) {
      ++counters.not_ours;
      return 0;
    }
    nat::Side side;
    if (inside->contains(source_of(packet))) {
      side = nat::Side::Inside;
    } else if (destination_of(packet) == public_address) {
      side = nat::Side::Outside;
    } else {
      ++counters.not_ours;
      return 0;
    }
    auto result = translator.translate(now, side, packet);
    if (!result) {
      if (const auto* malformed = std::get_if<nat::PacketError>(&result.error()))
        ++counters.malformed[static_cast<std::size_t>(*malformed)];
      else
        ++counters.dropped[static_cast<std::size_t>(std::get<nat::Drop>(result.error()))];
      return 0;
    }
    ++(side == nat::Side::Inside ? counters.outbound : counters.inbound);
    return result->length;
  };

  io::TunLoopOptions loop_options;
  loop_options.on_ready = [&] {
    std::cout << "natd: " << o.tun << " up, inside " << o.inside_cidr << " -> " << o.public_ip << " ("
              << nat::to_string(config->mapping) << " mapping, " << nat::to_string(config->filtering)
              << " filtering, " << nat::kind_name(config->allocator) << " ports)" << std::endl;
  };
  loop_options.on_write_error = [](const std::string& error) { std::cerr << "warning: " << error << "\n"; };
  auto loop = io::run_tun_loop(*device, handler, loop_options);
  if (!loop) {
    std::cerr << "error: " << loop.error() << "\n";
    return kExitNoAnswer;
  }
  print_counters(counters, *loop);
  return kExitOk;
}

}  // namespace

void add_natd_command(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<NatdOptions>();
  auto* cmd = app.add_subcommand("natd", "Userspace NAT on a TUN device, running the NAT model on real IPv4/UDP packets");
  cmd->add_option("--tun", options->tun, "TUN device to create (removed again at exit)")->required();
  cmd->add_option("--inside-cidr", options->inside_cidr, "Packets from this IPv4 prefix are outbound")->required();
  cmd->add_option("--public-ip", options->public_ip, "The NAT's public IPv4 address; packets to it are inbound")
      ->required();
  cmd->add_option("--profile", options->profile, "Carrier profile JSON (profiles/*.json)");
  cmd->add_option("--mapping", options->mapping,
                  "endpoint-independent | address-dependent | address-and-port-dependent");
  cmd->add_option("--filtering", options->filtering,
                  "endpoint-independent | address-dependent | address-and-port-dependent");
  cmd->add_option("--allocator", options->allocator,
                  "preserving | sequential | random | uniform[:MIN-MAX] | block[:SIZE] | beta[:ALPHA,BETA,LOC,SCALE]");
  cmd->add_option("--pending-timeout", options->pending_timeout,
                  "Seconds a mapping lives with no reply yet (overrides the profile; default 120)");
  cmd->add_option("--idle-timeout", options->idle_timeout,
                  "Seconds an established mapping lives idle (overrides the profile; default 120)");
  cmd->add_option("--log-mappings", options->log_mappings, "Append each new mapping to FILE: time_s internal external remote");
  cmd->footer(
      "Example (inside a lab router namespace, as root):\n"
      "  natpunch natd --tun tun0 --inside-cidr 100.64.1.0/24 --public-ip 203.0.113.111 \\\n"
      "      --mapping endpoint-independent --filtering endpoint-independent --allocator sequential\n"
      "The router sends inside traffic and traffic for the public IP into the TUN device\n"
      "(ip rule iif LAN lookup T; default dev tun0 table T; PUBLIC/32 dev tun0); natd writes\n"
      "the translated packets back and the kernel forwards them. Stops on Ctrl-C / SIGTERM\n"
      "and prints its counters.");
  cmd->callback([options, &exit_code] { exit_code = run(*options); });
}

}  // namespace natpunch::cli
