// libFuzzer: the measurement wire decoder and the server behind it must
// never crash, read out of bounds, or answer with more bytes than came in.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <algorithm>
#include <span>
#include <variant>
#include <vector>

#include "measure/server.hpp"
#include "wire/measure_messages.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace natpunch;
  std::span<const std::uint8_t> bytes(data, size);
  auto decoded = wire::decode_measure(bytes);
  if (decoded) {
    // Whatever decodes re-encodes to the same bytes (the format is canonical).
    std::visit(
        [&](const auto& m) {
          using T = std::decay_t<decltype(m)>;
          if constexpr (std::is_same_v<T, wire::SizeEchoRequest>) {
            if (m.length != size) std::abort();
          } else {
            const auto again = wire::encode(m);
            if (again.size() != size || !std::equal(again.begin(), again.end(), data)) std::abort();
          }
        },
        *decoded);
  }
  measure::ServerConfig config;
  config.socket_count = 2;
  config.rate_limit->max_sources = 64;  // small: a fresh server per input
  config.rate_limit->max_addresses = 64;
  measure::Server server(config, {3479, 40000}, [](const measure::CollectionRow&) {});
  const Endpoint from = *Endpoint::parse("198.51.100.7:40123");
  if (auto reply = server.handle(kTimeZero, bytes, from, 1); reply && reply->length > size) std::abort();
  // A delayed request again with a cookie the server granted, so that the
  // scheduling path (shares, piling) is explored too.
  const bool delayed = decoded && (std::holds_alternative<wire::DelayedReflectRequest>(*decoded) ||
                                   std::holds_alternative<wire::ScheduleProbeRequest>(*decoded));
  if (delayed) {
    const auto ask = wire::encode(wire::CookieRequest{1});
    auto grant = server.handle(kTimeZero, ask, from, 0);
    if (!grant || grant->length > ask.size()) std::abort();
    auto granted = wire::decode_measure(grant->payload());
    if (!granted || !std::holds_alternative<wire::CookieGrant>(*granted)) std::abort();
    std::vector<std::uint8_t> with_cookie(bytes.begin(), bytes.end());
    const auto& cookie = std::get<wire::CookieGrant>(*granted).cookie;
    std::copy(cookie.begin(), cookie.end(), with_cookie.begin() + 16);
    if (auto reply = server.handle(kTimeZero, with_cookie, from, 1); reply && reply->length > size) std::abort();
  }
  for (const auto& out : server.take_due(kTimeZero + std::chrono::hours(25)))
    if (out.length > size) std::abort();
  return 0;
}
