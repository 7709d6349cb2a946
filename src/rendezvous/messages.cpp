#include "rendezvous/messages.hpp"

#include <algorithm>
#include <bit>
#include <chrono>
#include <type_traits>

#include "core/bytes.hpp"

namespace natpunch::rendezvous {
namespace {

constexpr std::uint8_t kFamilyV4 = 4;
constexpr std::uint8_t kFamilyV6 = 6;
constexpr std::uint8_t kMaxBehavior = static_cast<std::uint8_t>(nat::MappingBehavior::Unknown);
static_assert(static_cast<std::uint8_t>(nat::FilteringBehavior::Unknown) == kMaxBehavior);

// Allocator kinds on the wire (see NatInfo); 0 = unknown. Kind 7 came
// later: encodings of kinds 0-6 are unchanged by it.
enum class AllocatorKind : std::uint8_t { Unknown, Preserving, Sequential, Uniform, RandomFully, Block, Beta, Window };
constexpr std::uint8_t kMaxAllocatorKind = static_cast<std::uint8_t>(AllocatorKind::Window);
// A window's reset rule on the wire.
constexpr std::uint8_t kResetHold = 1;
constexpr std::uint8_t kResetMappings = 2;

AllocatorKind allocator_kind(const nat::AllocatorSpec& spec) {
  return std::visit(
      [](const auto& s) {
        using S = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<S, nat::PreservingSpec>) return AllocatorKind::Preserving;
        else if constexpr (std::is_same_v<S, nat::SequentialSpec>) return AllocatorKind::Sequential;
        else if constexpr (std::is_same_v<S, nat::UniformSpec>) return AllocatorKind::Uniform;
        else if constexpr (std::is_same_v<S, nat::RandomFullySpec>) return AllocatorKind::RandomFully;
        else if constexpr (std::is_same_v<S, nat::BlockSpec>) return AllocatorKind::Block;
        else if constexpr (std::is_same_v<S, nat::WindowSpec>) return AllocatorKind::Window;
        // A trace replays a file the peer cannot read: it is not sent.
        else if constexpr (std::is_same_v<S, nat::TraceSpec>) return AllocatorKind::Unknown;
        else return AllocatorKind::Beta;
      },
      spec);
}

// nat::validate() names the field at fault; the wire error follows it.
DecodeError allocator_error(const nat::AllocatorSpecError& e) {
  if (e.field.starts_with("locality")) return DecodeError::BadLocality;
  if (e.field == "block_size") return DecodeError::BadBlockSize;
  if (e.field == "min" || e.field == "max") return DecodeError::BadPortRange;
  return DecodeError::BadBetaParameters;
}

using Fail = Unexpected<DecodeError>;

// Each reader returns the error of the first field that fails.
class BodyReader {
 public:
  explicit BodyReader(std::span<const std::uint8_t> bytes) : r_(bytes) {}

  std::optional<DecodeError> error;
  ByteReader& raw() { return r_; }
  std::size_t remaining() const { return r_.remaining(); }

  bool fail(DecodeError e) {
    if (!error) error = e;
    return false;
  }
  bool u8(std::uint8_t& v) { return r_.u8(v) || fail(DecodeError::Truncated); }
  bool u16(std::uint16_t& v) { return r_.u16(v) || fail(DecodeError::Truncated); }
  bool u32(std::uint32_t& v) { return r_.u32(v) || fail(DecodeError::Truncated); }
  bool u64(std::uint64_t& v) { return r_.u64(v) || fail(DecodeError::Truncated); }
  template <std::size_t N>
  bool array(std::array<std::uint8_t, N>& v) {
    return r_.array(v) || fail(DecodeError::Truncated);
  }

  bool endpoint(Endpoint& e) {
    std::uint8_t family = 0;
    if (!u8(family)) return false;
    if (family == kFamilyV4) {
      std::array<std::uint8_t, 4> a{};
      if (!array(a)) return false;
      e.address = IpAddress::v4(a);
    } else if (family == kFamilyV6) {
      std::array<std::uint8_t, 16> a{};
      if (!array(a)) return false;
      e.address = IpAddress::v6(a);
    } else {
      return fail(DecodeError::BadAddressFamily);
    }
    if (!u16(e.port)) return false;
    return e.port != 0 || fail(DecodeError::ZeroPort);
  }

