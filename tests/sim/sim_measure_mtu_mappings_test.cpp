// The MTU search (Algorithm 7 with retries) and the mapping collection,
// on the simulator: against the real server through the NAT model in
// virtual time.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "analyze/allocator_detect.hpp"
#include "analyze/mapping_join.hpp"
#include "analyze/mapping_log.hpp"
#include "measure/mapping_collector.hpp"
#include "measure/mapping_sampler.hpp"
#include "measure/mtu_search.hpp"
#include "measure_net.hpp"

namespace natpunch::measure {
namespace {

using test::NetConfig;

nat::NatConfig cone_nat(nat::AllocatorSpec allocator = nat::SequentialSpec{}) {
  nat::NatConfig n;
  n.mapping = nat::MappingBehavior::EndpointIndependent;
  n.filtering = nat::FilteringBehavior::AddressAndPortDependent;
  n.allocator = allocator;
  return n;
}

struct MtuCase {
  const char* name;
  std::optional<std::size_t> path_max;  // nullopt: anything up to 65,507 passes
  double loss;
};

class MtuSearchFinds : public testing::TestWithParam<MtuCase> {};

TEST_P(MtuSearchFinds, TheLargestPayloadThatCrossesExactly) {
  NetConfig net_config;
  net_config.path_max_payload = GetParam().path_max;
  net_config.loss = GetParam().loss;
  net_config.seed = 11;
  MtuSearchConfig config;
  config.attempts = GetParam().loss > 0 ? 6 : 3;
  test::MeasureNet<MtuSearch> net(cone_nat(), net_config, MtuSearch(test::server_endpoint(), config, 1));
  std::vector<MtuSearchResult> reported;
  net.on_event = [&](const MtuSearchEvent& e) { reported.push_back(std::get<mtu_event::Done>(e).result); };
  net.run(std::chrono::hours(1));
  const auto& search = net.machine();
  ASSERT_TRUE(search.done());
  ASSERT_EQ(reported.size(), 1u) << "one Done event";
  EXPECT_EQ(reported[0].largest_ok, search.result().largest_ok);
  EXPECT_EQ(search.result().largest_ok, GetParam().path_max.value_or(wire::kMaxDatagram));
  if (GetParam().path_max) {
    EXPECT_EQ(search.result().smallest_fail, *GetParam().path_max + 1);
  }
  EXPECT_LE(search.result().probes, 17u * static_cast<std::uint32_t>(config.attempts));
}

INSTANTIATE_TEST_SUITE_P(Table, MtuSearchFinds,
                         testing::Values(MtuCase{"vodafone_1437", 1437, 0}, MtuCase{"kpn_1445", 1445, 0},
                                         MtuCase{"ethernet_1472", 1472, 0}, MtuCase{"jumbo", std::nullopt, 0},
                                         MtuCase{"lycamobile_be_42987", 42987, 0},
                                         MtuCase{"lossy_1437", 1437, 0.1}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(MtuSearch, NothingArrivesMeansNoAnswer) {
  NetConfig net_config;
  net_config.path_max_payload = 10;  // smaller than any request
  test::MeasureNet<MtuSearch> net(cone_nat(), net_config, MtuSearch(test::server_endpoint(), MtuSearchConfig{}, 1));
  net.run(std::chrono::hours(1));
  const auto& search = net.machine();
  ASSERT_TRUE(search.done());
  EXPECT_FALSE(search.result().largest_ok);
  EXPECT_EQ(search.result().probes, 6u);  // high, then low, three tries each
}

TEST(MtuSearch, AKernelRefusalFailsTheSizeAtOnce) {
  MtuSearch search(*Endpoint::parse("203.0.113.10:3479"), MtuSearchConfig{}, 1);
  const TimePoint t = kTimeZero + seconds(1);
  auto first = search.poll_transmit(t);
  ASSERT_TRUE(first);
  EXPECT_FALSE(search.poll_transmit(t)) << "one probe at a time";
  EXPECT_EQ(first->bytes.size(), wire::kMaxDatagram);
  EXPECT_EQ(search.socket_options(first->socket).fragmentation, Fragmentation::DontFragment);
  search.on_send_error(t, first->socket, first->to, SendError::TooBig);
  EXPECT_TRUE(search.result().local_limit);
  auto second = search.poll_transmit(t);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->bytes.size(), wire::kRequestSize);  // then the smallest
}

// The same through a driver: a host whose interface takes 1,472-byte
// payloads with DF set refuses larger probes at once (EMSGSIZE), so the
// search finds the interface's limit without waiting for any timeout; a
// search that allows fragments is not limited by it.
TEST(MtuSearch, TheInterfaceLimitOfADontFragmentSocketIsFoundWithoutTimeouts) {
  for (const auto fragmentation : {Fragmentation::DontFragment, Fragmentation::AllowFragments}) {
    MtuSearchConfig config;
    config.fragmentation = fragmentation;
    test::MeasureNet<MtuSearch> net(cone_nat(), NetConfig{}, MtuSearch(test::server_endpoint(), config, 1));
    net.client().set_interface_max_payload(1472);
    const Duration took = net.run(std::chrono::hours(1));
    const auto& r = net.machine().result();
    ASSERT_TRUE(net.machine().done());
    if (fragmentation == Fragmentation::DontFragment) {
      EXPECT_EQ(r.largest_ok, 1472u);
      EXPECT_EQ(r.smallest_fail, 1473u);
      EXPECT_TRUE(r.local_limit);
      EXPECT_LT(took, seconds(2)) << "every refusal is immediate; each good size costs one round trip";
    } else {
      EXPECT_EQ(r.largest_ok, wire::kMaxDatagram);
      EXPECT_FALSE(r.local_limit);
    }
  }
}

std::string client_csv(const std::vector<CollectedRow>& rows) {
  std::string text = "uuid,time_ms,local_port,server_port\n";
  for (const auto& r : rows)
    text += wire::uuid_text(r.uuid) + "," + std::to_string(r.send_time_ms) + "," + std::to_string(r.local_port) + "," +
            std::to_string(r.server_port) + "\n";
  return text;
}

std::string server_csv(const std::vector<CollectionRow>& rows) {
  std::string text = "uuid,time_ms,observed_port,server_port\n";
  for (const auto& r : rows)
    text += wire::uuid_text(r.uuid) + "," +
            std::to_string(std::chrono::duration_cast<milliseconds>(r.received_at.time_since_epoch()).count()) + "," +
            std::to_string(r.observed.port) + "," + std::to_string(r.received_on_port) + "\n";
  return text;
}

// 600 collection packets at 50/s to 100 server ports through a symmetric
// NAT with LycaMobile NL's uniform allocator, each lost with `loss`.
struct Collection {
  std::vector<CollectedRow> client;  // the client's log
  std::vector<CollectionRow> server;  // what reached the server
  std::vector<std::uint16_t> bound_ports;  // the local port each packet left from, in send order
  int done_events = 0;
  Duration took{};
};

Collection collect_through_a_uniform_nat(double loss, std::uint64_t seed) {
  NetConfig net_config;
  net_config.server_ports = 100;
  net_config.loss = loss;
  nat::NatConfig nat_config = cone_nat(nat::UniformSpec{2048, 65535});  // LycaMobile NL
  nat_config.mapping = nat::MappingBehavior::AddressAndPortDependent;
  Rng rng(seed);
  MappingCollectorConfig config;
  config.server = test::kServerIp;
  config.server_ports = PortRange{test::kServerPort, static_cast<std::uint16_t>(test::kServerPort + 99)};
  config.count = 600;
  config.rate_per_second = 50;
  test::MeasureNet<MappingCollector> net(nat_config, net_config, MappingCollector(config, rng));
  Collection c;
  net.on_event = [&](const MappingCollectorEvent& e) {
    if (const auto* sent = std::get_if<collection_event::Sent>(&e)) c.client.push_back(sent->row);
    if (std::holds_alternative<collection_event::Done>(e)) ++c.done_events;
  };
  net.client().on_send = [&](TimePoint, const Transmit& t) {
    c.bound_ports.push_back(net.client().local_endpoint(t.socket).port);
  };
  c.took = net.run(std::chrono::hours(1));
  net.drain();  // deliver the last packets
  c.server = net.rows;
  return c;
}

TEST(MappingCollection, LogsJoinInTheAnalyzerAndRevealTheAllocator) {
  const auto collected = collect_through_a_uniform_nat(0, 5);
  const auto& rows = collected.client;
  ASSERT_EQ(rows.size(), 600u);
  EXPECT_EQ(collected.done_events, 1);
  EXPECT_NEAR(std::chrono::duration<double>(collected.took).count(), 12.0, 0.5);  // 600 packets at 50/s
  ASSERT_EQ(collected.server.size(), 600u);

  for (const auto& r : rows) {
    EXPECT_GE(r.server_port, test::kServerPort);
    EXPECT_LE(r.server_port, test::kServerPort + 99);
  }
  const auto client = analyze::parse_mapping_log(client_csv(rows), analyze::LogSide::Client);
  const auto server = analyze::parse_mapping_log(server_csv(collected.server), analyze::LogSide::Server);
  EXPECT_EQ(client.malformed_total(), 0u);
  EXPECT_EQ(server.malformed_total(), 0u);
  const auto joined = analyze::join_mappings(client, server);
  EXPECT_EQ(joined.rows.size(), 600u);
  EXPECT_EQ(joined.client_only, 0u);
  const auto detected = analyze::detect_allocator(joined.rows);
  EXPECT_EQ(detected.kind, analyze::AllocatorKind::Uniform);
  // The joined rows are the NAT's real mappings: every mapped port is one
  // the allocator could hand out, and each local port is the socket's own
  // (the random one each packet's socket asked for, as the host bound it).
  for (const auto& row : joined.rows) {
    EXPECT_GE(row.mapped_port, 2048);
    EXPECT_GE(row.local_port, 1024);
  }
  ASSERT_EQ(collected.bound_ports.size(), rows.size());
  std::set<std::uint16_t> distinct;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].local_port, collected.bound_ports[i]) << "packet " << i;
    distinct.insert(rows[i].local_port);
  }
  EXPECT_GT(distinct.size(), 500u) << "random local ports, not consecutive ones";
}

