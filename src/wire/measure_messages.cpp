#include "wire/measure_messages.hpp"

#include <algorithm>

#include "core/bytes.hpp"

namespace natpunch::wire {

namespace {

constexpr std::uint8_t kMagic0 = 'N';
constexpr std::uint8_t kMagic1 = 'M';

void put_header(std::uint8_t* out, MeasureKind kind, std::uint32_t id) {
  out[0] = kMagic0;
  out[1] = kMagic1;
  out[2] = kMeasureVersion;
  out[3] = static_cast<std::uint8_t>(kind);
  store_be32(out + 4, id);
}

bool all_zero(std::span<const std::uint8_t> bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b == 0; });
}

bool known_kind(std::uint8_t k) {
  switch (static_cast<MeasureKind>(k)) {
    case MeasureKind::Reflect:
    case MeasureKind::DelayedReflect:
    case MeasureKind::ScheduleProbe:
    case MeasureKind::SizeEcho:
    case MeasureKind::Collect:
    case MeasureKind::Cookie:
    case MeasureKind::Reflection:
    case MeasureKind::SizeReport:
    case MeasureKind::CookieGrant:
    case MeasureKind::Refusal: return true;
  }
  return false;
}

bool scheduled_type(std::uint8_t k) {
  return k == static_cast<std::uint8_t>(MeasureKind::DelayedReflect) ||
         k == static_cast<std::uint8_t>(MeasureKind::ScheduleProbe);
}

bool reflect_type(std::uint8_t k) {
  return k == static_cast<std::uint8_t>(MeasureKind::Reflect) ||
         k == static_cast<std::uint8_t>(MeasureKind::DelayedReflect) ||
         k == static_cast<std::uint8_t>(MeasureKind::ScheduleProbe);
}

}  // namespace

std::string_view to_string(MeasureKind kind) {
  switch (kind) {
    case MeasureKind::Reflect: return "reflect";
    case MeasureKind::DelayedReflect: return "delayed reflect";
    case MeasureKind::ScheduleProbe: return "schedule probe";
    case MeasureKind::SizeEcho: return "size echo";
    case MeasureKind::Collect: return "collect";
    case MeasureKind::Cookie: return "cookie";
    case MeasureKind::Reflection: return "reflection";
    case MeasureKind::SizeReport: return "size report";
    case MeasureKind::CookieGrant: return "cookie grant";
    case MeasureKind::Refusal: return "refusal";
  }
  return "unknown";
}

std::string_view to_string(RefusalReason reason) {
  switch (reason) {
    case RefusalReason::NeedCookie: return "no valid cookie";
    case RefusalReason::QueueShareFull: return "the address's share of the queue is full";
    case RefusalReason::DelayTooLong: return "delay above the server's maximum";
    case RefusalReason::TooManyAtOnce: return "too many deliveries to this address at that time";
  }
  return "unknown";
}

std::string_view to_string(MeasureDecodeError error) {
  switch (error) {
    case MeasureDecodeError::TooShort: return "shorter than the 8-byte header";
    case MeasureDecodeError::BadMagic: return "bad magic";
    case MeasureDecodeError::BadVersion: return "unsupported version";
    case MeasureDecodeError::UnknownKind: return "unknown kind";
    case MeasureDecodeError::BadLength: return "wrong length for its kind";
    case MeasureDecodeError::NonZeroReserved: return "reserved bytes not zero";
    case MeasureDecodeError::DelayOutOfRange: return "delay out of range";
    case MeasureDecodeError::UnknownFlags: return "unknown flags";
    case MeasureDecodeError::BadFamily: return "bad address family";
    case MeasureDecodeError::BadAnsweredKind: return "reflection answers no reflect request";
    case MeasureDecodeError::BadRefusal: return "refusal of an unrefusable kind or for an unknown reason";
  }
  return "unknown";
}