  bool nat_info(NatInfo& info) {
    std::uint8_t mapping = 0, filtering = 0, name_length = 0, endpoint_count = 0;
    if (!u8(mapping)) return false;
    if (mapping > kMaxBehavior) return fail(DecodeError::BadMappingBehavior);
    if (!u8(filtering)) return false;
    if (filtering > kMaxBehavior) return fail(DecodeError::BadFilteringBehavior);
    info.mapping = static_cast<nat::MappingBehavior>(mapping);
    info.filtering = static_cast<nat::FilteringBehavior>(filtering);
    if (!u8(name_length)) return false;
    if (name_length > kMaxProfileName) return fail(DecodeError::BadProfileName);
    std::span<const std::uint8_t> name;
    if (!r_.view(name_length, name)) return fail(DecodeError::Truncated);
    for (auto c : name)
      if (c < 0x21 || c > 0x7e) return fail(DecodeError::BadProfileName);
    info.carrier_profile.assign(name.begin(), name.end());
    if (!u32(info.pending_timeout_ms) || !u32(info.idle_timeout_ms) || !allocator(info.allocator) ||
        !u8(endpoint_count))
      return false;
    if (endpoint_count > kMaxLocalEndpoints) return fail(DecodeError::TooManyEndpoints);
    info.local_endpoints.resize(endpoint_count);
    for (auto& e : info.local_endpoints)
      if (!endpoint(e)) return false;
    std::uint8_t flags = 0;
    if (!u8(flags)) return false;
    if ((flags & ~(kNatInfoRelayOnly | kNatInfoReflexiveV6)) != 0) return fail(DecodeError::BadFlags);
    info.relay_only = (flags & kNatInfoRelayOnly) != 0;
    if ((flags & kNatInfoReflexiveV6) != 0) {
      Endpoint e;
      if (!endpoint(e)) return false;
      if (!e.address.is_v6()) return fail(DecodeError::BadAddressFamily);
      info.reflexive_v6 = e;
    }
    return true;
  }

  // Never trusts the peer: every value passes nat::validate() before a
  // port chooser may be built from it.
  bool allocator(std::optional<nat::AllocatorSpec>& out) {
    std::uint8_t kind = 0;
    if (!u8(kind)) return false;
    if (kind > kMaxAllocatorKind) return fail(DecodeError::BadAllocatorKind);
    nat::AllocatorSpec spec;
    switch (static_cast<AllocatorKind>(kind)) {
      case AllocatorKind::Unknown:
        out.reset();
        return true;
      case AllocatorKind::Preserving: spec = range_spec<nat::PreservingSpec>(); break;
      case AllocatorKind::Sequential: spec = range_spec<nat::SequentialSpec>(); break;
      case AllocatorKind::Uniform: spec = range_spec<nat::UniformSpec>(); break;
      case AllocatorKind::RandomFully: spec = nat::RandomFullySpec{}; break;
      case AllocatorKind::Block: {
        nat::BlockSpec block;
        if (!u32(block.block_size) || !u16(block.min) || !u16(block.max)) return false;
        spec = block;
        break;
      }
      case AllocatorKind::Beta: {
        nat::BetaSpec beta;
        if (!beta_spec(beta)) return false;
        spec = beta;
        break;
      }
      case AllocatorKind::Window: {
        nat::WindowSpec window;
        if (!window_spec(window)) return false;
        spec = window;
        break;
      }
    }
    if (error) return false;  // a range field was truncated
    if (auto invalid = nat::validate(spec)) return fail(allocator_error(*invalid));
    out = spec;
    return true;
  }

