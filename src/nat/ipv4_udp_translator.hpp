#pragma once
// Runs a NatTable on raw IPv4/UDP packets, sans-IO: parses the header,
// asks the table what to do, and rewrites addresses and ports in place with
// checksums patched incrementally (RFC 1624), so a packet costs a few dozen
// bytes of work whatever its size. The caller says which side a packet came
// from; `natd` decides that from its addresses.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <variant>

#include "core/endpoint.hpp"
#include "core/result.hpp"
#include "core/time.hpp"
#include "nat/ipv4_header.hpp"
#include "nat/nat_table.hpp"

namespace natpunch::nat {

enum class Side : std::uint8_t { Inside, Outside };

// Malformed (PacketError) or refused by the NAT model (Drop).
using TranslateError = std::variant<PacketError, Drop>;
std::string_view to_string(const TranslateError& error);

struct TranslatedPacket {
  Endpoint source;       // after rewriting
  Endpoint destination;  // after rewriting
  // Outside for ordinary traffic; Hairpin when an inside host reached
  // another inside host through its external endpoint.
  Translated::Route route = Translated::Route::Outside;
  std::size_t length = 0;  // the IPv4 total length: bytes to send on
};

struct TranslatorOptions {
  // The kernel already checked headers of packets it forwarded into a TUN
  // device; verification is for callers that get packets from elsewhere.
  bool verify_header_checksum = true;
};

// The table's public addresses must be IPv4 (natd checks its options).
class Ipv4UdpTranslator {
 public:
  explicit Ipv4UdpTranslator(NatTable& table, TranslatorOptions options = {}) : table_(table), options_(options) {}

  // Translates `packet` in place; bytes beyond the IPv4 total length are
  // left alone. On error the packet is unchanged. Never throws, never reads
  // outside `packet`.
  Result<TranslatedPacket, TranslateError> translate(TimePoint now, Side from, std::span<std::uint8_t> packet);

 private:
  NatTable& table_;
  TranslatorOptions options_;
};

}  // namespace natpunch::nat
