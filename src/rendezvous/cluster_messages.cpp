#include "rendezvous/cluster_messages.hpp"

#include <sodium.h>

#include "core/bytes.hpp"

#include <algorithm>
#include <type_traits>

namespace natpunch::rendezvous {
namespace {

using Fail = Unexpected<ClusterError>;
using namespace cluster;

template <class T>
constexpr ClusterType type_for() {
  if constexpr (std::is_same_v<T, Hello>) return ClusterType::Hello;
  if constexpr (std::is_same_v<T, Goodbye>) return ClusterType::Goodbye;
  if constexpr (std::is_same_v<T, Held>) return ClusterType::Held;
  if constexpr (std::is_same_v<T, Released>) return ClusterType::Released;
  if constexpr (std::is_same_v<T, Evict>) return ClusterType::Evict;
  if constexpr (std::is_same_v<T, Route>) return ClusterType::Route;
  if constexpr (std::is_same_v<T, Offer>) return ClusterType::Offer;
  if constexpr (std::is_same_v<T, NotFound>) return ClusterType::NotFound;
  if constexpr (std::is_same_v<T, Offered>) return ClusterType::Offered;
  if constexpr (std::is_same_v<T, SessionMade>) return ClusterType::SessionMade;
  if constexpr (std::is_same_v<T, Rejected>) return ClusterType::Rejected;
  if constexpr (std::is_same_v<T, Relay>) return ClusterType::Relay;
  if constexpr (std::is_same_v<T, ResumeHalf>) return ClusterType::ResumeHalf;
  if constexpr (std::is_same_v<T, ResumeMatched>) return ClusterType::ResumeMatched;
}

void write_card(ByteWriter& w, const PeerCard& c) {
  w.bytes(c.identity);
  write_endpoint_field(w, c.observed);
  write_nat_info_field(w, c.info);
}

void write(ByteWriter& w, const Hello& m) {
  w.u32(m.registrations);
  w.u16(m.udp_port);
}
void write(ByteWriter&, const Goodbye&) {}
void write(ByteWriter& w, const Held& m) {
  const auto n = std::min(m.records.size(), kMaxClusterRecords);
  w.u16(static_cast<std::uint16_t>(n));
  for (std::size_t i = 0; i < n; ++i) {
    w.bytes(m.records[i].identity);
    w.u64(m.records[i].instance);
    w.u8(m.records[i].flags);
  }
}
void write(ByteWriter& w, const Released& m) {
  const auto n = std::min(m.records.size(), kMaxClusterRecords);
  w.u16(static_cast<std::uint16_t>(n));
  for (std::size_t i = 0; i < n; ++i) {
    w.bytes(m.records[i].identity);
    w.u64(m.records[i].instance);
  }
}
void write(ByteWriter& w, const Evict& m) {
  w.bytes(m.identity);
  w.u64(m.instance);
  w.u8(static_cast<std::uint8_t>(m.reason));
}
template <class T>
void write_route(ByteWriter& w, const T& m) {
  w.u64(m.invitation);
  w.u64(m.origin);
  w.bytes(m.callee);
  write_card(w, m.caller);
}
void write(ByteWriter& w, const Route& m) { write_route(w, m); }
void write(ByteWriter& w, const Offer& m) { write_route(w, m); }
void write(ByteWriter& w, const NotFound& m) { w.u64(m.invitation); }
void write(ByteWriter& w, const Offered& m) { w.u64(m.invitation); }
void write(ByteWriter& w, const Rejected& m) { w.u64(m.invitation); }
void write(ByteWriter& w, const SessionMade& m) {
  w.u64(m.invitation);
  w.u64(m.session_id);
  w.bytes(m.session_key);
  w.u32(m.start_delay_ms);
  write_card(w, m.callee);
}
void write(ByteWriter& w, const Relay& m) {
  const auto n = std::min(m.payload.size(), kMaxRelayPayload);
  w.u64(m.session_id);
  w.u16(static_cast<std::uint16_t>(n));
  w.bytes({m.payload.data(), n});
}
void write(ByteWriter& w, const ResumeHalf& m) {
  w.u64(m.session_id);
  w.bytes(m.identity);
  w.bytes(m.peer);
  w.bytes(m.token);
  w.u64(m.node);
}
void write(ByteWriter& w, const ResumeMatched& m) {
  w.u64(m.session_id);
  w.bytes(m.identity);
  w.bytes(m.peer);
  w.u64(m.peer_node);
}

// Reads fields in order; the first failure wins.
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> bytes) : r_(bytes) {}
  std::optional<ClusterError> error;

