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
#include "nat/nat_table.hpp"

namespace natpunch::nat {

enum class Side : std::uint8_t { Inside, Outside };

// Why a packet could not be read as one whole IPv4/UDP datagram.
enum class PacketError : std::uint8_t {
  TooShort,           // fewer bytes than an IPv4 header
  NotIpv4,            // version field is not 4
  BadHeaderLength,    // IHL below 5 or beyond the total length
  BadTotalLength,     // total length below the header or beyond the buffer
  BadHeaderChecksum,  // only when verification is on
  Fragment,           // MF set or offset non-zero: ports are unknowable without reassembly
  NotUdp,             // another protocol (ICMP is not translated yet)
  UdpTooShort,        // less than a UDP header after the IPv4 header
  BadUdpLength,       // UDP length below 8 or beyond the IPv4 payload
};

// "too short", "not ipv4", "bad header length", "bad total length",
// "bad header checksum", "fragment", "not udp", "udp too short",
// "bad udp length".
std::string_view to_string(PacketError error);

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

// The Internet checksum (RFC 1071) of `bytes`, folded and complemented.
// Exposed for tests that verify rewritten packets from scratch.
std::uint16_t internet_checksum(std::span<const std::uint8_t> bytes, std::uint32_t initial_sum = 0);

}  // namespace natpunch::nat
