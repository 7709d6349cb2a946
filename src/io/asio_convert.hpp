#pragma once
// Conversions between natpunch's Endpoint and Asio's UDP and TCP endpoints.
#include <asio/ip/tcp.hpp>
#include <asio/ip/udp.hpp>

#include "core/endpoint.hpp"

namespace natpunch::io {

inline asio::ip::udp::endpoint to_asio(const Endpoint& e) {
  if (e.address.is_v4()) {
    asio::ip::address_v4::bytes_type b{};
    std::copy_n(e.address.data(), 4, b.begin());
    return {asio::ip::address_v4(b), e.port};
  }
  asio::ip::address_v6::bytes_type b{};
  std::copy_n(e.address.data(), 16, b.begin());
  return {asio::ip::address_v6(b), e.port};
}

inline Endpoint from_asio(const asio::ip::udp::endpoint& e) {
  auto addr = e.address();
  if (addr.is_v6() && addr.to_v6().is_v4_mapped()) addr = asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6());
  if (addr.is_v4()) {
    auto b = addr.to_v4().to_bytes();
    return {IpAddress::v4({b[0], b[1], b[2], b[3]}), e.port()};
  }
  auto b = addr.to_v6().to_bytes();
  std::array<std::uint8_t, 16> raw{};
  std::copy(b.begin(), b.end(), raw.begin());
  return {IpAddress::v6(raw), e.port()};
}

inline Endpoint from_asio(const asio::ip::tcp::endpoint& e) { return from_asio(asio::ip::udp::endpoint(e.address(), e.port())); }

inline asio::ip::tcp::endpoint to_asio_tcp(const Endpoint& e) {
  const auto u = to_asio(e);
  return {u.address(), u.port()};
}

}  // namespace natpunch::io