 private:
  template <class Spec>
  Spec range_spec() {
    Spec s;
    if (u16(s.min)) u16(s.max);
    return s;
  }
  bool f64(double& v) {
    std::uint64_t bits = 0;
    if (!u64(bits)) return false;
    v = std::bit_cast<double>(bits);
    return true;
  }
  bool beta_spec(nat::BetaSpec& beta) { return f64(beta.alpha) && f64(beta.beta) && f64(beta.loc) && f64(beta.scale); }
  // u8 placement kind (Uniform: u16 min, max; Beta: 4 x f64), u32 window,
  // u32 offset, u8 order (0 in order, 1 random), u8 reset (1 hold: u32 ms;
  // 2 mappings: u32 count).
  bool window_spec(nat::WindowSpec& window) {
    std::uint8_t placement = 0, order = 0, reset = 0;
    std::uint32_t reset_value = 0;
    if (!u8(placement)) return false;
    if (placement == static_cast<std::uint8_t>(AllocatorKind::Uniform)) {
      window.placement = range_spec<nat::UniformSpec>();
      if (error) return false;
    } else if (placement == static_cast<std::uint8_t>(AllocatorKind::Beta)) {
      nat::BetaSpec beta;
      if (!beta_spec(beta)) return false;
      window.placement = beta;
    } else {
      return fail(DecodeError::BadLocality);
    }
    if (!u32(window.size) || !u32(window.offset) || !u8(order) || !u8(reset) || !u32(reset_value)) return false;
    if (order > 1) return fail(DecodeError::BadLocality);
    window.order = order == 1 ? nat::WindowOrder::Random : nat::WindowOrder::InOrder;
    if (reset == kResetHold && reset_value > 0) {
      window.hold = std::chrono::milliseconds(reset_value);
      window.mappings.reset();
    } else if (reset == kResetMappings && reset_value > 0) {
      window.mappings = reset_value;
    } else {
      return fail(DecodeError::BadLocality);
    }
    return true;
  }

  ByteReader r_;
};

void write_endpoint(ByteWriter& w, const Endpoint& e) {
  w.u8(e.address.is_v4() ? kFamilyV4 : kFamilyV6);
  w.bytes({e.address.data(), e.address.size()});
  w.u16(e.port);
}

void write_allocator(ByteWriter& w, const std::optional<nat::AllocatorSpec>& allocator) {
  if (!allocator) {
    w.u8(static_cast<std::uint8_t>(AllocatorKind::Unknown));
    return;
  }
  w.u8(static_cast<std::uint8_t>(allocator_kind(*allocator)));
  std::visit(
      [&](const auto& s) {
        using S = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<S, nat::RandomFullySpec> || std::is_same_v<S, nat::TraceSpec>) {
          (void)s;  // no parameters (a trace is sent as unknown)
        } else if constexpr (std::is_same_v<S, nat::WindowSpec>) {
          if (const auto* beta = std::get_if<nat::BetaSpec>(&s.placement)) {
            w.u8(static_cast<std::uint8_t>(AllocatorKind::Beta));
            for (double v : {beta->alpha, beta->beta, beta->loc, beta->scale}) w.u64(std::bit_cast<std::uint64_t>(v));
          } else {
            const auto& uniform = std::get<nat::UniformSpec>(s.placement);
            w.u8(static_cast<std::uint8_t>(AllocatorKind::Uniform));
            w.u16(uniform.min);
            w.u16(uniform.max);
          }
          w.u32(s.size);
          w.u32(s.offset);
          w.u8(s.order == nat::WindowOrder::Random ? 1 : 0);
          if (s.hold) {
            // Whole milliseconds, at least 1 (validate() keeps it positive).
            const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*s.hold).count();
            w.u8(kResetHold);
            w.u32(static_cast<std::uint32_t>(std::clamp<std::int64_t>(ms, 1, 0xffffffffLL)));
          } else {
            w.u8(kResetMappings);
            w.u32(s.mappings.value_or(1));
          }
        } else if constexpr (std::is_same_v<S, nat::BlockSpec>) {
          w.u32(s.block_size);
          w.u16(s.min);
          w.u16(s.max);
        } else if constexpr (std::is_same_v<S, nat::BetaSpec>) {
          for (double v : {s.alpha, s.beta, s.loc, s.scale}) w.u64(std::bit_cast<std::uint64_t>(v));
        } else {
          w.u16(s.min);
          w.u16(s.max);
        }
      },
      *allocator);
}

void write_nat_info(ByteWriter& w, const NatInfo& info) {
  w.u8(static_cast<std::uint8_t>(info.mapping));
  w.u8(static_cast<std::uint8_t>(info.filtering));
  const auto name_length = std::min(info.carrier_profile.size(), kMaxProfileName);
  w.u8(static_cast<std::uint8_t>(name_length));
  w.bytes({reinterpret_cast<const std::uint8_t*>(info.carrier_profile.data()), name_length});
  w.u32(info.pending_timeout_ms);
  w.u32(info.idle_timeout_ms);
  write_allocator(w, info.allocator);
  const auto count = std::min(info.local_endpoints.size(), kMaxLocalEndpoints);
  w.u8(static_cast<std::uint8_t>(count));
  for (std::size_t i = 0; i < count; ++i) write_endpoint(w, info.local_endpoints[i]);
  const bool reflexive_v6 = info.reflexive_v6 && info.reflexive_v6->address.is_v6() && info.reflexive_v6->port != 0;
  w.u8(static_cast<std::uint8_t>((info.relay_only ? kNatInfoRelayOnly : 0) | (reflexive_v6 ? kNatInfoReflexiveV6 : 0)));
  if (reflexive_v6) write_endpoint(w, *info.reflexive_v6);
}