Result<MeasureMessage, MeasureDecodeError> decode_measure(std::span<const std::uint8_t> bytes) {
  using E = MeasureDecodeError;
  if (bytes.size() < kMeasureHeaderSize) return Unexpected{E::TooShort};
  if (bytes[0] != kMagic0 || bytes[1] != kMagic1) return Unexpected{E::BadMagic};
  if (bytes[2] != kMeasureVersion) return Unexpected{E::BadVersion};
  if (!known_kind(bytes[3])) return Unexpected{E::UnknownKind};
  const auto kind = static_cast<MeasureKind>(bytes[3]);
  const std::uint32_t id = load_be32(bytes.data() + 4);
  const std::uint8_t* p = bytes.data();

  if (kind == MeasureKind::SizeEcho) {
    if (bytes.size() < kRequestSize || bytes.size() > kMaxDatagram) return Unexpected{E::BadLength};
    return MeasureMessage{SizeEchoRequest{id, bytes.size()}};
  }
  const std::size_t expected = kind == MeasureKind::Reflection    ? kReflectionSize
                               : kind == MeasureKind::SizeReport  ? kSizeReportSize
                               : kind == MeasureKind::CookieGrant ? kCookieGrantSize
                               : kind == MeasureKind::Refusal     ? kRefusalSize
                                                                  : kRequestSize;
  if (bytes.size() != expected) return Unexpected{E::BadLength};

  switch (kind) {
    case MeasureKind::Reflect:
      if (!all_zero(bytes.subspan(8))) return Unexpected{E::NonZeroReserved};
      return MeasureMessage{ReflectRequest{id}};
    case MeasureKind::Cookie:
      if (!all_zero(bytes.subspan(8))) return Unexpected{E::NonZeroReserved};
      return MeasureMessage{CookieRequest{id}};
    case MeasureKind::DelayedReflect: {
      if (!all_zero(bytes.subspan(12, 4))) return Unexpected{E::NonZeroReserved};
      const std::uint32_t delay = load_be32(p + 8);
      if (delay > kMaxDelayMs) return Unexpected{E::DelayOutOfRange};
      DelayedReflectRequest r{id, delay, {}};
      std::copy_n(p + 16, kMeasureCookieSize, r.cookie.begin());
      return MeasureMessage{r};
    }
    case MeasureKind::ScheduleProbe: {
      if (!all_zero(bytes.subspan(13, 3))) return Unexpected{E::NonZeroReserved};
      const std::uint32_t delay = load_be32(p + 8);
      if (delay > kMaxDelayMs) return Unexpected{E::DelayOutOfRange};
      if ((p[12] & ~1u) != 0) return Unexpected{E::UnknownFlags};
      ScheduleProbeRequest r{id, delay, (p[12] & 1u) != 0, {}};
      std::copy_n(p + 16, kMeasureCookieSize, r.cookie.begin());
      return MeasureMessage{r};
    }
    case MeasureKind::CookieGrant: {
      if (!all_zero(bytes.subspan(28))) return Unexpected{E::NonZeroReserved};
      CookieGrant g;
      g.id = id;
      std::copy_n(p + 8, kMeasureCookieSize, g.cookie.begin());
      g.valid_s = load_be32(p + 24);
      return MeasureMessage{g};
    }
    case MeasureKind::Refusal: {
      if (load_be16(p + 10) != 0) return Unexpected{E::NonZeroReserved};
      if (!scheduled_type(p[8]) || p[9] == 0 || p[9] > kMaxRefusalReason) return Unexpected{E::BadRefusal};
      return MeasureMessage{Refusal{id, static_cast<MeasureKind>(p[8]), static_cast<RefusalReason>(p[9])}};
    }
    case MeasureKind::Collect: {
      CollectPacket c;
      c.id = id;
      std::copy_n(p + 8, 16, c.uuid.begin());
      c.send_time_ms = load_be64(p + 24);
      return MeasureMessage{c};
    }
    case MeasureKind::Reflection: {
      if (!reflect_type(p[8])) return Unexpected{E::BadAnsweredKind};
      if (load_be16(p + 14) != 0) return Unexpected{E::NonZeroReserved};
      Reflection r;
      r.id = id;
      r.answered = static_cast<MeasureKind>(p[8]);
      r.observed.port = load_be16(p + 10);
      r.received_on_port = load_be16(p + 12);
      if (p[9] == 4) {
        if (!all_zero(bytes.subspan(20))) return Unexpected{E::NonZeroReserved};
        r.observed.address = IpAddress::v4({p[16], p[17], p[18], p[19]});
      } else if (p[9] == 6) {
        std::array<std::uint8_t, 16> a{};
        std::copy_n(p + 16, 16, a.begin());
        r.observed.address = IpAddress::v6(a);
      } else {
        return Unexpected{E::BadFamily};
      }
      return MeasureMessage{r};
    }
    case MeasureKind::SizeReport: return MeasureMessage{SizeReport{id, load_be32(p + 8)}};
    case MeasureKind::SizeEcho: break;  // handled above
  }
  return Unexpected{E::UnknownKind};
}

