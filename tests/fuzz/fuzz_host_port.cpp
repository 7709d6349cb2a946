// libFuzzer target for the parser of addresses users type
// (core/host_port.hpp): any text is accepted or refused with a reason,
// never a crash; what is accepted is well-formed (a port in range, a
// literal that prints and parses back to itself, a host name of allowed
// characters only), and a bind endpoint survives to_string() -> parse.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/host_port.hpp"

#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (std::uint16_t default_port : {std::uint16_t{0}, std::uint16_t{3478}}) {
    auto remote = natpunch::parse_host_port(text, default_port);
    if (!remote) {
      FUZZ_CHECK(!remote.error().empty());
      continue;
    }
    FUZZ_CHECK(remote->port != 0);
    FUZZ_CHECK(!remote->host.empty());
    if (remote->literal) {
      const auto again = natpunch::parse_host_port(natpunch::Endpoint{*remote->literal, remote->port}.to_string(), 0);
      FUZZ_CHECK(again && again->literal == remote->literal && again->port == remote->port);
    } else {
      for (char c : remote->host)
        FUZZ_CHECK((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                   c == '_' || c == '.');
    }
  }
  if (auto bind = natpunch::parse_bind_endpoint(text)) {
    const auto again = natpunch::parse_bind_endpoint(bind->to_string());
    FUZZ_CHECK(again && *again == *bind);
  }
  return 0;
}
