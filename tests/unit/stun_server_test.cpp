// STUN server: which socket answers, which attributes, which errors, and silence.
#include "stun/server.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "stun/message.hpp"
#include "stun_server_test_support.hpp"

namespace natpunch::stun {
namespace {

using namespace server_test;

// --- CHANGE-REQUEST × receiving socket -------------------------------------

struct ChangeRow {
  S received_on;
  bool change_ip;
  bool change_port;
  S expected_socket;
  Endpoint expected_origin;
  Endpoint expected_other;  // differs in both IP and port from the receiving socket
};

const Endpoint kPP = kPrimary;
const Endpoint kPA{kPrimary.address, kAlternate.port};
const Endpoint kAP{kAlternate.address, kPrimary.port};
const Endpoint kAA = kAlternate;

void PrintTo(const ChangeRow& r, std::ostream* os) {
  *os << "received on " << static_cast<int>(r.received_on) << " change ip " << r.change_ip << " port " << r.change_port;
}

std::string change_row_name(const ::testing::TestParamInfo<ChangeRow>& info) {
  static constexpr const char* kSockets[] = {"PP", "PA", "AP", "AA"};
  const auto& r = info.param;
  return std::string("ReceivedOn") + kSockets[static_cast<int>(r.received_on)] + (r.change_ip ? "_ChangeIp" : "") +
         (r.change_port ? "_ChangePort" : "") + (!r.change_ip && !r.change_port ? "_NoChange" : "");
}

class ChangeRequestTest : public ::testing::TestWithParam<ChangeRow> {};

TEST_P(ChangeRequestTest, RepliesFromTheRequestedSocket) {
  const auto& row = GetParam();
  Server server(config_with_alternate());
  RequestSpec spec;
  spec.change = ChangeRequestValue{row.change_ip, row.change_port};
  const auto e = ask(server, make_request(spec), row.received_on);
  ASSERT_TRUE(e.reply);
  EXPECT_EQ(e.reply->socket, row.expected_socket);
  EXPECT_EQ(e.reply->to, kClient);
  EXPECT_EQ(server.socket_endpoint(e.reply->socket), row.expected_origin);
  const auto v = e.view();
  EXPECT_EQ(v.message_class(), MessageClass::SuccessResponse);
  EXPECT_EQ(v.response_origin(), row.expected_origin);
  EXPECT_EQ(v.other_address(), row.expected_other);
}

INSTANTIATE_TEST_SUITE_P(
    AllSocketsAllFlags, ChangeRequestTest,
    ::testing::Values(
        ChangeRow{S::PrimaryIpPrimaryPort, false, false, S::PrimaryIpPrimaryPort, kPP, kAA},
        ChangeRow{S::PrimaryIpPrimaryPort, false, true, S::PrimaryIpAltPort, kPA, kAA},
        ChangeRow{S::PrimaryIpPrimaryPort, true, false, S::AltIpPrimaryPort, kAP, kAA},
        ChangeRow{S::PrimaryIpPrimaryPort, true, true, S::AltIpAltPort, kAA, kAA},
        ChangeRow{S::PrimaryIpAltPort, false, false, S::PrimaryIpAltPort, kPA, kAP},
        ChangeRow{S::PrimaryIpAltPort, false, true, S::PrimaryIpPrimaryPort, kPP, kAP},
        ChangeRow{S::PrimaryIpAltPort, true, false, S::AltIpAltPort, kAA, kAP},
        ChangeRow{S::PrimaryIpAltPort, true, true, S::AltIpPrimaryPort, kAP, kAP},
        ChangeRow{S::AltIpPrimaryPort, false, false, S::AltIpPrimaryPort, kAP, kPA},
        ChangeRow{S::AltIpPrimaryPort, false, true, S::AltIpAltPort, kAA, kPA},
        ChangeRow{S::AltIpPrimaryPort, true, false, S::PrimaryIpPrimaryPort, kPP, kPA},
        ChangeRow{S::AltIpPrimaryPort, true, true, S::PrimaryIpAltPort, kPA, kPA},
        ChangeRow{S::AltIpAltPort, false, false, S::AltIpAltPort, kAA, kPP},
        ChangeRow{S::AltIpAltPort, false, true, S::AltIpPrimaryPort, kAP, kPP},
        ChangeRow{S::AltIpAltPort, true, false, S::PrimaryIpAltPort, kPA, kPP},
        ChangeRow{S::AltIpAltPort, true, true, S::PrimaryIpPrimaryPort, kPP, kPP}),
    change_row_name);

TEST(StunServerTest, SocketEndpoints) {
  Server with(config_with_alternate());
  EXPECT_EQ(with.socket_endpoint(S::PrimaryIpPrimaryPort), kPP);
  EXPECT_EQ(with.socket_endpoint(S::PrimaryIpAltPort), kPA);
  EXPECT_EQ(with.socket_endpoint(S::AltIpPrimaryPort), kAP);
  EXPECT_EQ(with.socket_endpoint(S::AltIpAltPort), kAA);
  Server without(config_without_alternate());
  EXPECT_FALSE(without.has_alternate());
  EXPECT_EQ(without.socket_endpoint(S::AltIpAltPort), kPrimary);
}

// --- attributes ----------------------------------------------------------

TEST(StunServerTest, ModernRequestGetsRfc5780Attributes) {
  Server server(config_with_alternate());
  const auto e = ask(server, make_request({}));
  ASSERT_TRUE(e.reply);
  const auto v = e.view();
  EXPECT_EQ(v.method(), Method::Binding);
  EXPECT_EQ(v.message_class(), MessageClass::SuccessResponse);
  EXPECT_EQ(v.transaction_id(), kId);
  EXPECT_EQ(v.cookie(), kMagicCookie);
  EXPECT_EQ(v.xor_mapped_address(), kClient);
  EXPECT_FALSE(v.mapped_address()) << "for classic clients only: it would only make the response larger";
  EXPECT_EQ(v.other_address(), kAlternate);
  EXPECT_EQ(v.response_origin(), kPrimary);
  EXPECT_FALSE(v.changed_address());
  EXPECT_FALSE(v.source_address());
  EXPECT_FALSE(v.software());
  EXPECT_FALSE(v.has_fingerprint());
  EXPECT_EQ(server.counters().answered, 1u);
}

TEST(StunServerTest, ClassicRequestGetsRfc3489Attributes) {
  Server server(config_with_alternate());
  RequestSpec spec;
  spec.cookie = kClassicCookie;
  const auto e = ask(server, make_request(spec));
  ASSERT_TRUE(e.reply);
  const auto v = e.view();
  EXPECT_EQ(v.cookie(), kClassicCookie);  // first word of the 128-bit id echoed
  EXPECT_EQ(v.transaction_id(), kId);
  EXPECT_FALSE(v.xor_mapped_address());
  EXPECT_EQ(v.mapped_address(), kClient);
  EXPECT_EQ(v.changed_address(), kAlternate);
  EXPECT_EQ(v.source_address(), kPrimary);
  EXPECT_FALSE(v.other_address());
  EXPECT_FALSE(v.response_origin());
}

TEST(StunServerTest, WithoutAlternateOnlyMappedAddresses) {
  Server server(config_without_alternate());
  const auto e = ask(server, make_request({}));
  ASSERT_TRUE(e.reply);
  EXPECT_EQ(e.reply->socket, S::PrimaryIpPrimaryPort);
  const auto v = e.view();
  EXPECT_EQ(v.xor_mapped_address(), kClient);
  EXPECT_EQ(v.attributes().size(), 1u);
}

TEST(StunServerTest, Ipv6ClientGetsIpv6MappedAddress) {
  Server server(config_without_alternate());
  const Endpoint client{*IpAddress::parse("2001:db8::42"), 5555};
  const auto e = ask(server, make_request({}), S::PrimaryIpPrimaryPort, client);
  ASSERT_TRUE(e.reply);
  EXPECT_EQ(e.view().xor_mapped_address(), client);
  EXPECT_EQ(e.reply->to, client);
}

TEST(StunServerTest, FingerprintOnlyWhenRequestHadOne) {
  Server server(config_with_alternate());
  RequestSpec spec;
  spec.fingerprint = true;
  const auto with = ask(server, make_request(spec));
  ASSERT_TRUE(with.reply);
  EXPECT_TRUE(with.view().has_fingerprint());
  EXPECT_EQ(with.view().attributes().back().type, attr::kFingerprint);
  const auto without = ask(server, make_request({}));
  EXPECT_FALSE(without.view().has_fingerprint());
}

TEST(StunServerTest, SoftwareOnlyWhenConfiguredAndTheRequestIsLargeEnough) {
  auto config = config_without_alternate();
  config.software = "natpunch test";
  Server server(config);
  RequestSpec spec;
  spec.padding = 64;
  const auto e = ask(server, make_request(spec));
  ASSERT_TRUE(e.reply);
  EXPECT_EQ(e.view().software(), "natpunch test");
  const auto bare = ask(server, make_request({}));
  ASSERT_TRUE(bare.reply);
  EXPECT_FALSE(bare.view().software());
}

TEST(StunServerTest, SoftwareValuesAreValidated) {
  EXPECT_FALSE(software_error(""));
  EXPECT_FALSE(software_error("natpunch 0.1"));
  EXPECT_FALSE(software_error(std::string(127, 's')));
  EXPECT_FALSE(software_error("caf\xc3\xa9")) << "UTF-8 counts characters, not bytes";
  EXPECT_TRUE(software_error(std::string(128, 's')));
  EXPECT_TRUE(software_error(std::string(1000, 's')));
  EXPECT_TRUE(software_error("tab\there"));
  EXPECT_TRUE(software_error(std::string("nul\0", 4)));
}

TEST(StunServerTest, UnknownOptionalAttributeIsIgnored) {
  Server server(config_with_alternate());
  RequestSpec spec;
  spec.extra_attributes = {0xC0DE};
  const auto e = ask(server, make_request(spec));
  ASSERT_TRUE(e.reply);
  EXPECT_EQ(e.view().message_class(), MessageClass::SuccessResponse);
}

// --- error responses -----------------------------------------------------

TEST(StunServerTest, UnknownComprehensionRequiredAttributeGets420) {
  Server server(config_with_alternate());
  RequestSpec spec;
  spec.extra_attributes = {0x7F01, 0xC0DE, 0x7F02};
  spec.fingerprint = true;
  const auto e = ask(server, make_request(spec), S::AltIpPrimaryPort);
  ASSERT_TRUE(e.reply);
  EXPECT_EQ(e.reply->socket, S::AltIpPrimaryPort);
  EXPECT_EQ(e.reply->to, kClient);
  const auto v = e.view();
  EXPECT_EQ(v.message_class(), MessageClass::ErrorResponse);
  EXPECT_EQ(v.transaction_id(), kId);
  ASSERT_TRUE(v.error_code());
  EXPECT_EQ(v.error_code()->code, 420);
  EXPECT_EQ(unknown_list(v), (std::vector<std::uint16_t>{0x7F01, 0x7F02}));
  EXPECT_TRUE(v.has_fingerprint());
  EXPECT_FALSE(v.mapped_address());
  EXPECT_EQ(server.counters().errors_sent, 1u);
  EXPECT_EQ(server.counters().answered, 0u);
}

TEST(StunServerTest, ResponseAddressIsRefusedNotFollowed) {
  Server server(config_with_alternate());
  RequestSpec spec;
  spec.cookie = kClassicCookie;
  spec.extra_attributes = {attr::kResponseAddress};
  const auto e = ask(server, make_request(spec));
  ASSERT_TRUE(e.reply);
  EXPECT_EQ(e.reply->to, kClient);
  const auto v = e.view();
  EXPECT_EQ(v.cookie(), kClassicCookie);
  ASSERT_TRUE(v.error_code());
  EXPECT_EQ(v.error_code()->code, 420);
  EXPECT_EQ(unknown_list(v), (std::vector<std::uint16_t>{attr::kResponseAddress}));
}

TEST(StunServerTest, ChangeRequestWithoutAlternateGets420) {
  Server server(config_without_alternate());
  for (auto change : {ChangeRequestValue{true, false}, ChangeRequestValue{false, true}, ChangeRequestValue{true, true}}) {
    RequestSpec spec;
    spec.change = change;
    const auto e = ask(server, make_request(spec));
    ASSERT_TRUE(e.reply);
    EXPECT_EQ(e.reply->socket, S::PrimaryIpPrimaryPort);
    const auto v = e.view();
    ASSERT_TRUE(v.error_code());
    EXPECT_EQ(v.error_code()->code, 420);
    EXPECT_EQ(unknown_list(v), (std::vector<std::uint16_t>{attr::kChangeRequest}));
  }
}

TEST(StunServerTest, EmptyChangeRequestWithoutAlternateIsAnswered) {
  // Some clients (jstun) always send CHANGE-REQUEST, with no flag set for Test I.
  Server server(config_without_alternate());
  RequestSpec spec;
  spec.change = ChangeRequestValue{false, false};
  const auto e = ask(server, make_request(spec));
  ASSERT_TRUE(e.reply);
  EXPECT_EQ(e.view().message_class(), MessageClass::SuccessResponse);
}

TEST(StunServerTest, ResponsePortRedirectsToRequesterIp) {
  Server server(config_with_alternate());
  RequestSpec spec;
  spec.response_port = 6000;
  spec.change = ChangeRequestValue{false, true};
  const auto e = ask(server, make_request(spec));
  ASSERT_TRUE(e.reply);
  EXPECT_EQ(e.reply->to, (Endpoint{kClient.address, 6000}));
  EXPECT_EQ(e.reply->socket, S::PrimaryIpAltPort);
  EXPECT_EQ(e.view().xor_mapped_address(), kClient);  // the request's source, not the redirect
}

TEST(StunServerTest, ResponsePortWithPaddingOrZeroGets400) {
  Server server(config_with_alternate());
  RequestSpec padded;
  padded.response_port = 6000;
  padded.padding = 100;
  RequestSpec zero;
  zero.response_port = 0;
  for (const auto& spec : {padded, zero}) {
    const auto e = ask(server, make_request(spec));
    ASSERT_TRUE(e.reply);
    EXPECT_EQ(e.reply->to, kClient);  // errors never follow RESPONSE-PORT
    ASSERT_TRUE(e.view().error_code());
    EXPECT_EQ(e.view().error_code()->code, 400);
  }
}

// --- silence ---------------------------------------------------------------

struct DropRow {
  const char* name;
  std::vector<std::uint8_t> datagram;
  bool malformed;  // else: well-formed but not a Binding request
};

std::vector<DropRow> drop_rows() {
  std::vector<DropRow> rows;
  rows.push_back({"empty", {}, true});
  rows.push_back({"text", {'G', 'E', 'T', ' ', '/', ' ', 'H', 'T', 'T', 'P', '/', '1', '.', '1', '\r', '\n', 0, 0, 0, 0,
                           0, 0, 0, 0},
                  true});
  auto truncated = make_request({});
  truncated.resize(19);
  rows.push_back({"truncated header", truncated, true});
  RequestSpec with_attr;
  with_attr.change = ChangeRequestValue{true, true};
  auto cut = make_request(with_attr);
  cut.resize(cut.size() - 4);
  rows.push_back({"length mismatch", cut, true});
  RequestSpec fp;
  fp.fingerprint = true;
  auto bad_fp = make_request(fp);
  bad_fp.back() ^= 0xFF;
  rows.push_back({"bad fingerprint", bad_fp, true});
  auto rtp = make_request({});
  rtp[0] = 0x80;  // first two bits set: RTP/DTLS, not STUN
  rows.push_back({"rtp", rtp, true});
  for (auto cls : {MessageClass::SuccessResponse, MessageClass::ErrorResponse, MessageClass::Indication}) {
    RequestSpec s;
    s.cls = cls;
    rows.push_back({"binding non-request", make_request(s), false});
  }
  RequestSpec allocate;
  allocate.method = 0x003;
  rows.push_back({"allocate request", make_request(allocate), false});
  return rows;
}

TEST(StunServerTest, NeverAnswersGarbageOrNonRequests) {
  Server server(config_with_alternate());
  std::uint64_t malformed = 0;
  std::uint64_t not_request = 0;
  for (const auto& row : drop_rows()) {
    const auto e = ask(server, row.datagram);
    EXPECT_FALSE(e.reply) << row.name;
    (row.malformed ? malformed : not_request) += 1;
    EXPECT_EQ(server.counters().dropped_malformed, malformed) << row.name;
    EXPECT_EQ(server.counters().dropped_not_request, not_request) << row.name;
  }
  EXPECT_EQ(server.counters().answered + server.counters().errors_sent, 0u);
  EXPECT_EQ(server.counters().received, drop_rows().size());
}

TEST(StunServerTest, TooSmallOutputBufferIsCountedNotOverrun) {
  Server server(config_with_alternate());
  const auto e = ask(server, make_request({}), S::PrimaryIpPrimaryPort, kClient, kTimeZero, 40);
  EXPECT_FALSE(e.reply);
  EXPECT_EQ(server.counters().dropped_no_room, 1u);
}

}  // namespace
}  // namespace natpunch::stun