template <class T>
constexpr MessageType type_for() {
  if constexpr (std::is_same_v<T, Register>) return MessageType::Register;
  if constexpr (std::is_same_v<T, Challenge>) return MessageType::Challenge;
  if constexpr (std::is_same_v<T, Prove>) return MessageType::Prove;
  if constexpr (std::is_same_v<T, Registered>) return MessageType::Registered;
  if constexpr (std::is_same_v<T, Refresh>) return MessageType::Refresh;
  if constexpr (std::is_same_v<T, Keepalive>) return MessageType::Keepalive;
  if constexpr (std::is_same_v<T, ConnectRequest>) return MessageType::ConnectRequest;
  if constexpr (std::is_same_v<T, IncomingRequest>) return MessageType::IncomingRequest;
  if constexpr (std::is_same_v<T, Accept>) return MessageType::Accept;
  if constexpr (std::is_same_v<T, Reject>) return MessageType::Reject;
  if constexpr (std::is_same_v<T, SessionInfo>) return MessageType::SessionInfo;
  if constexpr (std::is_same_v<T, RelayData>) return MessageType::RelayData;
  if constexpr (std::is_same_v<T, Error>) return MessageType::Error;
  if constexpr (std::is_same_v<T, Refused>) return MessageType::Refused;
  if constexpr (std::is_same_v<T, Unregister>) return MessageType::Unregister;
  if constexpr (std::is_same_v<T, PathChallenge>) return MessageType::PathChallenge;
  if constexpr (std::is_same_v<T, PathResponse>) return MessageType::PathResponse;
  if constexpr (std::is_same_v<T, TurnServers>) return MessageType::TurnServers;
  if constexpr (std::is_same_v<T, RelayResume>) return MessageType::RelayResume;
  if constexpr (std::is_same_v<T, RelayResumed>) return MessageType::RelayResumed;
}

