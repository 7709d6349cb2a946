#include "punch/naive_birthday.hpp"

#include <algorithm>

#include "punch/port_chooser_uniform.hpp"

namespace natpunch::punch {
namespace {

NaiveBirthdayConfig normalised(NaiveBirthdayConfig c) {
  if (c.min_port > c.max_port) std::swap(c.min_port, c.max_port);
  if (c.local_port_min > c.local_port_max) std::swap(c.local_port_min, c.local_port_max);
  return c;
}

ProbingConfig probing_config(const NaiveBirthdayConfig& c) {
  ProbingConfig p;
  p.peer_address = c.peer_address;
  p.session_id = c.session_id;
  p.key = c.key;
  p.role = c.role;
  p.probe_budget = c.probe_budget;
  p.send_interval = c.send_interval;
  p.linger = c.linger;
  p.sockets = c.local_ports == LocalPortPolicy::Fixed ? 1U : std::uint32_t{c.local_port_max} - c.local_port_min + 1;
  return p;
}

}  // namespace

NaiveBirthday::NaiveBirthday(const NaiveBirthdayConfig& config, Rng& rng, TimePoint start)
    : ProbingMachine(probing_config(normalised(config)),
                     std::make_unique<UniformPortChooser>(normalised(config).min_port, normalised(config).max_port,
                                                          Repeats::Allowed),
                     rng, start),
      naive_(normalised(config)) {}

std::uint16_t NaiveBirthday::local_port(std::uint32_t socket) const {
  if (naive_.local_ports == LocalPortPolicy::Fixed) return naive_.local_port;
  return static_cast<std::uint16_t>(naive_.local_port_min + socket);
}

std::optional<std::uint32_t> NaiveBirthday::socket_of(std::uint16_t port) const {
  if (naive_.local_ports == LocalPortPolicy::Fixed)
    return port == naive_.local_port ? std::optional<std::uint32_t>(0) : std::nullopt;
  if (port < naive_.local_port_min || port > naive_.local_port_max) return std::nullopt;
  return std::uint32_t{port} - naive_.local_port_min;
}

}  // namespace natpunch::punch
