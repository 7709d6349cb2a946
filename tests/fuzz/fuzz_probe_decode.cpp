// libFuzzer target for natpunch's authenticated PROBE/ACK/CONFIRM datagrams
// and the machine that consumes them: decoding never reads past the
// buffer, whatever decodes re-encodes to the same bytes, and nothing the
// fuzzer can build connects a machine, not even messages correctly sealed
// with the session key (the fuzzer plays an insider who lacks only the
// machine's nonce secret, the strongest attacker the nonces must stop).
//
// Input: byte 0 selects the mode; the rest is either raw datagrams (52
// bytes each) or field values that are sealed with the key first.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "punch/port_chooser_chain.hpp"
#include "punch/probing_machine.hpp"
#include "wire/probe.hpp"

#include "fuzz_check.hpp"

namespace {

using namespace natpunch;

wire::SessionKey fuzz_key() {
  wire::SessionKey key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(i);
  return key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // The machine is the caller; the fuzzer seals as the callee, so its
  // datagrams open at the machine and the machine's at `key`.
  static const wire::ProbeKey key(fuzz_key(), wire::SessionRole::Callee);
  const IpAddress peer = IpAddress::v4({203, 0, 113, 2});
  constexpr std::uint64_t kSession = 42;

  const std::span<const std::uint8_t> bytes(data, size);
  static const wire::ProbeKey caller(fuzz_key(), wire::SessionRole::Caller);
  if (const auto message = wire::decode_probe(bytes, key)) {
    const auto again = wire::encode(*message, caller);
    FUZZ_CHECK(size == again.size());
    FUZZ_CHECK(std::memcmp(again.data(), data, size) == 0);
  }
  if (size == 0) return 0;

  Rng rng(1);
  punch::ProbingConfig config;
  config.peer_address = peer;
  config.session_id = kSession;
  config.key = fuzz_key();
  config.role = wire::SessionRole::Caller;
  config.probe_budget = 4;
  config.sockets = 2;
  punch::ProbingMachine machine(config, std::make_unique<punch::RepeatPortChooser>(5000, 4), rng, kTimeZero);
  TimePoint now = kTimeZero;
  const auto flush = [&] {
    while (auto d = machine.poll_transmit(now)) FUZZ_CHECK(wire::decode_probe(d->bytes, key).ok());
  };
  flush();  // a few probes went out, so ACKs have sequences to echo

  const std::uint8_t mode = data[0];
  const std::uint8_t* p = data + 1;
  const std::uint8_t* end = data + size;
  while (p < end) {
    const std::uint16_t port = static_cast<std::uint16_t>(fuzz_take(p, end, 2));
    const std::uint32_t socket = static_cast<std::uint32_t>(fuzz_take(p, end, 1) % 3);  // 2 is out of range
    if (mode % 2 == 0) {
      // Raw datagram: at most one probe's worth.
      const std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(end - p), wire::kProbeSize);
      machine.on_datagram(now, socket, Endpoint{peer, port}, std::span<const std::uint8_t>(p, n));
      machine.on_datagram(now, socket, Endpoint{IpAddress::v4({198, 51, 100, 66}), port},
                          std::span<const std::uint8_t>(p, n));
      p += n;
    } else {
      // A sealed message with fuzzed fields.
      wire::ProbeMessage m;
      m.kind = static_cast<wire::ProbeKind>(1 + fuzz_take(p, end, 1) % 3);
      m.session_id = fuzz_take(p, end, 1) % 2 == 0 ? kSession : fuzz_take(p, end, 8);
      m.sequence = static_cast<std::uint32_t>(fuzz_take(p, end, 4));
      m.echo_sequence = static_cast<std::uint32_t>(fuzz_take(p, end, 1));
      m.nonce = fuzz_take(p, end, 8);
      m.echo_nonce = fuzz_take(p, end, 8);
      machine.on_datagram(now, socket, Endpoint{peer, port}, wire::encode(m, key));
    }
    flush();
    FUZZ_CHECK(machine.result().outcome != punch::PunchOutcome::Connected);
    now += std::chrono::milliseconds(fuzz_take(p, end, 1));
    if (auto due = machine.next_deadline(); due && *due <= now) machine.on_timer(now);
    flush();
  }
  return 0;
}
