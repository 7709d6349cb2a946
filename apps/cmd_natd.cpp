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

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "core/endpoint.hpp"
#include "core/rng.hpp"
#include "io/os_random.hpp"
#include "io/profile_files.hpp"
#include "io/trace_file.hpp"
#include "io/natd_routing.hpp"
#include "io/tun_device.hpp"
#include "io/tun_packet_loop.hpp"
#include "nat/allocator_spec.hpp"
#include "nat/icmp_translator.hpp"
#include "nat/ipv4_nat_datapath.hpp"
#include "nat/ipv4_udp_translator.hpp"
#include "nat/path_impairment.hpp"
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
  bool check = false;  // validate and describe the configuration, create nothing
  std::string lan;      // with --wan: natd installs (and removes) the router's policy routing
  std::string wan;
  int route_table = 100;
  std::string inside_gateway;
  std::optional<unsigned> mtu;
  unsigned link_mtu = 1500;
  std::string impair_out;
  std::string impair_in;
  std::optional<unsigned> background_subscribers;
  std::optional<double> background_rate;
  std::optional<unsigned> background_blocks;
  std::optional<double> background_hold;
  std::optional<std::uint64_t> seed;
  bool hairpinning = false;
  bool json = false;
};

using nat::Ipv4Prefix;

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
    auto profile = io::load_profile(o.profile);
    if (!profile) {
      std::cerr << "error: " << profile.error().to_string() << "\n";
      return std::nullopt;
    }
    // With a profile, --mapping/--filtering/--allocator fill in what the
    // profile leaves unknown (null); measured values win.
    nat::NatConfigOptions options;
    options.public_addresses = {public_ip};
    options.fallbacks.pending_timeout = pending;
    options.fallbacks.established_timeout = idle;
    if (!o.mapping.empty() && !(options.fallbacks.mapping = nat::parse_mapping_behavior(o.mapping))) {
      std::cerr << "error: --mapping must be endpoint-independent, address-dependent or address-and-port-dependent\n";
      return std::nullopt;
    }
    if (!o.filtering.empty() && !(options.fallbacks.filtering = nat::parse_filtering_behavior(o.filtering))) {
      std::cerr << "error: --filtering must be endpoint-independent, address-dependent or "
                   "address-and-port-dependent\n";
      return std::nullopt;
    }
    if (!o.allocator.empty()) {
      auto allocator = io::parse_allocator_option(o.allocator);
      if (!allocator) {
        std::cerr << "error: --allocator " << allocator.error() << "\n";
        return std::nullopt;
      }
      options.fallbacks.allocator = *allocator;
    }
    auto made = nat::make_nat_config(*profile, options);
    if (!made) {
      std::cerr << "error: " << made.error().to_string()
                << " (the profile leaves it unknown: give it with --mapping / --filtering / --allocator / "
                   "--pending-timeout / --idle-timeout)\n";
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
    auto allocator = io::parse_allocator_option(o.allocator);
    if (!allocator) {
      std::cerr << "error: --allocator " << allocator.error() << "\n";
      return std::nullopt;
    }
    config.mapping = *mapping;
    config.filtering = *filtering;
    config.allocator = *allocator;
    config.public_addresses = {public_ip};
  }
  // Profiles do not measure hairpinning (the thesis did not): off unless asked for.
  config.hairpinning = o.hairpinning;
  // Explicit timeouts win over the profile's, so lab tests can shorten them.
  if (pending) config.pending_timeout = *pending;
  if (idle) config.established_timeout = *idle;
  if (o.background_blocks || o.background_hold) {
    auto* block = std::get_if<nat::BlockSpec>(&config.allocator);
    if (!block) {
      std::cerr << "error: --background-blocks/--background-hold need a block allocator (--allocator block[:SIZE] "
                   "or a block profile); use --background-subscribers/--background-rate for other allocators\n";
      return std::nullopt;
    }
    if (o.background_blocks) block->background_subscribers = *o.background_blocks;
    if (o.background_hold) block->background_hold = *seconds_option(o.background_hold);
  }
  if (auto error = nat::validate(config)) {
    std::cerr << "error: NAT config: " << error->field << ": " << error->message << "\n";
    return std::nullopt;
  }
  return config;
}

