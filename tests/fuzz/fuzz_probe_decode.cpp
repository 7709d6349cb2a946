// libFuzzer target for natpunch's PROBE/ACK datagrams and the naive attack
// that consumes them: decoding never reads past the buffer, whatever
// decodes re-encodes to the same bytes, and a stranger's datagram never
// connects the attack.
#include <cstddef>
#include <cstdint>
#include <span>

#include "punch/naive_birthday.hpp"
#include "wire/probe.hpp"

#define FUZZ_CHECK(condition) \
  do {                        \
    if (!(condition)) __builtin_trap(); \
  } while (false)

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace natpunch;
  const std::span<const std::uint8_t> bytes(data, size);
  if (const auto message = wire::decode_probe(bytes)) {
    const auto again = wire::encode(*message);
    FUZZ_CHECK(size == again.size());
    for (std::size_t i = 0; i < size; ++i) FUZZ_CHECK(again[i] == data[i]);
  }

  Rng rng(1);
  punch::NaiveBirthdayConfig config;
  config.peer_address = IpAddress::v4({203, 0, 113, 2});
  config.session_id = 42;
  config.probe_budget = 3;
  punch::NaiveBirthday attack(config, rng, kTimeZero);
  // From an address that is not the peer's: must never count.
  attack.on_datagram(kTimeZero, 40000, Endpoint{IpAddress::v4({198, 51, 100, 66}), 1234}, bytes);
  FUZZ_CHECK(attack.result().outcome == punch::PunchOutcome::Running);
  attack.on_datagram(kTimeZero, 40000, Endpoint{config.peer_address, 1234}, bytes);
  while (attack.poll_transmit(kTimeZero)) {
  }
  return 0;
}
