// libFuzzer target for the rendezvous wire format and the machines that
// consume it: decoding never reads past the buffer, whatever decodes
// re-encodes to the same bytes, the server never answers a stranger with
// more bytes than it sent (no amplification) and never registers it, and
// the client never accepts a datagram it cannot authenticate.
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/rng.hpp"
#include "rendezvous/client.hpp"
#include "rendezvous/messages.hpp"
#include "rendezvous/server.hpp"

#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace natpunch;
  using namespace natpunch::rendezvous;
  const std::span<const std::uint8_t> bytes(data, size);
  if (auto message = decode(bytes)) {
    const auto again = encode(*message);
    FUZZ_CHECK(again.size() == size);
    for (std::size_t i = 0; i < size; ++i) FUZZ_CHECK(again[i] == data[i]);
  }

  Rng rng(1);
  RandomBytes random = [&rng](std::span<std::uint8_t> out) { rng.fill(out); };
  ServerConfig config;
  // Small fixed tables: a fresh server per input must stay cheap (the
  // limiters still run, so they are fuzzed too).
  for (auto* limit : {&config.rate_limit, &config.admission.verifications, &config.path_challenge_limit}) {
    (*limit)->max_sources = 64;
    (*limit)->max_addresses = 64;
  }
  config.used_cookie_capacity = 64;
  Server server(config, random, kTimeZero);
  const Endpoint stranger{IpAddress::v4({203, 0, 113, 66}), 4444};
  std::size_t reply_bytes = 0;
  for (const auto& t : server.handle(kTimeZero, bytes, stranger)) reply_bytes += t.bytes.size();
  FUZZ_CHECK(reply_bytes <= size);
  FUZZ_CHECK(server.registration_count() == 0);

  ClientConfig client_config;
  client_config.server = Endpoint{IpAddress::v4({203, 0, 113, 1}), 3478};
  client_config.identity = Identity::generate(random);
  client_config.accept_policy = accept_all();
  Client client(client_config, random);
  client.start(kTimeZero);
  client.on_datagram(kTimeZero, 0, client_config.server, bytes);
  FUZZ_CHECK(!client.registered());
  while (auto event = client.poll_event()) FUZZ_CHECK(false);
  return 0;
}