RequestBytes encode(const ReflectRequest& m) {
  RequestBytes out{};
  put_header(out.data(), MeasureKind::Reflect, m.id);
  return out;
}

RequestBytes encode(const CookieRequest& m) {
  RequestBytes out{};
  put_header(out.data(), MeasureKind::Cookie, m.id);
  return out;
}

RequestBytes encode(const DelayedReflectRequest& m) {
  RequestBytes out{};
  put_header(out.data(), MeasureKind::DelayedReflect, m.id);
  store_be32(out.data() + 8, std::min(m.delay_ms, kMaxDelayMs));
  std::copy(m.cookie.begin(), m.cookie.end(), out.begin() + 16);
  return out;
}

RequestBytes encode(const ScheduleProbeRequest& m) {
  RequestBytes out{};
  put_header(out.data(), MeasureKind::ScheduleProbe, m.id);
  store_be32(out.data() + 8, std::min(m.delay_ms, kMaxDelayMs));
  out[12] = m.from_other_port ? 1 : 0;
  std::copy(m.cookie.begin(), m.cookie.end(), out.begin() + 16);
  return out;
}

RequestBytes encode(const CollectPacket& m) {
  RequestBytes out{};
  put_header(out.data(), MeasureKind::Collect, m.id);
  std::copy(m.uuid.begin(), m.uuid.end(), out.begin() + 8);
  store_be64(out.data() + 24, m.send_time_ms);
  return out;
}

std::vector<std::uint8_t> encode(const SizeEchoRequest& m) {
  std::vector<std::uint8_t> out(std::clamp(m.length, kRequestSize, kMaxDatagram), 0);
  put_header(out.data(), MeasureKind::SizeEcho, m.id);
  return out;
}

std::array<std::uint8_t, kReflectionSize> encode(const Reflection& m) {
  std::array<std::uint8_t, kReflectionSize> out{};
  put_header(out.data(), MeasureKind::Reflection, m.id);
  out[8] = static_cast<std::uint8_t>(m.answered);
  out[9] = m.observed.address.is_v4() ? 4 : 6;
  store_be16(out.data() + 10, m.observed.port);
  store_be16(out.data() + 12, m.received_on_port);
  std::copy_n(m.observed.address.data(), m.observed.address.size(), out.begin() + 16);
  return out;
}

std::array<std::uint8_t, kSizeReportSize> encode(const SizeReport& m) {
  std::array<std::uint8_t, kSizeReportSize> out{};
  put_header(out.data(), MeasureKind::SizeReport, m.id);
  store_be32(out.data() + 8, m.received);
  return out;
}

std::array<std::uint8_t, kCookieGrantSize> encode(const CookieGrant& m) {
  std::array<std::uint8_t, kCookieGrantSize> out{};
  put_header(out.data(), MeasureKind::CookieGrant, m.id);
  std::copy(m.cookie.begin(), m.cookie.end(), out.begin() + 8);
  store_be32(out.data() + 24, m.valid_s);
  return out;
}

std::array<std::uint8_t, kRefusalSize> encode(const Refusal& m) {
  std::array<std::uint8_t, kRefusalSize> out{};
  put_header(out.data(), MeasureKind::Refusal, m.id);
  out[8] = static_cast<std::uint8_t>(m.refused);
  out[9] = static_cast<std::uint8_t>(m.reason);
  return out;
}

std::string uuid_text(const Uuid& uuid) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(36);
  for (std::size_t i = 0; i < uuid.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s.push_back('-');
    s.push_back(kHex[uuid[i] >> 4]);
    s.push_back(kHex[uuid[i] & 0xf]);
  }
  return s;
}

}  // namespace natpunch::wire
