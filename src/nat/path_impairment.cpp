#include "nat/path_impairment.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <random>
#include <sstream>

namespace natpunch::nat {

namespace {

std::optional<double> parse_number(std::string_view text) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty() || !std::isfinite(value))
    return std::nullopt;
  return value;
}

std::optional<Duration> parse_duration(std::string_view text) {
  double scale = 0;
  if (text.ends_with("us")) {
    scale = 1e-6;
    text.remove_suffix(2);
  } else if (text.ends_with("ms")) {
    scale = 1e-3;
    text.remove_suffix(2);
  } else if (text.ends_with("s")) {
    scale = 1;
    text.remove_suffix(1);
  } else {
    return std::nullopt;
  }
  auto value = parse_number(text);
  if (!value || *value < 0 || *value * scale > 3600) return std::nullopt;
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(*value * scale));
}

std::optional<double> parse_probability(std::string_view text) {
  double scale = 1;
  if (text.ends_with("%")) {
    scale = 0.01;
    text.remove_suffix(1);
  }
  auto value = parse_number(text);
  if (!value) return std::nullopt;
  const double p = *value * scale;
  if (p < 0 || p > 1) return std::nullopt;
  return p;
}

std::string format_duration(Duration d) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  if (us % 1000 != 0) return std::to_string(us) + "us";
  if (us % 1000000 != 0) return std::to_string(us / 1000) + "ms";
  return std::to_string(us / 1000000) + "s";
}

}  // namespace

Result<ImpairmentConfig, std::string> parse_impairment(std::string_view text) {
  ImpairmentConfig config;
  if (text.empty()) return Unexpected{std::string("empty impairment: give e.g. delay=50ms,jitter=10ms,loss=0.05")};
  std::vector<std::string_view> seen;
  while (!text.empty()) {
    const auto comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    if (comma != std::string_view::npos && text.empty())
      return Unexpected{std::string("trailing comma in impairment")};
    const auto equals = item.find('=');
    if (equals == std::string_view::npos)
      return Unexpected{"'" + std::string(item) + "' is not KEY=VALUE (keys: delay, jitter, loss, duplicate, reorder)"};
    const std::string_view key = item.substr(0, equals);
    const std::string_view value = item.substr(equals + 1);
    if (std::find(seen.begin(), seen.end(), key) != seen.end())
      return Unexpected{"'" + std::string(key) + "' given twice"};
    seen.push_back(key);
    if (key == "delay" || key == "jitter") {
      auto d = parse_duration(value);
      if (!d)
        return Unexpected{std::string(key) + "='" + std::string(value) +
                          "' is not a duration like 50ms, 250us or 1.5s (0 to 3600 s)"};
      (key == "delay" ? config.delay : config.jitter) = *d;
    } else if (key == "loss" || key == "duplicate" || key == "reorder") {
      auto p = parse_probability(value);
      if (!p)
        return Unexpected{std::string(key) + "='" + std::string(value) +
                          "' is not a probability between 0 and 1 (or a percentage like 5%)"};
      (key == "loss" ? config.loss : key == "duplicate" ? config.duplicate : config.reorder) = *p;
    } else {
      return Unexpected{"unknown impairment '" + std::string(key) +
                        "' (keys: delay, jitter, loss, duplicate, reorder)"};
    }
  }
  if (config.jitter > config.delay)
    return Unexpected{std::string("jitter must not exceed delay (a packet cannot leave before it arrived)")};
  if (config.reorder > 0 && config.delay.count() == 0)
    return Unexpected{std::string("reorder needs a delay: a reordered packet skips the delay to overtake others")};
  return config;
}

std::string to_string(const ImpairmentConfig& c) {
  std::ostringstream out;
  const char* separator = "";
  const auto item = [&](const char* key, const std::string& value) {
    out << separator << key << '=' << value;
    separator = ",";
  };
  if (c.delay.count() > 0) item("delay", format_duration(c.delay));
  if (c.jitter.count() > 0) item("jitter", format_duration(c.jitter));
  const auto number = [](double v) {
    std::ostringstream s;
    s << v;
    return s.str();
  };
  if (c.loss > 0) item("loss", number(c.loss));
  if (c.duplicate > 0) item("duplicate", number(c.duplicate));
  if (c.reorder > 0) item("reorder", number(c.reorder));
  if (separator[0] == '\0') out << "none";
  return out.str();
}

bool PathImpairment::chance(double probability) {
  if (probability <= 0) return false;
  return std::uniform_real_distribution<double>(0, 1)(rng_.engine()) < probability;
}

void PathImpairment::push(TimePoint now, std::span<const std::uint8_t> packet) {
  ++counters_.offered;
  if (chance(config_.loss)) {
    ++counters_.lost;
    return;
  }
  enqueue(now, packet);
  if (chance(config_.duplicate)) {
    ++counters_.duplicated;
    enqueue(now, packet);
  }
}

void PathImpairment::enqueue(TimePoint now, std::span<const std::uint8_t> packet) {
  if (queued_bytes_ + packet.size() > config_.queue_limit_bytes) {
    ++counters_.overflowed;
    return;
  }
  TimePoint departure = now;
  if (chance(config_.reorder)) {
    ++counters_.reordered;
  } else {
    Duration delay = config_.delay;
    if (config_.jitter.count() > 0)
      delay += Duration{std::uniform_int_distribution<Duration::rep>(-config_.jitter.count(),
                                                                     config_.jitter.count())(rng_.engine())};
    departure = std::max(now + std::max(delay, Duration{0}), last_in_order_departure_);
    last_in_order_departure_ = departure;
  }
  std::uint32_t slot;
  if (!free_buffers_.empty()) {
    slot = free_buffers_.back();
    free_buffers_.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(buffers_.size());
    buffers_.emplace_back();
  }
  buffers_[slot].assign(packet.begin(), packet.end());
  queued_bytes_ += packet.size();
  queue_.push(Queued{departure, next_sequence_++, slot});
}

void PathImpairment::pop_due(TimePoint now, const PacketEmitter& emit) {
  while (!queue_.empty() && queue_.top().departure <= now) {
    const Queued q = queue_.top();
    queue_.pop();
    auto& buffer = buffers_[q.buffer];
    queued_bytes_ -= buffer.size();
    ++counters_.delivered;
    emit(buffer);
    free_buffers_.push_back(q.buffer);
  }
}

std::optional<TimePoint> PathImpairment::next_deadline() const {
  if (queue_.empty()) return std::nullopt;
  return queue_.top().departure;
}

}  // namespace natpunch::nat