nlohmann::json impairment_json(const nat::PathImpairment& i) {
  const auto& c = i.counters();
  return {{"config", nat::to_string(i.config())}, {"offered", c.offered},     {"lost", c.lost},
          {"duplicated", c.duplicated},           {"reordered", c.reordered}, {"overflowed", c.overflowed},
          {"delivered", c.delivered}};
}

nlohmann::json counters_json(const nat::Ipv4NatDatapath& datapath, const io::TunLoopCounters& loop) {
  const auto& c = datapath.counters();
  nlohmann::json j = {{"read", loop.read},
                      {"written", loop.written},
                      {"write_errors", loop.write_errors},
                      {"outbound", c.outbound},
                      {"inbound", c.inbound},
                      {"hairpinned", c.hairpinned},
                      {"not_ours", c.not_ours},
                      {"icmp_translated", c.icmp_translated},
                      {"too_big", c.too_big},
                      {"fragments_received", c.fragments_received},
                      {"reassembled", c.reassembled},
                      {"reassembly_expired", c.reassembly_expired},
                      {"fragmented", c.fragmented},
                      {"fragments_sent", c.fragments_sent}};
  nlohmann::json malformed = nlohmann::json::object();
  for (std::size_t i = 0; i < c.malformed.size(); ++i)
    if (c.malformed[i] != 0) malformed[std::string(nat::to_string(static_cast<nat::PacketError>(i)))] = c.malformed[i];
  for (std::size_t i = 0; i < c.reassembly_errors.size(); ++i)
    if (c.reassembly_errors[i] != 0)
      malformed["reassembly " + std::string(nat::to_string(static_cast<nat::ReassemblyError>(i)))] =
          c.reassembly_errors[i];
  nlohmann::json dropped = nlohmann::json::object();
  for (std::size_t i = 0; i <= static_cast<std::size_t>(nat::Drop::Filtered); ++i)
    if (c.dropped[i] != 0) dropped[std::string(nat::to_string(static_cast<nat::Drop>(i)))] = c.dropped[i];
  j["malformed"] = malformed;
  j["dropped"] = dropped;
  if (const auto& i = datapath.impairment(nat::Side::Inside)) j["impair_out"] = impairment_json(*i);
  if (const auto& i = datapath.impairment(nat::Side::Outside)) j["impair_in"] = impairment_json(*i);
  if (const auto& b = datapath.background())
    j["background"] = {{"opened", b->counters().opened}, {"refused", b->counters().refused}};
  return j;
}