// Body decoders: `r` holds exactly the body (without header, auth header and tag).
bool read_body(BodyReader& r, Register& m) {
  if (!r.array(m.identity) || !r.array(m.client_nonce) || !r.u16(m.padding)) return false;
  std::span<const std::uint8_t> padding;
  if (!r.raw().view(m.padding, padding)) return r.fail(DecodeError::Truncated);
  for (auto b : padding)
    if (b != 0) return r.fail(DecodeError::NonZeroPadding);
  return true;
}
bool read_puzzle_bits(BodyReader& r, std::uint8_t& bits) {
  if (!r.u8(bits)) return false;
  return bits <= kMaxPuzzleBits || r.fail(DecodeError::BadPuzzle);
}
bool read_body(BodyReader& r, Challenge& m) {
  return r.array(m.client_nonce) && r.u64(m.issued_at_ms) && r.array(m.cookie) && r.array(m.server_key) &&
         read_puzzle_bits(r, m.puzzle_bits);
}
bool read_body(BodyReader& r, Prove& m) {
  if (!r.array(m.identity) || !r.array(m.client_nonce) || !r.u64(m.issued_at_ms) || !r.array(m.cookie) ||
      !read_puzzle_bits(r, m.puzzle_bits) || !r.u64(m.puzzle_solution) || !r.u8(m.flags))
    return false;
  if ((m.flags & ~kProveFlagsMask) != 0) return r.fail(DecodeError::BadFlags);
  return r.u64(m.instance) && r.nat_info(m.info) && r.array(m.key_share) && r.array(m.signature);
}
bool read_body(BodyReader& r, Registered& m) {
  return r.endpoint(m.observed) && r.u32(m.refresh_interval_ms) && r.u32(m.lifetime_ms);
}
bool read_body(BodyReader&, Refresh&) { return true; }
bool read_body(BodyReader&, Keepalive&) { return true; }
bool read_body(BodyReader&, Unregister&) { return true; }
bool read_body(BodyReader& r, PathChallenge& m) { return r.u64(m.token); }
bool read_body(BodyReader& r, PathResponse& m) { return r.u64(m.token); }
bool read_body(BodyReader& r, ConnectRequest& m) { return r.u32(m.request_id) && r.array(m.peer); }
bool read_body(BodyReader& r, IncomingRequest& m) { return r.u64(m.invitation_id) && r.array(m.caller); }
bool read_body(BodyReader& r, Accept& m) { return r.u64(m.invitation_id); }
bool read_body(BodyReader& r, Reject& m) { return r.u64(m.invitation_id); }
bool read_body(BodyReader& r, SessionInfo& m) {
  std::uint8_t role = 0;
  if (!r.u64(m.session_id) || !r.array(m.sealed_session_key) || !r.u32(m.start_delay_ms) || !r.u8(role)) return false;
  if (role != static_cast<std::uint8_t>(Role::Caller) && role != static_cast<std::uint8_t>(Role::Callee))
    return r.fail(DecodeError::BadRole);
  m.role = static_cast<Role>(role);
  return r.u64(m.correlation_id) && r.array(m.peer) && r.endpoint(m.peer_observed) && r.nat_info(m.peer_info);
}
bool read_body(BodyReader& r, RelayResume& m) {
  return r.u64(m.session_id) && r.array(m.peer) && r.array(m.token);
}
bool read_body(BodyReader& r, RelayResumed& m) { return r.u64(m.session_id); }
bool read_body(BodyReader& r, RelayData& m) {
  if (!r.u64(m.session_id)) return false;
  if (r.remaining() > kMaxRelayPayload) return r.fail(DecodeError::PayloadTooLarge);
  m.payload.resize(r.remaining());
  return r.raw().copy(m.payload.data(), m.payload.size());
}
bool read_error_code(BodyReader& r, ErrorCode& code) {
  std::uint8_t c = 0;
  if (!r.u8(c)) return false;
  if (c == 0 || c > kMaxErrorCode) return r.fail(DecodeError::BadErrorCode);
  code = static_cast<ErrorCode>(c);
  return true;
}
// A length-prefixed text of at most `max` bytes (at least `min`);
// printable ASCII unless `binary`.
bool read_text(BodyReader& r, std::string& out, std::size_t min, std::size_t max, bool binary) {
  std::uint8_t length = 0;
  if (!r.u8(length)) return false;
  if (length < min || length > max) return r.fail(DecodeError::BadTurnText);
  std::span<const std::uint8_t> text;
  if (!r.raw().view(length, text)) return r.fail(DecodeError::Truncated);
  if (!binary)
    for (auto c : text)
      if (c < 0x20 || c > 0x7e) return r.fail(DecodeError::BadTurnText);
  out.assign(text.begin(), text.end());
  return true;
}
bool read_body(BodyReader& r, TurnServers& m) {
  std::uint8_t count = 0;
  if (!r.u32(m.valid_for_s) || !r.u8(count)) return false;
  if (count == 0 || count > kMaxTurnServers) return r.fail(DecodeError::BadTurnServerCount);
  m.servers.resize(count);
  for (TurnServer& s : m.servers) {
    if (!r.u8(s.transports)) return false;
    if (s.transports == 0 || (s.transports & ~kTurnTransportsMask) != 0) return r.fail(DecodeError::BadTurnTransports);
    if (!r.endpoint(s.address) || !r.u16(s.tls_port)) return false;
    if ((s.tls_port != 0) != ((s.transports & kTurnTls) != 0)) return r.fail(DecodeError::BadTurnTransports);
    if (!read_text(r, s.name, 0, kMaxTurnName, false) || !read_text(r, s.username, 1, kMaxTurnUsername, false) ||
        !read_text(r, s.password, 1, kMaxTurnPassword, true))
      return false;
  }
  return true;
}
bool read_body(BodyReader& r, Error& m) { return read_error_code(r, m.code) && r.u64(m.correlation_id); }
bool read_body(BodyReader& r, Refused& m) { return read_error_code(r, m.code) && r.array(m.echo); }