  bool fail(ClusterError e) {
    if (!error) error = e;
    return false;
  }
  bool u8(std::uint8_t& v) { return r_.u8(v) || fail(ClusterError::Truncated); }
  bool u16(std::uint16_t& v) { return r_.u16(v) || fail(ClusterError::Truncated); }
  bool u32(std::uint32_t& v) { return r_.u32(v) || fail(ClusterError::Truncated); }
  bool u64(std::uint64_t& v) { return r_.u64(v) || fail(ClusterError::Truncated); }
  bool nonzero(std::uint64_t& v) { return u64(v) && (v != 0 || fail(ClusterError::ZeroId)); }
  template <std::size_t N>
  bool array(std::array<std::uint8_t, N>& v) {
    return r_.array(v) || fail(ClusterError::Truncated);
  }
  bool card(PeerCard& c) {
    if (!array(c.identity)) return false;
    if (auto e = read_endpoint_field(r_, c.observed))
      return fail(*e == DecodeError::Truncated ? ClusterError::Truncated : ClusterError::BadPeer);
    if (auto e = read_nat_info_field(r_, c.info))
      return fail(*e == DecodeError::Truncated ? ClusterError::Truncated : ClusterError::BadPeer);
    return true;
  }
  bool count(std::uint16_t& n) {
    return u16(n) && (n <= kMaxClusterRecords || fail(ClusterError::TooManyRecords));
  }
  bool bytes(std::size_t n, std::vector<std::uint8_t>& out) {
    std::span<const std::uint8_t> v;
    if (!r_.view(n, v)) return fail(ClusterError::Truncated);
    out.assign(v.begin(), v.end());
    return true;
  }
  std::size_t remaining() const { return r_.remaining(); }

 private:
  ByteReader r_;
};

bool read(Reader& r, Hello& m) { return r.u32(m.registrations) && r.u16(m.udp_port); }
bool read(Reader&, Goodbye&) { return true; }
bool read(Reader& r, Held& m) {
  std::uint16_t n = 0;
  if (!r.count(n)) return false;
  // Each record is 41 bytes: a short body cannot make us reserve much.
  if (r.remaining() < std::size_t{n} * 41) return r.fail(ClusterError::Truncated);
  m.records.resize(n);
  for (auto& rec : m.records) {
    if (!r.array(rec.identity) || !r.u64(rec.instance) || !r.u8(rec.flags)) return false;
    if ((rec.flags & ~kHeldFlagsMask) != 0) return r.fail(ClusterError::BadFlags);
  }
  return true;
}
bool read(Reader& r, Released& m) {
  std::uint16_t n = 0;
  if (!r.count(n)) return false;
  if (r.remaining() < std::size_t{n} * 40) return r.fail(ClusterError::Truncated);
  m.records.resize(n);
  for (auto& rec : m.records)
    if (!r.array(rec.identity) || !r.u64(rec.instance)) return false;
  return true;
}
bool read(Reader& r, Evict& m) {
  std::uint8_t reason = 0;
  if (!r.array(m.identity) || !r.u64(m.instance) || !r.u8(reason)) return false;
  if (reason != static_cast<std::uint8_t>(EvictReason::OverLimit) && reason != static_cast<std::uint8_t>(EvictReason::Moved))
    return r.fail(ClusterError::BadReason);
  m.reason = static_cast<EvictReason>(reason);
  return true;
}
template <class T>
bool read_route(Reader& r, T& m) {
  return r.nonzero(m.invitation) && r.nonzero(m.origin) && r.array(m.callee) && r.card(m.caller);
}
bool read(Reader& r, Route& m) { return read_route(r, m); }
bool read(Reader& r, Offer& m) { return read_route(r, m); }
bool read(Reader& r, NotFound& m) { return r.nonzero(m.invitation); }
bool read(Reader& r, Offered& m) { return r.nonzero(m.invitation); }
bool read(Reader& r, Rejected& m) { return r.nonzero(m.invitation); }
bool read(Reader& r, SessionMade& m) {
  return r.nonzero(m.invitation) && r.nonzero(m.session_id) && r.array(m.session_key) && r.u32(m.start_delay_ms) &&
         r.card(m.callee);
}
bool read(Reader& r, Relay& m) {
  std::uint16_t n = 0;
  if (!r.nonzero(m.session_id) || !r.u16(n)) return false;
  if (n > kMaxRelayPayload) return r.fail(ClusterError::PayloadTooLarge);
  return r.bytes(n, m.payload);
}
bool read(Reader& r, ResumeHalf& m) {
  return r.nonzero(m.session_id) && r.array(m.identity) && r.array(m.peer) && r.array(m.token) && r.nonzero(m.node);
}
bool read(Reader& r, ResumeMatched& m) {
  return r.nonzero(m.session_id) && r.array(m.identity) && r.array(m.peer) && r.nonzero(m.peer_node);
}

