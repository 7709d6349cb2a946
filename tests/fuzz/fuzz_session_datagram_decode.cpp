// libFuzzer target for the authenticated session datagrams of the direct
// path (wire/session_datagram.hpp): decoding never reads past the buffer,
// whatever decodes re-encodes to the same bytes, and bytes sealed under
// another key, or bounced back to their sender, never decode; the control payload parser
// (decode_session_control) likewise round-trips whatever it accepts.
#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "wire/session_datagram.hpp"

#include "fuzz_check.hpp"

namespace {

using namespace natpunch;

wire::SessionKey key_from(std::uint8_t seed) {
  wire::SessionKey key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(seed + i);
  return key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool ready = sodium_init() >= 0;
  FUZZ_CHECK(ready);
  // Datagrams from the caller, opened by the callee.
  static const wire::SessionDatagramKeys caller(key_from(0), wire::SessionRole::Caller);
  static const wire::SessionDatagramKeys key(key_from(0), wire::SessionRole::Callee);
  static const wire::SessionDatagramKeys other(key_from(1), wire::SessionRole::Callee);
  constexpr std::uint64_t kSession = 42;
  const std::span<const std::uint8_t> bytes(data, size);

  if (auto decoded = wire::decode_session_datagram(bytes, kSession, key)) {
    const auto again = wire::encode(*decoded, caller);
    FUZZ_CHECK(again.size() == size);
    FUZZ_CHECK(std::memcmp(again.data(), data, size) == 0);
  }
  // The input as a payload: sealed under one key, it opens only under that key.
  wire::SessionDatagram d;
  d.session_id = kSession;
  d.flags = size > 0 ? data[0] : 0;
  d.sequence = size;
  d.payload.assign(data, data + size);
  const auto sealed = wire::encode(d, caller);
  auto opened = wire::decode_session_datagram(sealed, kSession, key);
  FUZZ_CHECK(opened.ok());
  FUZZ_CHECK(opened->payload.size() == std::min(size, wire::kMaxSessionPayload));
  FUZZ_CHECK(!wire::decode_session_datagram(sealed, kSession, other).ok());
  FUZZ_CHECK(!wire::decode_session_datagram(sealed, kSession + 1, key).ok());
  FUZZ_CHECK(!wire::decode_session_datagram(sealed, kSession, caller).ok());  // never at its sender
  // The input as a control payload: whatever decodes re-encodes to the same bytes.
  if (auto control = wire::decode_session_control(bytes)) {
    const auto again = wire::encode(*control);
    FUZZ_CHECK(again.size() == size);
    FUZZ_CHECK(std::memcmp(again.data(), data, size) == 0);
  }
  return 0;
}