void write_body(ByteWriter& w, const Register& m) {
  w.bytes(m.identity);
  w.bytes(m.client_nonce);
  w.u16(m.padding);
  w.zeros(m.padding);
}
void write_body(ByteWriter& w, const Challenge& m) {
  w.bytes(m.client_nonce);
  w.u64(m.issued_at_ms);
  w.bytes(m.cookie);
  w.bytes(m.server_key);
  w.u8(m.puzzle_bits);
}
void write_body(ByteWriter& w, const Prove& m) {
  w.bytes(m.identity);
  w.bytes(m.client_nonce);
  w.u64(m.issued_at_ms);
  w.bytes(m.cookie);
  w.u8(m.puzzle_bits);
  w.u64(m.puzzle_solution);
  w.u8(m.flags);
  w.u64(m.instance);
  write_nat_info(w, m.info);
  w.bytes(m.key_share);
  w.bytes(m.signature);
}
void write_body(ByteWriter& w, const Registered& m) {
  write_endpoint(w, m.observed);
  w.u32(m.refresh_interval_ms);
  w.u32(m.lifetime_ms);
}
void write_body(ByteWriter&, const Refresh&) {}
void write_body(ByteWriter&, const Keepalive&) {}
void write_body(ByteWriter&, const Unregister&) {}
void write_body(ByteWriter& w, const PathChallenge& m) { w.u64(m.token); }
void write_body(ByteWriter& w, const PathResponse& m) { w.u64(m.token); }
void write_body(ByteWriter& w, const ConnectRequest& m) {
  w.u32(m.request_id);
  w.bytes(m.peer);
}
void write_body(ByteWriter& w, const IncomingRequest& m) {
  w.u64(m.invitation_id);
  w.bytes(m.caller);
}
void write_body(ByteWriter& w, const Accept& m) { w.u64(m.invitation_id); }
void write_body(ByteWriter& w, const Reject& m) { w.u64(m.invitation_id); }
void write_body(ByteWriter& w, const SessionInfo& m) {
  w.u64(m.session_id);
  w.bytes(m.sealed_session_key);
  w.u32(m.start_delay_ms);
  w.u8(static_cast<std::uint8_t>(m.role));
  w.u64(m.correlation_id);
  w.bytes(m.peer);
  write_endpoint(w, m.peer_observed);
  write_nat_info(w, m.peer_info);
}
void write_body(ByteWriter& w, const RelayResume& m) {
  w.u64(m.session_id);
  w.bytes(m.peer);
  w.bytes(m.token);
}
void write_body(ByteWriter& w, const RelayResumed& m) { w.u64(m.session_id); }
void write_body(ByteWriter& w, const RelayData& m) {
  w.u64(m.session_id);
  w.bytes({m.payload.data(), std::min(m.payload.size(), kMaxRelayPayload)});
}
void write_text(ByteWriter& w, const std::string& text, std::size_t max) {
  const auto length = std::min(text.size(), max);
  w.u8(static_cast<std::uint8_t>(length));
  w.bytes({reinterpret_cast<const std::uint8_t*>(text.data()), length});
}
void write_body(ByteWriter& w, const TurnServers& m) {
  w.u32(m.valid_for_s);
  const auto count = std::min(m.servers.size(), kMaxTurnServers);
  w.u8(static_cast<std::uint8_t>(count));
  for (std::size_t i = 0; i < count; ++i) {
    const TurnServer& s = m.servers[i];
    w.u8(s.transports);
    write_endpoint(w, s.address);
    w.u16(s.tls_port);
    write_text(w, s.name, kMaxTurnName);
    write_text(w, s.username, kMaxTurnUsername);
    write_text(w, s.password, kMaxTurnPassword);
  }
}
void write_body(ByteWriter& w, const Error& m) {
  w.u8(static_cast<std::uint8_t>(m.code));
  w.u64(m.correlation_id);
}
void write_body(ByteWriter& w, const Refused& m) {
  w.u8(static_cast<std::uint8_t>(m.code));
  w.bytes(m.echo);
}

template <class T>
Result<Message, DecodeError> decode_as(std::span<const std::uint8_t> after_header) {
  T m{};
  std::span<const std::uint8_t> body = after_header;
  if constexpr (requires { m.auth; }) {
    if (after_header.size() < kAuthHeaderSize + kTagSize) return Fail{DecodeError::Truncated};
    ByteReader h(after_header);
    h.u64(m.auth.registration_id);
    h.u64(m.auth.sequence);
    const std::size_t body_size = after_header.size() - kAuthHeaderSize - kTagSize;
    body = after_header.subspan(kAuthHeaderSize, body_size);
    std::copy_n(after_header.end() - kTagSize, kTagSize, m.auth.tag.begin());
  }
  BodyReader r(body);
  if (!read_body(r, m)) return Fail{r.error.value_or(DecodeError::Truncated)};
  if (r.remaining() != 0) return Fail{DecodeError::TrailingBytes};
  return Message{std::move(m)};
}

}  // namespace