template <class T>
Result<Body, ClusterError> decode_as(std::span<const std::uint8_t> bytes) {
  T m{};
  Reader r(bytes);
  if (!read(r, m)) return Fail{r.error.value_or(ClusterError::Truncated)};
  if (r.remaining() != 0) return Fail{ClusterError::TrailingBytes};
  return Body{std::move(m)};
}

std::array<std::uint8_t, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES> nonce_of(NodeId sender, std::uint64_t sequence) {
  std::array<std::uint8_t, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES> n{};
  store_be64(n.data(), sender);
  store_be64(n.data() + 8, sequence);
  return n;
}

}  // namespace

std::string_view to_string(ClusterError error) {
  switch (error) {
    case ClusterError::TooShort: return "shorter than the envelope";
    case ClusterError::BadMagic: return "bad magic";
    case ClusterError::UnsupportedVersion: return "unsupported version";
    case ClusterError::UnknownType: return "unknown message type";
    case ClusterError::BadTag: return "not sealed with the cluster key";
    case ClusterError::Truncated: return "truncated field";
    case ClusterError::TrailingBytes: return "trailing bytes";
    case ClusterError::TooManyRecords: return "too many records";
    case ClusterError::BadFlags: return "undefined flag bits";
    case ClusterError::BadReason: return "unknown eviction reason";
    case ClusterError::PayloadTooLarge: return "relay payload too large";
    case ClusterError::BadPeer: return "bad peer endpoint or NAT info";
    case ClusterError::ZeroId: return "zero id";
  }
  return "unknown cluster error";
}

std::string_view to_string(ClusterType type) {
  switch (type) {
    case ClusterType::Hello: return "hello";
    case ClusterType::Goodbye: return "goodbye";
    case ClusterType::Held: return "held";
    case ClusterType::Released: return "released";
    case ClusterType::Evict: return "evict";
    case ClusterType::Route: return "route";
    case ClusterType::Offer: return "offer";
    case ClusterType::NotFound: return "not-found";
    case ClusterType::Offered: return "offered";
    case ClusterType::SessionMade: return "session-made";
    case ClusterType::Rejected: return "rejected";
    case ClusterType::Relay: return "relay";
    case ClusterType::ResumeHalf: return "resume-half";
    case ClusterType::ResumeMatched: return "resume-matched";
  }
  return "unknown";
}

ClusterType type_of(const Body& body) {
  return std::visit([](const auto& m) { return type_for<std::decay_t<decltype(m)>>(); }, body);
}

std::vector<std::uint8_t> encode_cluster_body(const Body& body) {
  std::vector<std::uint8_t> out;
  ByteWriter w(out);
  std::visit([&](const auto& m) { write(w, m); }, body);
  return out;
}

