#pragma once
// IPv4/IPv6 address and UDP endpoint value types shared by every layer.
#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace natpunch {

class IpAddress {
 public:
  enum class Family : std::uint8_t { v4 = 4, v6 = 6 };

  IpAddress() = default;  // 0.0.0.0
  static IpAddress v4(std::array<std::uint8_t, 4> octets);
  static IpAddress v4(std::uint32_t host_order);
  static IpAddress v6(const std::array<std::uint8_t, 16>& octets);
  // Accepts dotted quad or RFC 5952 text; no DNS.
  static std::optional<IpAddress> parse(std::string_view text);

  Family family() const { return family_; }
  bool is_v4() const { return family_ == Family::v4; }
  bool is_v6() const { return family_ == Family::v6; }
  // 4 bytes for v4, 16 for v6, network order.
  const std::uint8_t* data() const { return bytes_.data(); }
  std::size_t size() const { return is_v4() ? 4 : 16; }
  std::uint32_t v4_host_order() const;
  bool is_unspecified() const;

  std::string to_string() const;

  auto operator<=>(const IpAddress&) const = default;

 private:
  Family family_ = Family::v4;
  std::array<std::uint8_t, 16> bytes_{};
};

struct Endpoint {
  IpAddress address;
  std::uint16_t port = 0;

  // "1.2.3.4:3478" or "[2001:db8::1]:3478".
  static std::optional<Endpoint> parse(std::string_view text);
  std::string to_string() const;

  auto operator<=>(const Endpoint&) const = default;
};

}  // namespace natpunch

template <>
struct std::hash<natpunch::Endpoint> {
  std::size_t operator()(const natpunch::Endpoint& e) const noexcept;
};