TEST(MappingSample, ReflectionsAloneRevealTheAllocator) {
  NetConfig net_config;
  net_config.server_ports = 10;
  Rng rng(9);
  MappingSamplerConfig config;
  config.server = test::kServerIp;
  config.server_ports = PortRange{test::kServerPort, static_cast<std::uint16_t>(test::kServerPort + 9)};
  config.count = 400;
  config.rate_per_second = 100;
  test::MeasureNet<MappingSampler> net(cone_nat(nat::UniformSpec{2048, 65535}), net_config,
                                       MappingSampler(config, rng, 1));
  std::vector<sampler_event::Done> done;
  net.on_event = [&](const MappingSamplerEvent& e) { done.push_back(std::get<sampler_event::Done>(e)); };
  net.run(std::chrono::hours(1));
  const auto& sampler = net.machine();
  ASSERT_TRUE(sampler.done());
  EXPECT_EQ(sampler.answered(), 400u);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].rows.size(), 400u);
  std::vector<analyze::MappingRow> rows;
  for (const auto& r : sampler.rows()) {
    EXPECT_GE(r.mapped_port, 2048);
    EXPECT_NE(r.local_port, 0);
    rows.push_back({r.time_ms, r.local_port, r.mapped_port, r.server_port});
  }
  EXPECT_EQ(analyze::detect_allocator(rows).kind, analyze::AllocatorKind::Uniform);
}

