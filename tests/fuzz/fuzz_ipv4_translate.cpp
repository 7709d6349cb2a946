// libFuzzer target for the IPv4/UDP translator: whatever the bytes, it never
// reads or writes outside the buffer, a rejected packet is left unchanged,
// and a translated one still carries a valid IPv4 header checksum.
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "core/rng.hpp"
#include "nat/ipv4_udp_translator.hpp"

#define FUZZ_CHECK(condition)           \
  do {                                  \
    if (!(condition)) __builtin_trap(); \
  } while (false)

namespace {

// Building a table per input (256 KiB of port owners) cut the rate to ~900
// runs/s; one table for the whole run keeps it fast, at the price of inputs
// that depend on earlier ones (a crash replays with its predecessors).
natpunch::nat::NatTable make_table() {
  using namespace natpunch;
  nat::NatConfig config;
  config.mapping = nat::MappingBehavior::EndpointIndependent;
  config.filtering = nat::FilteringBehavior::EndpointIndependent;
  config.allocator = nat::SequentialSpec{};
  config.public_addresses = {IpAddress::v4({203, 0, 113, 111})};
  Rng rng(1);
  auto table = nat::NatTable::create(config, rng);
  FUZZ_CHECK(table.ok());
  return std::move(table).value();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace natpunch;
  static nat::NatTable table = make_table();
  static TimePoint now = kTimeZero;
  now += milliseconds(1);
  // Checksum checking off, as natd runs it: otherwise almost every mutation
  // stops at the header checksum and the code behind it goes unexplored.
  nat::Ipv4UdpTranslator translator(table, nat::TranslatorOptions{.verify_header_checksum = false});

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
    const bool header_was_valid =
        nat::internet_checksum(std::span(before).first(std::size_t{before[0] & 0x0fU} * 4)) == 0;
    if (header_was_valid)
      FUZZ_CHECK(nat::internet_checksum(std::span(packet).first(std::size_t{packet[0] & 0x0fU} * 4)) == 0);
  }
  return 0;
}
