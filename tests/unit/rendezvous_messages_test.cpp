// The rendezvous wire format: every message round-trips, every malformed
// input is rejected with its own error, and the replay window.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <set>
#include <vector>

#include "rendezvous/messages.hpp"
#include "rendezvous/replay_window.hpp"

namespace natpunch::rendezvous {
namespace {

Endpoint v4(std::uint8_t d, std::uint16_t port) { return Endpoint{IpAddress::v4({198, 51, 100, d}), port}; }

NatInfo full_info() {
  NatInfo info;
  info.mapping = nat::MappingBehavior::AddressDependent;
  info.filtering = nat::FilteringBehavior::EndpointIndependent;
  info.carrier_profile = "vodafone-nl";
  info.pending_timeout_ms = 302000;
  info.idle_timeout_ms = 299000;
  std::array<std::uint8_t, 16> six{};
  six[0] = 0x20;
  six[1] = 0x01;
  six[2] = 0x0d;
  six[3] = 0xb8;
  six[15] = 1;
  info.local_endpoints = {v4(7, 4000), Endpoint{IpAddress::v6(six), 4001}};
  info.allocator = nat::BetaSpec{};
  info.relay_only = true;
  six[15] = 2;
  info.reflexive_v6 = Endpoint{IpAddress::v6(six), 4002};
  return info;
}

NatInfo info_with_reflexive_v6() {
  NatInfo info;
  info.reflexive_v6 = *Endpoint::parse("[2001:db8:1::2]:4002");  // read as IPv4: 32.1.13.184 port 1
  return info;
}

AuthHeader auth() {
  AuthHeader h;
  h.registration_id = 0x0102030405060708ull;
  h.sequence = 42;
  h.tag.fill(0xee);
  return h;
}

TurnServers turn_servers() {
  TurnServers m;
  m.auth = auth();
  m.valid_for_s = 3600;
  m.servers = {TurnServer{v4(10, 3478), kTurnUdp | kTurnTcp | kTurnTls, 443, "turn.example.org",
                          "1700000000:0123456789abcdef", "Cd/49soE35ICqcJF/bCTn8Z4OyE="},
               TurnServer{v4(11, 3478), kTurnTcp, 0, "", "1700000000:0123456789abcdef", std::string(28, '\xff')}};
  return m;
}

// The largest TurnServers the codec writes: four servers, every text at its limit.
TurnServers largest_turn_servers() {
  TurnServers m;
  m.auth = auth();
  std::array<std::uint8_t, 16> six{};
  six[0] = 0x20;
  for (int i = 0; i < 4; ++i)
    m.servers.push_back(TurnServer{Endpoint{IpAddress::v6(six), 3478}, kTurnTransportsMask, 5349,
                                   std::string(kMaxTurnName, 'n'), std::string(kMaxTurnUsername, 'u'),
                                   std::string(kMaxTurnPassword, 'p')});
  return m;
}

std::vector<Message> every_message() {
  PublicKey key{};
  key.fill(0x11);
  Register reg;
  reg.identity = key;
  reg.client_nonce.fill(2);
  Challenge ch;
  ch.client_nonce.fill(2);
  ch.issued_at_ms = 123456789;
  ch.cookie.fill(3);
  ch.server_key.fill(4);
  ch.puzzle_bits = 12;
  Prove pr;
  pr.identity = key;
  pr.issued_at_ms = 99;
  pr.puzzle_bits = 12;
  pr.puzzle_solution = 0x1122334455667788ull;
  pr.flags = kProveListening | kProveSingleSession;
  pr.instance = 0x0123456789abcdefull;
  pr.info = full_info();
  pr.signature.fill(5);
  SessionInfo si;
  si.auth = auth();
  si.session_id = 77;
  si.sealed_session_key.fill(6);
  si.start_delay_ms = 500;
  si.role = Role::Callee;
  si.correlation_id = 1234;
  si.peer = key;
  si.peer_observed = v4(9, 9999);
  si.peer_info = full_info();
  RelayData rd;
  rd.auth = auth();
  rd.session_id = 77;
  rd.payload = {1, 2, 3, 4};
  return {reg,
          ch,
          pr,
          Registered{auth(), v4(1, 5000), 30000, 120000},
          Refresh{auth()},
          Keepalive{auth()},
          ConnectRequest{auth(), 7, key},
          IncomingRequest{auth(), 0xfeedull, key},
          Accept{auth(), 0xfeedull},
          Reject{auth(), 0xfeedull},
          si,
          rd,
          Error{auth(), ErrorCode::RelayQuotaExceeded, 77},
          Refused{ErrorCode::NotRegistered, {}},
          Unregister{auth()},
          PathChallenge{0x0badc0ffee0ddf00ull},
          PathResponse{auth(), 0x0badc0ffee0ddf00ull},
          turn_servers()};
}

TEST(RendezvousMessages, EveryMessageRoundTrips) {
  for (const auto& m : every_message()) {
    const auto bytes = encode(m);
    auto decoded = decode(bytes);
    ASSERT_TRUE(decoded) << to_string(type_of(m)) << ": " << to_string(decoded.error());
    EXPECT_EQ(*decoded, m) << to_string(type_of(m));
    EXPECT_EQ(encode(*decoded), bytes);
    EXPECT_LE(bytes.size(), kMaxMessageSize);
    EXPECT_TRUE(looks_like_rendezvous(bytes));
  }
}

// Relay payloads have no length field (the datagram delimits them), so a
// cut RelayData is still well-formed; its MAC is what fails.
TEST(RendezvousMessages, EveryTruncationIsRejected) {
  for (const auto& m : every_message()) {
    if (type_of(m) == MessageType::RelayData) continue;
    const auto bytes = encode(m);
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      auto decoded = decode(std::span<const std::uint8_t>(bytes.data(), n));
      EXPECT_FALSE(decoded) << to_string(type_of(m)) << " cut to " << n;
    }
  }
}

TEST(RendezvousMessages, LargestTurnServersFitsTheProtocolsLimit) {
  const auto bytes = encode(largest_turn_servers());
  EXPECT_LE(bytes.size(), kMaxMessageSize);
  auto decoded = decode(bytes);
  ASSERT_TRUE(decoded) << to_string(decoded.error());
  EXPECT_EQ(std::get<TurnServers>(*decoded), largest_turn_servers());
}

TEST(RendezvousMessages, RegisterIsPaddedBeyondTheChallengeItCauses) {
  EXPECT_EQ(encode(Register{}).size(), kRegisterPaddedSize);
  Challenge c;
  EXPECT_LT(encode(c).size(), kRegisterPaddedSize);
}

// A PathChallenge goes to an endpoint nobody proved: it must be smaller than
// every authenticated message that can cause one.
TEST(RendezvousMessages, PathChallengeIsSmallerThanAnyAuthenticatedRequest) {
  const auto challenge = encode(PathChallenge{}).size();
  for (const auto& m : every_message())
    if (is_authenticated(type_of(m))) {
      EXPECT_LT(challenge, encode(m).size()) << to_string(type_of(m));
    }
}

struct BadCase {
  const char* name;
  std::function<void(std::vector<std::uint8_t>&)> corrupt;
  Message base;
  DecodeError expected;
};

// Offsets into an encoded Prove: header 4, identity 32, nonce 16, issued 8, cookie 16 -> puzzle bits at 76,
// solution 77..84, flags at 85, instance 86..93 -> NatInfo at 94. A Challenge's puzzle bits: at 76.
// In NatInfo (empty name): mapping +0, filtering +1, name length +2, timeouts +3..+10, allocator kind +11,
// its parameters from +12, then the endpoint count (+12 without an allocator).
constexpr std::size_t kProvePuzzle = 76;
constexpr std::size_t kProveFlags = 85;
constexpr std::size_t kProveInfo = 94;
constexpr std::size_t kChallengePuzzle = 76;
constexpr std::size_t kAllocator = kProveInfo + 11;

Prove prove_with(NatInfo info) {
  Prove p;
  p.info = std::move(info);
  return p;
}
Prove prove_with(nat::AllocatorSpec allocator) {
  NatInfo info;
  info.allocator = allocator;
  return prove_with(std::move(info));
}

// Locality as the real carrier logs show it (nat::WindowSpec).
nat::WindowSpec vodafone_window() {
  nat::WindowSpec w;
  w.placement = nat::BetaSpec{13.2, 7.4, 1024, 20000};
  w.size = 32;
  w.offset = 31;
  w.order = nat::WindowOrder::Random;
  w.hold = std::chrono::milliseconds(61'000);
  w.mappings.reset();
  return w;
}
nat::WindowSpec lebara_window() {
  nat::WindowSpec w;
  w.placement = nat::UniformSpec{1024, 65535};
  w.size = 256;
  w.order = nat::WindowOrder::InOrder;
  w.mappings = 256;
  return w;
}

// Every allocator kind a peer can describe crosses the wire unchanged.
TEST(RendezvousMessages, EveryAllocatorKindRoundTrips) {
  const nat::AllocatorSpec specs[] = {nat::PreservingSpec{2000, 3000}, nat::SequentialSpec{1024, 65535},
                                      nat::UniformSpec{2048, 65535},  nat::RandomFullySpec{},
                                      nat::BlockSpec{512, 4096, 65535}, nat::BetaSpec{1.5, 3.25, 4630, 13937},
                                      vodafone_window(),                lebara_window()};
  for (const auto& spec : specs) {
    const Message m = prove_with(spec);
    auto decoded = decode(encode(m));
    ASSERT_TRUE(decoded) << nat::kind_name(spec) << ": " << to_string(decoded.error());
    EXPECT_EQ(*decoded, m) << nat::kind_name(spec);
  }
}

// Background subscribers are the simulator's other phones, not part of the
// peer's NAT: they are not sent.
TEST(RendezvousMessages, BlockBackgroundSubscribersAreNotSent) {
  nat::BlockSpec block;
  block.background_subscribers = 40;
  auto decoded = decode(encode(prove_with(block)));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(std::get<Prove>(*decoded).info.allocator, nat::AllocatorSpec{nat::BlockSpec{}});
}

// A trace replays a file only the NAT has: the peer is told nothing.
TEST(RendezvousMessages, TraceAllocatorIsSentAsUnknown) {
  const nat::TraceSpec trace{"ports.txt", std::make_shared<const std::vector<std::uint16_t>>(std::vector<std::uint16_t>{5000, 5001})};
  auto decoded = decode(encode(prove_with(trace)));
  ASSERT_TRUE(decoded);
  EXPECT_FALSE(std::get<Prove>(*decoded).info.allocator.has_value());
}

// The encodings of the kinds that came before the window kind did not change.
TEST(RendezvousMessages, OlderAllocatorKindsKeepTheirBytes) {
  const auto bytes = encode(prove_with(nat::UniformSpec{2048, 65535}));
  ASSERT_GT(bytes.size(), kAllocator + 5);
  EXPECT_EQ(bytes[kAllocator], 3);
  EXPECT_EQ(bytes[kAllocator + 1], 2048 >> 8);
  EXPECT_EQ(bytes[kAllocator + 3], 0xff);
  EXPECT_EQ(bytes[kAllocator + 5], 0);  // then the endpoint count
}

class RendezvousDecodeError : public ::testing::TestWithParam<BadCase> {};

TEST_P(RendezvousDecodeError, HasItsOwnError) {
  auto bytes = encode(GetParam().base);
  GetParam().corrupt(bytes);
  auto decoded = decode(bytes);
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error(), GetParam().expected) << to_string(decoded.error());
}

INSTANTIATE_TEST_SUITE_P(
    Table, RendezvousDecodeError,
    ::testing::Values(
        BadCase{"TooShort", [](auto& b) { b.resize(3); }, Refresh{}, DecodeError::TooShort},
        BadCase{"BadMagic", [](auto& b) { b[0] = 'X'; }, Refresh{}, DecodeError::BadMagic},
        BadCase{"Version", [](auto& b) { b[2] = 1; }, Refresh{}, DecodeError::UnsupportedVersion},
        BadCase{"UnknownType", [](auto& b) { b[3] = 99; }, Refresh{}, DecodeError::UnknownType},
        BadCase{"Truncated", [](auto& b) { b.pop_back(); }, Challenge{}, DecodeError::Truncated},
        BadCase{"AuthTruncated", [](auto& b) { b.resize(20); }, Refresh{}, DecodeError::Truncated},
        BadCase{"Trailing", [](auto& b) { b.push_back(0); }, Challenge{}, DecodeError::TrailingBytes},
        BadCase{"AuthTrailing", [](auto& b) { b.push_back(0); }, Accept{}, DecodeError::TrailingBytes},
        BadCase{"Family", [](auto& b) { b[20] = 5; }, Registered{{}, v4(1, 1), 1, 1}, DecodeError::BadAddressFamily},
        BadCase{"ZeroPort", [](auto& b) { b[25] = 0; b[26] = 0; }, Registered{{}, v4(1, 1), 1, 1},
                DecodeError::ZeroPort},
        BadCase{"ProveFlags", [](auto& b) { b[kProveFlags] = 0x04; }, Prove{}, DecodeError::BadFlags},
        BadCase{"ProvePuzzle", [](auto& b) { b[kProvePuzzle] = kMaxPuzzleBits + 1; }, Prove{}, DecodeError::BadPuzzle},
        BadCase{"ChallengePuzzle", [](auto& b) { b[kChallengePuzzle] = 0xff; }, Challenge{}, DecodeError::BadPuzzle},
        BadCase{"PathChallengeTrailing", [](auto& b) { b.push_back(0); }, PathChallenge{}, DecodeError::TrailingBytes},
        BadCase{"PathResponseTruncated", [](auto& b) { b.erase(b.begin() + 20); }, PathResponse{},
                DecodeError::Truncated},
        BadCase{"ProveFlagsHigh", [](auto& b) { b[kProveFlags] = 0x81; }, Prove{}, DecodeError::BadFlags},
        // NatInfo's flags: the byte before Prove's signature, SessionInfo's last before the tag.
        BadCase{"NatInfoFlags", [](auto& b) { b[b.size() - kSignatureSize - kKeySize - 1] = 0x04; }, Prove{}, DecodeError::BadFlags},
        // Flag 0x02 without the endpoint it announces (the signature's bytes are no address family).
        BadCase{"NatInfoReflexiveMissing", [](auto& b) { b[b.size() - kSignatureSize - kKeySize - 1] = 0x02; }, Prove{},
                DecodeError::BadAddressFamily},
        // The reflexive endpoint (1 + 16 + 2 bytes after the flags) must be IPv6.
        BadCase{"NatInfoReflexiveNotV6", [](auto& b) { b[b.size() - kSignatureSize - kKeySize - 19] = 4; },
                prove_with(info_with_reflexive_v6()), DecodeError::BadAddressFamily},
        BadCase{"NatInfoReflexivePortZero",
                [](auto& b) { b[b.size() - kSignatureSize - kKeySize - 2] = 0; b[b.size() - kSignatureSize - kKeySize - 1] = 0; },
                prove_with(info_with_reflexive_v6()), DecodeError::ZeroPort},
        BadCase{"PeerNatInfoFlags", [](auto& b) { b[b.size() - kTagSize - 1] = 0x81; },
                SessionInfo{{}, 1, {}, 0, Role::Caller, 0, {}, v4(9, 9999), {}}, DecodeError::BadFlags},
        BadCase{"UnregisterTrailing", [](auto& b) { b.push_back(0); }, Unregister{}, DecodeError::TrailingBytes},
        BadCase{"Mapping", [](auto& b) { b[kProveInfo] = 9; }, Prove{}, DecodeError::BadMappingBehavior},
        BadCase{"Filtering", [](auto& b) { b[kProveInfo + 1] = 9; }, Prove{}, DecodeError::BadFilteringBehavior},
        BadCase{"ProfileTooLong", [](auto& b) { b[kProveInfo + 2] = 65; }, Prove{}, DecodeError::BadProfileName},
        BadCase{"ProfileNotPrintable", [](auto& b) { b[kProveInfo + 3] = ' '; }, prove_with(NatInfo{{}, {}, "x", 0, 0, {}, std::nullopt, false, std::nullopt}),
                DecodeError::BadProfileName},
        BadCase{"Endpoints", [](auto& b) { b[kProveInfo + 12] = 9; }, Prove{}, DecodeError::TooManyEndpoints},
        BadCase{"AllocatorKind", [](auto& b) { b[kAllocator] = 8; }, Prove{}, DecodeError::BadAllocatorKind},
        // Window (kind 7, uniform placement): placement +1, min/max +2..+5, size +6..+9, offset +10..+13,
        // order +14, reset +15, reset value +16..+19.
        BadCase{"WindowPlacementKind", [](auto& b) { b[kAllocator + 1] = 5; }, prove_with(lebara_window()),
                DecodeError::BadLocality},
        BadCase{"WindowOrder", [](auto& b) { b[kAllocator + 14] = 2; }, prove_with(lebara_window()),
                DecodeError::BadLocality},
        BadCase{"WindowReset", [](auto& b) { b[kAllocator + 15] = 0; }, prove_with(lebara_window()),
                DecodeError::BadLocality},
        BadCase{"WindowResetZero", [](auto& b) { std::fill_n(b.begin() + kAllocator + 16, 4, 0); },
                prove_with(lebara_window()), DecodeError::BadLocality},
        BadCase{"WindowOffsetTooLarge", [](auto& b) { b[kAllocator + 12] = 1; }, prove_with(lebara_window()),
                DecodeError::BadLocality},
        BadCase{"WindowSizeTooLarge", [](auto& b) { b[kAllocator + 7] = 0x02; }, prove_with(lebara_window()),
                DecodeError::BadLocality},
        BadCase{"WindowTruncated", [](auto& b) { b.resize(kAllocator + 12); }, prove_with(lebara_window()),
                DecodeError::Truncated},
        BadCase{"AllocatorTruncated", [](auto& b) { b.resize(kAllocator + 3); }, prove_with(nat::BlockSpec{}),
                DecodeError::Truncated},
        BadCase{"AllocatorMinZero", [](auto& b) { b[kAllocator + 1] = 0; b[kAllocator + 2] = 0; },
                prove_with(nat::UniformSpec{}), DecodeError::BadPortRange},
        BadCase{"AllocatorMinAboveMax", [](auto& b) { b[kAllocator + 3] = 0; b[kAllocator + 4] = 1; },
                prove_with(nat::SequentialSpec{}), DecodeError::BadPortRange},
        BadCase{"BlockNotInRange", [](auto&) {}, prove_with(nat::BlockSpec{256, 1024, 1100}), DecodeError::BadPortRange},
        BadCase{"BlockSizeNotPowerOfTwo", [](auto& b) { b[kAllocator + 4] = 1; }, prove_with(nat::BlockSpec{}),
                DecodeError::BadBlockSize},
        BadCase{"BlockSizeZero", [](auto& b) { b[kAllocator + 3] = 0; }, prove_with(nat::BlockSpec{}),
                DecodeError::BadBlockSize},
        // Sign bit set: a negative alpha.
        BadCase{"BetaNegative", [](auto& b) { b[kAllocator + 1] |= 0x80; }, prove_with(nat::BetaSpec{}),
                DecodeError::BadBetaParameters},
        BadCase{"BetaNaN", [](auto& b) { std::fill_n(b.begin() + kAllocator + 9, 8, 0xff); }, prove_with(nat::BetaSpec{}),
                DecodeError::BadBetaParameters},
        BadCase{"BetaOutsideThePorts", [](auto&) {}, prove_with(nat::BetaSpec{2, 5, 60000, 13937}),
                DecodeError::BadBetaParameters},
        BadCase{"Padding", [](auto& b) { b[60] = 1; }, Register{}, DecodeError::NonZeroPadding},
        BadCase{"Role", [](auto& b) { b[20 + 8 + 32 + 4] = 3; }, SessionInfo{}, DecodeError::BadRole},
        BadCase{"ErrorCodeZero", [](auto& b) { b[20] = 0; }, Error{}, DecodeError::BadErrorCode},
        BadCase{"ErrorCodeHigh", [](auto& b) { b[4] = kMaxErrorCode + 1; }, Refused{}, DecodeError::BadErrorCode},
        // TurnServers body: valid_for (4), count (1), then transports (1), endpoint (7), tls port (2), texts.
        BadCase{"TurnNoServer", [](auto& b) { b[20 + 4] = 0; }, turn_servers(), DecodeError::BadTurnServerCount},
        BadCase{"TurnFiveServers", [](auto& b) { b[20 + 4] = 5; }, turn_servers(), DecodeError::BadTurnServerCount},
        BadCase{"TurnNoTransport", [](auto& b) { b[20 + 5] = 0; }, turn_servers(), DecodeError::BadTurnTransports},
        BadCase{"TurnUndefinedTransport", [](auto& b) { b[20 + 5] = 0x0f; }, turn_servers(),
                DecodeError::BadTurnTransports},
        BadCase{"TurnTlsWithoutPort", [](auto& b) { b[20 + 13] = 0; b[20 + 14] = 0; }, turn_servers(),
                DecodeError::BadTurnTransports},
        BadCase{"TurnPortWithoutTls", [](auto& b) { b[20 + 5] = kTurnUdp; }, turn_servers(),
                DecodeError::BadTurnTransports},
        BadCase{"TurnNameTooLong", [](auto& b) { b[20 + 15] = kMaxTurnName + 1; }, turn_servers(),
                DecodeError::BadTurnText},
        BadCase{"TurnNameNotPrintable", [](auto& b) { b[20 + 16] = 0x07; }, turn_servers(), DecodeError::BadTurnText},
        BadCase{"TurnEmptyUsername", [](auto& b) { b[20 + 16 + 16] = 0; }, turn_servers(), DecodeError::BadTurnText},
        BadCase{"Payload",
                [](auto& b) { b.insert(b.end() - static_cast<std::ptrdiff_t>(kTagSize), kMaxRelayPayload + 1, 0); },
                RelayData{}, DecodeError::PayloadTooLarge}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(RendezvousMessages, DecodeErrorsHaveDistinctNames) {
  std::set<std::string_view> names;
  for (int e = 0; e <= static_cast<int>(DecodeError::BadTurnText); ++e)
    names.insert(to_string(static_cast<DecodeError>(e)));
  EXPECT_EQ(names.size(), static_cast<std::size_t>(DecodeError::BadTurnText) + 1);
}

// The fuzz target's seeds must be valid messages (one per type, plus each
// allocator kind), or the fuzzer starts from noise after a format change.
TEST(RendezvousMessages, FuzzSeedsDecodeAndReencode) {
  const auto dir = std::filesystem::path(NATPUNCH_PROFILES_DIR).parent_path() / "tests/fuzz/corpus/rendezvous_decode";
  std::set<MessageType> types;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    const std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    auto decoded = decode(bytes);
    ASSERT_TRUE(decoded) << entry.path() << ": " << to_string(decoded.error());
    EXPECT_EQ(encode(*decoded), bytes) << entry.path();
    types.insert(type_of(*decoded));
  }
  EXPECT_EQ(types.size(), 20u);
}

TEST(RendezvousMessages, PublicKeyHexRoundTrips) {
  PublicKey k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(i * 7);
  EXPECT_EQ(parse_public_key(to_hex(k)), k);
  EXPECT_FALSE(parse_public_key("abc"));
  EXPECT_FALSE(parse_public_key(std::string(64, 'g')));
}

TEST(RendezvousReplayWindow, AcceptsEachSequenceOnceWithinTheWindow) {
  ReplayWindow w;
  EXPECT_FALSE(w.accept(0));
  EXPECT_TRUE(w.accept(1));
  EXPECT_FALSE(w.accept(1));
  EXPECT_TRUE(w.accept(5));
  EXPECT_TRUE(w.accept(3)) << "reordered but new";
  EXPECT_FALSE(w.accept(3));
  EXPECT_TRUE(w.accept(100));
  EXPECT_FALSE(w.accept(36)) << "older than the window";
  EXPECT_TRUE(w.accept(37));
  EXPECT_FALSE(w.accept(5));
  EXPECT_TRUE(w.accept(1000));
  EXPECT_FALSE(w.accept(100));
}

}  // namespace
}  // namespace natpunch::rendezvous