// On a busy host a collection packet may never leave (no socket, a send
// error): it made no NAT mapping, so it gets no row -- before, its row
// carried the previous socket's local port, a mapping that never existed
// (issue 22). A packet that left and got lost keeps its row (analyze counts
// it as sent but not received).
TEST(MappingCollection, APacketThatNeverLeftGetsNoRow) {
  Rng rng(3);
  MappingCollectorConfig config;
  config.server = test::kServerIp;
  config.count = 3;
  config.rate_per_second = 1000;
  MappingCollector collector(config, rng);
  TimePoint now = kTimeZero;
  std::vector<CollectedRow> rows;
  std::vector<SocketId> released;
  // What a driver does after handing the packet out: settle it (on_timer),
  // then collect events and releases.
  const auto settle = [&] {
    ASSERT_TRUE(collector.next_deadline());
    EXPECT_LE(*collector.next_deadline(), now) << "due at once";
    collector.on_timer(now);
    while (auto e = collector.poll_event())
      if (const auto* sent = std::get_if<collection_event::Sent>(&*e)) rows.push_back(sent->row);
    while (auto s = collector.poll_socket_release()) released.push_back(*s);
    now += milliseconds(1);
  };
  auto sent = collector.poll_transmit(now);  // socket bound, sent
  ASSERT_TRUE(sent);
  collector.on_socket_bound(now, sent->socket, Endpoint{IpAddress::v4({100, 64, 0, 2}), 40001});
  settle();
  auto unbound = collector.poll_transmit(now);  // the socket could not be bound: no on_socket_bound
  ASSERT_TRUE(unbound);
  collector.on_send_error(now, unbound->socket, unbound->to, SendError::NoSocket);
  settle();
  auto failed = collector.poll_transmit(now);  // bound, but the send failed
  ASSERT_TRUE(failed);
  collector.on_socket_bound(now, failed->socket, Endpoint{IpAddress::v4({100, 64, 0, 2}), 40003});
  collector.on_send_error(now, failed->socket, failed->to, SendError::BufferFull);
  settle();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].local_port, 40001);
  EXPECT_EQ(collector.sent(), 1u);
  EXPECT_EQ(collector.unsent(), 2u);
  EXPECT_TRUE(collector.done());
  EXPECT_EQ(released.size(), 3u) << "every packet's socket is released";
}

// Lost on the way: the rows stay, the server logs fewer, and the analyzer
// joins what arrived and still names the allocator.
TEST(MappingCollection, LossOnThePathOnlyRemovesJoinedRows) {
  const auto collected = collect_through_a_uniform_nat(0.1, 11);
  const auto& rows = collected.client;
  const auto received = collected.server.size();
  ASSERT_EQ(rows.size(), 600u) << "every packet that left has its row";
  EXPECT_LT(received, 600u * 95 / 100) << "about 10 % lost";
  EXPECT_GT(received, 600u * 80 / 100);
  const auto joined =
      analyze::join_mappings(analyze::parse_mapping_log(client_csv(rows), analyze::LogSide::Client),
                             analyze::parse_mapping_log(server_csv(collected.server), analyze::LogSide::Server));
  EXPECT_EQ(joined.rows.size(), received);
  EXPECT_EQ(joined.client_only, 600u - received);
  EXPECT_EQ(joined.server_only, 0u);
  EXPECT_EQ(analyze::detect_allocator(joined.rows).kind, analyze::AllocatorKind::Uniform);
}

}  // namespace
}  // namespace natpunch::measure
