#include "core/endpoint.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

#include "core/bytes.hpp"

namespace natpunch {

IpAddress IpAddress::v4(std::array<std::uint8_t, 4> octets) {
  IpAddress a;
  a.family_ = Family::v4;
  std::memcpy(a.bytes_.data(), octets.data(), 4);
  return a;
}

IpAddress IpAddress::v4(std::uint32_t host_order) {
  std::array<std::uint8_t, 4> octets{};
  store_be32(octets.data(), host_order);
  return v4(octets);
}

IpAddress IpAddress::v6(const std::array<std::uint8_t, 16>& octets) {
  IpAddress a;
  a.family_ = Family::v6;
  a.bytes_ = octets;
  return a;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.size() > 63) return std::nullopt;
  char buf[64];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  std::array<std::uint8_t, 16> raw{};
  if (inet_pton(AF_INET, buf, raw.data()) == 1) return v4({raw[0], raw[1], raw[2], raw[3]});
  if (inet_pton(AF_INET6, buf, raw.data()) == 1) return v6(raw);
  return std::nullopt;
}

std::uint32_t IpAddress::v4_host_order() const { return load_be32(bytes_.data()); }

bool IpAddress::is_unspecified() const {
  for (std::size_t i = 0; i < size(); ++i)
    if (bytes_[i] != 0) return false;
  return true;
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes_.data(), buf, sizeof buf);
  return buf;
}

std::optional<Endpoint> Endpoint::parse(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  auto addr = IpAddress::parse(host);
  if (!addr) return std::nullopt;
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc{} || ptr != port.data() + port.size() || port.empty() || value > 65535) return std::nullopt;
  return Endpoint{*addr, static_cast<std::uint16_t>(value)};
}

std::string Endpoint::to_string() const {
  if (address.is_v6()) return "[" + address.to_string() + "]:" + std::to_string(port);
  return address.to_string() + ":" + std::to_string(port);
}

}  // namespace natpunch

std::size_t std::hash<natpunch::Endpoint>::operator()(const natpunch::Endpoint& e) const noexcept {
  std::size_t h = std::hash<std::uint16_t>{}(e.port) ^ (static_cast<std::size_t>(e.address.family()) << 20);
  for (std::size_t i = 0; i < e.address.size(); ++i) h = h * 131 + e.address.data()[i];
  return h;
}
