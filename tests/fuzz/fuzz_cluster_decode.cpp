// libFuzzer target for the messages between rendezvous nodes (issue 21),
// which arrive from NATS and are hostile input like any datagram. Input:
// one byte choosing the message type (ClusterType; bit 7: to every node),
// then a plaintext body.
// - decoding never reads past the buffer, and whatever decodes re-encodes
//   to the same bytes;
// - the raw input as an envelope never opens (it is not sealed with the key);
// - sealed with the cluster key and handed to a clustered server that has
//   no clients, a message never makes it send a datagram, and what it
//   publishes in return is bounded.
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/rng.hpp"
#include "rendezvous/cluster_messages.hpp"
#include "rendezvous/server.hpp"

#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace natpunch;
  using namespace natpunch::rendezvous;
  if (size == 0) return 0;
  const std::span<const std::uint8_t> input(data, size);
  ClusterKey key{};
  key.fill(0x5a);
  FUZZ_CHECK(!open_cluster(key, input));

  // The type in the low 7 bits; the high bit sends it to every node.
  const std::uint8_t t = data[0] & 0x7f;
  if (t < static_cast<std::uint8_t>(ClusterType::Hello) || t > static_cast<std::uint8_t>(ClusterType::ResumeMatched)) return 0;
  const auto type = static_cast<ClusterType>(t);
  const auto body_bytes = input.subspan(1);
  auto body = decode_cluster_body(type, body_bytes);
  if (!body) return 0;
  FUZZ_CHECK(type_of(*body) == type);
  const auto again = encode_cluster_body(*body);
  FUZZ_CHECK(again.size() == body_bytes.size());
  for (std::size_t i = 0; i < again.size(); ++i) FUZZ_CHECK(again[i] == body_bytes[i]);

  Rng rng(1);
  RandomBytes random = [&rng](std::span<std::uint8_t> out) { rng.fill(out); };
  ServerConfig config;
  for (auto* limit : {&config.rate_limit, &config.admission.verifications, &config.path_challenge_limit}) {
    (*limit)->max_sources = 64;
    (*limit)->max_addresses = 64;
  }
  config.used_cookie_capacity = 64;
  ClusterConfig cluster;
  cluster.key = key;
  cluster.node_id = 0x1111;
  config.cluster = cluster;
  Server server(config, random, kTimeZero);
  (void)server.poll_cluster();
  const ClusterHeader header{type, 0x2222, static_cast<NodeId>(data[0] & 0x80 ? 0 : 0x1111), 1};
  const auto sealed = seal_cluster(key, header, *body);
  auto opened = open_cluster(key, sealed);
  FUZZ_CHECK(opened && opened->header.sender == header.sender && opened->header.sequence == 1);
  FUZZ_CHECK(server.handle_cluster(kTimeZero, sealed).empty());
  server.on_timer(kTimeZero + seconds(1));
  std::size_t published = 0;
  for (const auto& m : server.poll_cluster()) published += m.bytes.size();
  FUZZ_CHECK(published <= 4 * (size + 1024));
  // The same message again is a replay.
  FUZZ_CHECK(server.handle_cluster(kTimeZero + seconds(1), sealed).empty());
  FUZZ_CHECK(server.cluster_counters().dropped_replayed == 1);
  return 0;
}
