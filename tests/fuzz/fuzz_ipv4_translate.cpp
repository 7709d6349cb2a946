// libFuzzer target for natd's datapath: the IPv4/UDP translator, the ICMP
// translator (echo and errors quoting UDP or echo), and the whole datapath
// (fragment reassembly, path MTU with "fragmentation needed", fragmenting).
// Whatever the bytes, nothing reads or writes outside its buffer; a packet a
// translator rejects is left unchanged; a translated one still carries a
// valid IPv4 header checksum if it had one; and everything the datapath
// emits is a valid IPv4 packet no larger than the path MTU.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "core/rng.hpp"
#include "nat/icmp_translator.hpp"
#include "nat/ipv4_nat_datapath.hpp"
#include "nat/ipv4_udp_translator.hpp"

#include "fuzz_check.hpp"

namespace {

using namespace natpunch;

const IpAddress kPublic = IpAddress::v4({203, 0, 113, 111});
constexpr std::size_t kPathMtu = 576;

nat::NatTable make_table(nat::NatConfig config) {
  Rng rng(1);
  auto table = nat::NatTable::create(std::move(config), rng);
  FUZZ_CHECK(table.ok());
  return std::move(table).value();
}

nat::NatConfig udp_config() {
  nat::NatConfig config;
  config.mapping = nat::MappingBehavior::EndpointIndependent;
  config.filtering = nat::FilteringBehavior::EndpointIndependent;
  config.allocator = nat::SequentialSpec{};
  config.public_addresses = {kPublic};
  return config;
}

// Building tables per input (256 KiB of port owners each) cut the rate to
// ~900 runs/s; one set for the whole run keeps it fast, at the price of
// inputs that depend on earlier ones (a crash replays with its predecessors).
struct State {
  nat::NatTable udp = make_table(udp_config());
  nat::NatTable queries = make_table(nat::icmp_query_config(kPublic));
  nat::NatTable datapath_udp = make_table(udp_config());
  std::unique_ptr<nat::Ipv4NatDatapath> datapath;
  TimePoint now = kTimeZero;

  State() {
    nat::DatapathConfig config;
    // Half of all addresses are "inside", so mutations reach both sides.
    config.inside = nat::Ipv4Prefix{0, 0x80000000U};
    config.public_address = kPublic.v4_host_order();
    config.inside_gateway = IpAddress::v4({100, 64, 1, 1}).v4_host_order();
    config.path_mtu = kPathMtu;
    config.reassembly = nat::ReassemblyLimits{.max_datagrams = 16, .max_bytes = 1 << 20, .timeout = seconds(30)};
    datapath = std::make_unique<nat::Ipv4NatDatapath>(datapath_udp, make_table(nat::icmp_query_config(kPublic)),
                                                      config);
  }
};

bool header_checksum_valid(const std::vector<std::uint8_t>& p) {
  const std::size_t ihl = std::size_t{p[0] & 0x0fU} * 4;
  return ihl <= p.size() && nat::internet_checksum(std::span(p).first(ihl)) == 0;
}

template <class Translator>
void check_translator(Translator& translator, TimePoint now, const std::uint8_t* data, std::size_t size) {
  // Exactly `size` bytes on the heap, so ASan sees any overrun.
  for (nat::Side side : {nat::Side::Inside, nat::Side::Outside}) {
    std::vector<std::uint8_t> packet(data, data + size);
    const auto before = packet;
    auto result = translator.translate(now, side, packet);
    if (!result) {
      FUZZ_CHECK(packet == before);
      continue;
    }
    FUZZ_CHECK(result->length <= size);
    if (header_checksum_valid(before)) FUZZ_CHECK(header_checksum_valid(packet));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static State state;
  state.now += milliseconds(1);
  // Checksum checking off, as natd runs it: otherwise almost every mutation
  // stops at the header checksum and the code behind it goes unexplored.
  const nat::TranslatorOptions options{.verify_header_checksum = false};
  nat::Ipv4UdpTranslator udp(state.udp, options);
  nat::IcmpTranslator icmp(state.udp, state.queries, options);
  check_translator(udp, state.now, data, size);
  check_translator(icmp, state.now, data, size);

  std::vector<std::uint8_t> packet(data, data + size);
  state.datapath->handle(state.now, packet, [](std::span<const std::uint8_t> out) {
    std::vector<std::uint8_t> copy(out.begin(), out.end());
    auto header = nat::parse_ipv4_header(copy, false);
    FUZZ_CHECK(header.ok());
    FUZZ_CHECK(header->total_length == copy.size());
    FUZZ_CHECK(copy.size() <= kPathMtu);
  });
  state.datapath->poll(state.now, [](std::span<const std::uint8_t>) {});
  return 0;
}