// The one-line text form keeps the first piece's keys (scripts grep them).
void print_counters(const nlohmann::json& j) {
  std::cout << "stopped:";
  for (const char* key : {"read", "written", "write_errors", "outbound", "inbound", "hairpinned", "not_ours",
                          "icmp_translated",
                          "too_big", "fragments_received", "reassembled", "reassembly_expired", "fragmented",
                          "fragments_sent"})
    std::cout << ' ' << key << '=' << j[key].get<std::uint64_t>();
  for (const auto& [key, value] : j["malformed"].items()) std::cout << " malformed[" << key << "]=" << value;
  for (const auto& [key, value] : j["dropped"].items()) std::cout << " dropped[" << key << "]=" << value;
  for (const char* side : {"impair_out", "impair_in"})
    if (j.contains(side))
      for (const auto& [key, value] : j[side].items())
        if (key != "config") std::cout << ' ' << side << '.' << key << '=' << value;
  if (j.contains("background"))
    std::cout << " background.opened=" << j["background"]["opened"] << " background.refused="
              << j["background"]["refused"];
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
  // The router's inside address: by default the prefix's first host, as in the lab.
  std::uint32_t inside_gateway = inside->network + 1;
  if (!o.inside_gateway.empty()) {
    auto gateway = IpAddress::parse(o.inside_gateway);
    if (!gateway || !gateway->is_v4() || !inside->contains(gateway->v4_host_order())) {
      std::cerr << "error: --inside-gateway '" << o.inside_gateway << "' must be an IPv4 address in --inside-cidr\n";
      return kExitUsage;
    }
    inside_gateway = gateway->v4_host_order();
  }
  for (const auto& [name, value] : {std::pair{"--pending-timeout", o.pending_timeout}, {"--idle-timeout", o.idle_timeout},
                                    {"--background-hold", o.background_hold}})
    if (value && !(*value > 0)) {
      std::cerr << "error: " << name << " must be a positive number of seconds\n";
      return kExitUsage;
    }
  if (o.tun.empty() || o.tun.size() > 15) {
    std::cerr << "error: --tun '" << o.tun << "' must be an interface name of 1-15 characters\n";
    return kExitUsage;
  }
  if (o.lan.empty() != o.wan.empty()) {
    std::cerr << "error: --lan and --wan go together (natd installs the router's routing only with both)\n";
    return kExitUsage;
  }
  for (const auto& [name, value] : {std::pair{"--tun", &o.tun}, {"--lan", &o.lan}, {"--wan", &o.wan}})
    if (!value->empty() && !io::valid_interface_name(*value)) {
      std::cerr << "error: " << name << " '" << *value << "' is not an interface name (1-15 characters, no '/' or spaces)\n";
      return kExitUsage;
    }
  for (const auto& [name, value] : {std::pair{"--mtu", o.mtu}, {"--link-mtu", std::optional<unsigned>(o.link_mtu)}})
    if (value && (*value < nat::kMinimumIpv4Mtu || *value > 65535)) {
      std::cerr << "error: " << name << " " << *value << " must be between " << nat::kMinimumIpv4Mtu
                << " and 65535 bytes\n";
      return kExitUsage;
    }
  nat::DatapathConfig datapath_config;
  for (const auto& [name, text, target] :
       {std::tuple{"--impair-out", &o.impair_out, &datapath_config.impair_outbound},
        std::tuple{"--impair-in", &o.impair_in, &datapath_config.impair_inbound}}) {
    if (text->empty()) continue;
    auto parsed = nat::parse_impairment(*text);
    if (!parsed) {
      std::cerr << "error: " << name << " '" << *text << "': " << parsed.error() << "\n";
      return kExitUsage;
    }
    *target = *parsed;
  }
  if (o.background_subscribers.has_value() != o.background_rate.has_value()) {
    std::cerr << "error: --background-subscribers and --background-rate go together (e.g. "
                 "--background-subscribers 200 --background-rate 50)\n";
    return kExitUsage;
  }
  if (o.background_subscribers) {
    if (*o.background_subscribers < 1 || *o.background_subscribers > 65534) {
      std::cerr << "error: --background-subscribers must be between 1 and 65534\n";
      return kExitUsage;
    }
    if (!(*o.background_rate > 0) || *o.background_rate > 1e6) {
      std::cerr << "error: --background-rate must be a positive number of new mappings per second (at most 1e6)\n";
      return kExitUsage;
    }
    datapath_config.background = nat::BackgroundLoadConfig{*o.background_subscribers, *o.background_rate};
  }
  auto config = build_config(o, *public_ip);
  if (!config) return kExitUsage;
  if (o.check) {
    std::cout << "natd config ok: " << nat::to_string(config->mapping) << " mapping, "
              << nat::to_string(config->filtering) << " filtering, " << nat::kind_name(config->allocator)
              << " ports" << nat::details(config->allocator) << "\n";
    if (config->hairpinning) std::cout << "hairpinning: on\n";
    if (o.mtu) std::cout << "path mtu: " << *o.mtu << "\n";
    if (!o.impair_out.empty()) std::cout << "impair out: " << nat::to_string(datapath_config.impair_outbound) << "\n";
    if (!o.impair_in.empty()) std::cout << "impair in: " << nat::to_string(datapath_config.impair_inbound) << "\n";
    if (o.background_subscribers)
      std::cout << "background: " << *o.background_subscribers << " subscribers, " << *o.background_rate
                << " new mappings/s\n";
    return kExitOk;
  }

  std::ofstream log;
  if (!o.log_mappings.empty()) {
    log.open(o.log_mappings, std::ios::out | std::ios::trunc);
    if (!log) {
      std::cerr << "error: --log-mappings: cannot write '" << o.log_mappings << "'\n";
      return kExitUsage;
    }
    log << "# time_s internal external remote\n" << std::flush;
  }

  const std::uint64_t seed = o.seed.value_or(io::os_random_seed());
  Rng rng(seed);
  auto table = nat::NatTable::create(*config, rng);
  auto queries = nat::NatTable::create(nat::icmp_query_config(*public_ip), rng);
  if (!table || !queries) {
    const auto& error = !table ? table.error() : queries.error();
    std::cerr << "error: NAT config: " << error.field << ": " << error.message << "\n";
    return kExitUsage;
  }
  const TimePoint start = Clock::now();
  if (log.is_open()) {
    // Only the lab's own hosts: background subscribers are not ground truth.
    table->set_mapping_observer([&log, start, inside](const nat::MappingEvent& e) {
      if (!e.internal.address.is_v4() || !inside->contains(e.internal.address.v4_host_order())) return;
      const double t = std::chrono::duration<double>(e.time - start).count();
      log << t << ' ' << e.internal.to_string() << ' ' << e.external.to_string() << ' ' << e.remote.to_string()
          << '\n' << std::flush;  // lab tests read it while natd runs
    });
  }
  datapath_config.inside = *inside;
  datapath_config.public_address = public_ip->v4_host_order();
  datapath_config.inside_gateway = inside_gateway;
  if (o.mtu) datapath_config.path_mtu = *o.mtu;
  datapath_config.link_mtu = o.link_mtu;
  datapath_config.seed = seed;
  auto datapath = std::make_unique<nat::Ipv4NatDatapath>(*table, std::move(*queries), datapath_config);

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
  if (auto error = device->accept_local_sources())
    std::cerr << "warning: " << *error << " (ICMP errors from the inside gateway address may be dropped)\n";
  std::optional<io::NatdRouting> routing;  // removed again when run() returns
  if (!o.lan.empty()) {
    auto installed = io::NatdRouting::install(io::NatdRoutingPlan{o.lan, o.wan, o.tun, o.public_ip, o.route_table});
    if (!installed) {
      std::cerr << "error: " << installed.error() << "\n";
      return kExitNoAnswer;
    }
    routing.emplace(std::move(*installed));
  }

  io::TunLoopHandlers handlers;
  handlers.on_packet = [&](TimePoint now, std::span<std::uint8_t> packet, const io::PacketWriter& write) {
    datapath->handle(now, packet, write);
  };
  handlers.on_timer = [&](TimePoint now, const io::PacketWriter& write) { datapath->poll(now, write); };
  handlers.next_deadline = [&] { return datapath->next_deadline(); };

  io::TunLoopOptions loop_options;
  loop_options.on_ready = [&] {
    std::cout << "natd: " << o.tun << " up, inside " << o.inside_cidr << " -> " << o.public_ip << " ("
              << nat::to_string(config->mapping) << " mapping, " << nat::to_string(config->filtering)
              << " filtering, " << nat::kind_name(config->allocator) << " ports" << nat::details(config->allocator)
              << ")";
    if (config->hairpinning) std::cout << ", hairpinning";
    if (o.mtu) std::cout << ", mtu " << *o.mtu;
    if (!o.impair_out.empty()) std::cout << ", impair out " << nat::to_string(datapath_config.impair_outbound);
    if (!o.impair_in.empty()) std::cout << ", impair in " << nat::to_string(datapath_config.impair_inbound);
    if (o.background_subscribers)
      std::cout << ", background " << *o.background_subscribers << " subscribers at " << *o.background_rate << "/s";
    std::cout << std::endl;
  };
  loop_options.on_write_error = [](const std::string& error) { std::cerr << "warning: " << error << "\n"; };
  auto loop = io::run_tun_loop(*device, handlers, loop_options);
  if (!loop) {
    std::cerr << "error: " << loop.error() << "\n";
    return kExitNoAnswer;
  }
  const auto counters = counters_json(*datapath, *loop);
  if (o.json)
    std::cout << counters.dump() << std::endl;
  else
    print_counters(counters);
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
                  "preserving | sequential | random | uniform[:MIN-MAX] | block[:SIZE] | beta[:ALPHA,BETA,LOC,SCALE] | "
                  "trace:FILE (replay a real carrier's ports from `natpunch analyze ... --trace-out FILE`, from a "
                  "seeded offset, looping)");
  cmd->add_option("--pending-timeout", options->pending_timeout,
                  "Seconds a mapping lives with no reply yet (overrides the profile; default 120)");
  cmd->add_option("--idle-timeout", options->idle_timeout,
                  "Seconds an established mapping lives idle (overrides the profile; default 120)");
  cmd->add_option("--log-mappings", options->log_mappings, "Append each new mapping to FILE: time_s internal external remote");
  cmd->add_option("--lan", options->lan,
                  "Router's inside interface: with --wan, natd installs the policy routing that sends LAN traffic "
                  "and traffic for --public-ip through the TUN, and removes it at exit");
  cmd->add_option("--wan", options->wan, "Router's outside interface (proxy ARP for --public-ip is answered here)");
  cmd->add_option("--route-table", options->route_table, "Routing table for LAN traffic (with --lan/--wan)")
      ->check(CLI::Range(1, 252));
  cmd->add_flag("--check", options->check,
                "Only validate the options (and profile) and print the NAT they describe; creates nothing");
  cmd->add_option("--inside-gateway", options->inside_gateway,
                  "The router's address in --inside-cidr: source of ICMP errors natd sends to inside hosts "
                  "(default: the prefix's first host, e.g. 100.64.1.1)");
  cmd->add_option("--mtu", options->mtu,
                  "Path MTU natd enforces both ways: larger packets with DF are dropped and the sender gets ICMP "
                  "'fragmentation needed' (from --inside-gateway or --public-ip); without DF they are fragmented");
  cmd->add_option("--link-mtu", options->link_mtu,
                  "Without --mtu: reassembled datagrams larger than this are fragmented again when sent (default 1500)");
  cmd->add_option("--impair-out", options->impair_out,
                  "Impair inside->outside: delay=50ms,jitter=10ms,loss=0.05,duplicate=0.01,reorder=0.02 (any subset; "
                  "reorder = that share skips the delay)");
  cmd->add_option("--impair-in", options->impair_in, "Impair outside->inside (same syntax as --impair-out)");
  cmd->add_option("--background-subscribers", options->background_subscribers,
                  "Synthetic other subscribers (100.127.0.1 up) opening real mappings through the NAT model, so "
                  "allocators see real load; needs --background-rate");
  cmd->add_option("--background-rate", options->background_rate,
                  "New background mappings per second, all background subscribers together");
  cmd->add_option("--background-blocks", options->background_blocks,
                  "Block allocators only: N other subscribers each holding one whole port block (the model's "
                  "background of src/nat/allocator_block)");
  cmd->add_option("--background-hold", options->background_hold,
                  "Block allocators only: seconds a background subscriber holds its block (default 120)");
  cmd->add_option("--seed", options->seed, "Seed for the allocator, impairment and background randomness "
                                           "(default: from the OS)");
  cmd->add_flag("--hairpinning", options->hairpinning,
                "Hairpin (RFC 4787 REQ-9): an inside host's UDP to the public address and another inside host's "
                "mapped port reaches that host, from the sender's own mapping, if the target's filter admits it");
  cmd->add_flag("--json", options->json, "Print the counters at exit as one JSON object");
  cmd->footer(
      "Example (inside a lab router namespace, as root):\n"
      "  natpunch natd --tun tun0 --inside-cidr 100.64.1.0/24 --public-ip 203.0.113.111 \\\n"
      "      --mapping endpoint-independent --filtering endpoint-independent --allocator sequential \\\n"
      "      --lan lan0 --wan wan0\n"
      "  natpunch natd ... --profile profiles/kpn-nl.json --mtu 1400 --impair-out delay=20ms,loss=1%\n"
      "The router sends inside traffic and traffic for the public IP into the TUN device\n"
      "(ip rule iif LAN lookup T; default dev tun0 table T; PUBLIC/32 dev tun0; proxy ARP for\n"
      "PUBLIC on WAN) — with --lan/--wan natd sets this up itself and removes it at exit; natd\n"
      "writes the translated packets back and the kernel forwards them. UDP and ICMP (echo, and\n"
      "errors quoting translated datagrams) are translated; fragments are reassembled first (at\n"
      "most 256 datagrams / 32 MiB at once, 30 s each). Stops on Ctrl-C / SIGTERM, removes its\n"
      "TUN device and routing, and prints its counters (--json: as one JSON object).\n"
      "Exit codes: 0 stopped by a signal, 1 TUN device or routing failed (needs root), 2 bad option or profile.");
  cmd->callback([options, &exit_code] { exit_code = run(*options); });
}

}  // namespace natpunch::cli