Result<Body, ClusterError> decode_cluster_body(ClusterType type, std::span<const std::uint8_t> bytes) {
  switch (type) {
    case ClusterType::Hello: return decode_as<Hello>(bytes);
    case ClusterType::Goodbye: return decode_as<Goodbye>(bytes);
    case ClusterType::Held: return decode_as<Held>(bytes);
    case ClusterType::Released: return decode_as<Released>(bytes);
    case ClusterType::Evict: return decode_as<Evict>(bytes);
    case ClusterType::Route: return decode_as<Route>(bytes);
    case ClusterType::Offer: return decode_as<Offer>(bytes);
    case ClusterType::NotFound: return decode_as<NotFound>(bytes);
    case ClusterType::Offered: return decode_as<Offered>(bytes);
    case ClusterType::SessionMade: return decode_as<SessionMade>(bytes);
    case ClusterType::Rejected: return decode_as<Rejected>(bytes);
    case ClusterType::Relay: return decode_as<Relay>(bytes);
    case ClusterType::ResumeHalf: return decode_as<ResumeHalf>(bytes);
    case ClusterType::ResumeMatched: return decode_as<ResumeMatched>(bytes);
  }
  return Fail{ClusterError::UnknownType};
}

std::vector<std::uint8_t> seal_cluster(const ClusterKey& key, ClusterHeader header, const Body& body) {
  header.type = type_of(body);
  const auto plain = encode_cluster_body(body);
  std::vector<std::uint8_t> out(kClusterHeaderSize + plain.size() + kClusterTagSize);
  out[0] = kClusterMagic0;
  out[1] = kClusterMagic1;
  out[2] = kClusterVersion;
  out[3] = static_cast<std::uint8_t>(header.type);
  store_be64(out.data() + 4, header.sender);
  store_be64(out.data() + 12, header.destination);
  store_be64(out.data() + 20, header.sequence);
  const auto nonce = nonce_of(header.sender, header.sequence);
  unsigned long long length = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(out.data() + kClusterHeaderSize, &length, plain.data(), plain.size(),
                                             out.data(), kClusterHeaderSize, nullptr, nonce.data(), key.data());
  out.resize(kClusterHeaderSize + static_cast<std::size_t>(length));
  return out;
}

Result<ClusterMessage, ClusterError> open_cluster(const ClusterKey& key, std::span<const std::uint8_t> bytes) {
  if (bytes.size() < kClusterHeaderSize + kClusterTagSize) return Fail{ClusterError::TooShort};
  if (bytes[0] != kClusterMagic0 || bytes[1] != kClusterMagic1) return Fail{ClusterError::BadMagic};
  if (bytes[2] != kClusterVersion) return Fail{ClusterError::UnsupportedVersion};
  if (bytes[3] < static_cast<std::uint8_t>(ClusterType::Hello) || bytes[3] > static_cast<std::uint8_t>(ClusterType::ResumeMatched))
    return Fail{ClusterError::UnknownType};
  ClusterHeader h;
  h.type = static_cast<ClusterType>(bytes[3]);
  h.sender = load_be64(bytes.data() + 4);
  h.destination = load_be64(bytes.data() + 12);
  h.sequence = load_be64(bytes.data() + 20);
  if (h.sender == 0 || h.sequence == 0) return Fail{ClusterError::ZeroId};
  const auto nonce = nonce_of(h.sender, h.sequence);
  const std::size_t sealed = bytes.size() - kClusterHeaderSize;
  std::vector<std::uint8_t> plain(std::max<std::size_t>(1, sealed - kClusterTagSize));
  unsigned long long length = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain.data(), &length, nullptr, bytes.data() + kClusterHeaderSize,
                                                 sealed, bytes.data(), kClusterHeaderSize, nonce.data(),
                                                 key.data()) != 0)
    return Fail{ClusterError::BadTag};
  plain.resize(static_cast<std::size_t>(length));
  auto body = decode_cluster_body(h.type, plain);
  if (!body) return Fail{body.error()};
  return ClusterMessage{h, std::move(body.value())};
}

}  // namespace natpunch::rendezvous