void write_endpoint_field(ByteWriter& w, const Endpoint& e) { write_endpoint(w, e); }
void write_nat_info_field(ByteWriter& w, const NatInfo& info) { write_nat_info(w, info); }

namespace {
// Runs `read` on a BodyReader over what is left of `r`, then consumes what it read.
template <class Read>
std::optional<DecodeError> read_field(ByteReader& r, Read read) {
  std::span<const std::uint8_t> rest;
  if (!r.view(r.remaining(), rest)) return DecodeError::Truncated;
  BodyReader body(rest);
  const bool ok = read(body);
  const std::size_t used = rest.size() - body.remaining();
  // Give back what the field did not use: the caller's reader restarts at
  // the field's end (view() consumed all of it).
  r = ByteReader(rest.subspan(used));
  if (!ok) return body.error.value_or(DecodeError::Truncated);
  return std::nullopt;
}
}  // namespace

std::optional<DecodeError> read_endpoint_field(ByteReader& r, Endpoint& e) {
  return read_field(r, [&](BodyReader& b) { return b.endpoint(e); });
}
std::optional<DecodeError> read_nat_info_field(ByteReader& r, NatInfo& info) {
  return read_field(r, [&](BodyReader& b) { return b.nat_info(info); });
}

std::string_view to_string(DecodeError error) {
  switch (error) {
    case DecodeError::TooShort: return "shorter than the header";
    case DecodeError::BadMagic: return "bad magic";
    case DecodeError::UnsupportedVersion: return "unsupported version";
    case DecodeError::UnknownType: return "unknown message type";
    case DecodeError::Truncated: return "truncated field";
    case DecodeError::TrailingBytes: return "trailing bytes";
    case DecodeError::BadAddressFamily: return "bad address family";
    case DecodeError::ZeroPort: return "endpoint with port 0";
    case DecodeError::BadMappingBehavior: return "bad mapping behaviour";
    case DecodeError::BadFilteringBehavior: return "bad filtering behaviour";
    case DecodeError::BadProfileName: return "bad carrier profile name";
    case DecodeError::TooManyEndpoints: return "too many local endpoints";
    case DecodeError::NonZeroPadding: return "non-zero padding";
    case DecodeError::BadRole: return "bad role";
    case DecodeError::BadErrorCode: return "bad error code";
    case DecodeError::PayloadTooLarge: return "relay payload too large";
    case DecodeError::BadAllocatorKind: return "unknown port allocator kind";
    case DecodeError::BadPortRange: return "bad allocator port range";
    case DecodeError::BadBlockSize: return "bad allocator block size";
    case DecodeError::BadBetaParameters: return "bad Beta allocator parameters";
    case DecodeError::BadLocality: return "bad allocator locality (window, offset, order or reset)";
    case DecodeError::BadFlags: return "undefined flag bits";
    case DecodeError::BadPuzzle: return "puzzle difficulty too high";
    case DecodeError::BadTurnServerCount: return "no TURN server or too many";
    case DecodeError::BadTurnTransports: return "bad TURN transports or TLS port";
    case DecodeError::BadTurnText: return "bad TURN name, username or password";
  }
  return "unknown decode error";
}

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::UnknownPeer: return "unknown peer";
    case ErrorCode::NotRegistered: return "not registered";
    case ErrorCode::Rejected: return "rejected by the peer";
    case ErrorCode::RateLimited: return "rate limited";
    case ErrorCode::TooLarge: return "too large";
    case ErrorCode::ServerFull: return "server full";
    case ErrorCode::TooManyPending: return "too many pending requests";
    case ErrorCode::ChallengeExpired: return "challenge expired or reused";
    case ErrorCode::NoSuchSession: return "no such session";
    case ErrorCode::RelayQuotaExceeded: return "relay quota exceeded";
    case ErrorCode::Timeout: return "peer did not answer";
    case ErrorCode::UnknownRequest: return "unknown request";
    case ErrorCode::TooManyRegistrations: return "too many registrations for this identity";
    case ErrorCode::SourceFull: return "too many registrations from this address or network";
  }
  return "unknown error";
}

std::string_view to_string(MessageType type) {
  switch (type) {
    case MessageType::Register: return "register";
    case MessageType::Challenge: return "challenge";
    case MessageType::Prove: return "prove";
    case MessageType::Registered: return "registered";
    case MessageType::Refresh: return "refresh";
    case MessageType::Keepalive: return "keepalive";
    case MessageType::ConnectRequest: return "connect-request";
    case MessageType::IncomingRequest: return "incoming-request";
    case MessageType::Accept: return "accept";
    case MessageType::Reject: return "reject";
    case MessageType::SessionInfo: return "session-info";
    case MessageType::RelayData: return "relay-data";
    case MessageType::Error: return "error";
    case MessageType::Refused: return "refused";
    case MessageType::Unregister: return "unregister";
    case MessageType::PathChallenge: return "path-challenge";
    case MessageType::PathResponse: return "path-response";
    case MessageType::TurnServers: return "turn-servers";
    case MessageType::RelayResume: return "relay-resume";
    case MessageType::RelayResumed: return "relay-resumed";
  }
  return "unknown";
}

MessageType type_of(const Message& message) {
  return std::visit([](const auto& m) { return type_for<std::decay_t<decltype(m)>>(); }, message);
}

bool is_authenticated(MessageType type) {
  switch (type) {
    case MessageType::Register:
    case MessageType::Challenge:
    case MessageType::Prove:
    case MessageType::Refused:
    case MessageType::PathChallenge: return false;
    default: return true;
  }
}

bool looks_like_rendezvous(std::span<const std::uint8_t> bytes) {
  return bytes.size() >= kHeaderSize && bytes[0] == kMagic0 && bytes[1] == kMagic1;
}

Result<Message, DecodeError> decode(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < kHeaderSize) return Fail{DecodeError::TooShort};
  if (bytes[0] != kMagic0 || bytes[1] != kMagic1) return Fail{DecodeError::BadMagic};
  if (bytes[2] != kVersion) return Fail{DecodeError::UnsupportedVersion};
  const auto rest = bytes.subspan(kHeaderSize);
  switch (static_cast<MessageType>(bytes[3])) {
    case MessageType::Register: return decode_as<Register>(rest);
    case MessageType::Challenge: return decode_as<Challenge>(rest);
    case MessageType::Prove: return decode_as<Prove>(rest);
    case MessageType::Registered: return decode_as<Registered>(rest);
    case MessageType::Refresh: return decode_as<Refresh>(rest);
    case MessageType::Keepalive: return decode_as<Keepalive>(rest);
    case MessageType::ConnectRequest: return decode_as<ConnectRequest>(rest);
    case MessageType::IncomingRequest: return decode_as<IncomingRequest>(rest);
    case MessageType::Accept: return decode_as<Accept>(rest);
    case MessageType::Reject: return decode_as<Reject>(rest);
    case MessageType::SessionInfo: return decode_as<SessionInfo>(rest);
    case MessageType::RelayData: return decode_as<RelayData>(rest);
    case MessageType::Error: return decode_as<Error>(rest);
    case MessageType::Refused: return decode_as<Refused>(rest);
    case MessageType::Unregister: return decode_as<Unregister>(rest);
    case MessageType::PathChallenge: return decode_as<PathChallenge>(rest);
    case MessageType::PathResponse: return decode_as<PathResponse>(rest);
    case MessageType::TurnServers: return decode_as<TurnServers>(rest);
    case MessageType::RelayResume: return decode_as<RelayResume>(rest);
    case MessageType::RelayResumed: return decode_as<RelayResumed>(rest);
  }
  return Fail{DecodeError::UnknownType};
}

std::vector<std::uint8_t> encode(const Message& message) {
  std::vector<std::uint8_t> out;
  out.reserve(128);
  ByteWriter w(out);
  w.u8(kMagic0);
  w.u8(kMagic1);
  w.u8(kVersion);
  std::visit(
      [&](const auto& m) {
        w.u8(static_cast<std::uint8_t>(type_for<std::decay_t<decltype(m)>>()));
        if constexpr (requires { m.auth; }) {
          w.u64(m.auth.registration_id);
          w.u64(m.auth.sequence);
          write_body(w, m);
          w.bytes(m.auth.tag);
        } else {
          write_body(w, m);
        }
      },
      message);
  return out;
}

std::string to_hex(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (auto b : bytes) {
    s.push_back(kDigits[b >> 4]);
    s.push_back(kDigits[b & 15]);
  }
  return s;
}

std::optional<PublicKey> parse_public_key(std::string_view hex) {
  PublicKey key{};
  if (hex.size() != key.size() * 2) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < key.size(); ++i) {
    const int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    key[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return key;
}

}  // namespace natpunch::rendezvous
