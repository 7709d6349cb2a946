#include "analyze/synthetic_log.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <deque>
#include <memory>
#include <numeric>
#include <unordered_map>
#include <variant>
#include <vector>

#include "core/rng.hpp"

namespace natpunch::analyze {

namespace {

// A block allocator that hands out each held block's ports in a random
// order. It runs the NAT model's BlockAllocator underneath, so which block
// a subscriber gets, when it lets go and which blocks are free stay the
// model's; only the order inside a hold is shuffled. (A candidate for a
// BlockSpec option in src/nat once profiles carry the order.)
class RandomOrderBlocks final : public nat::PortAllocator {
 public:
  explicit RandomOrderBlocks(const nat::BlockSpec& spec)
      : inner_(nat::make_allocator(spec)), block_size_(spec.block_size), original_(65536, 0) {}

  std::optional<std::uint16_t> allocate(TimePoint now, const nat::PortRequest& request, Rng& rng) override {
    const auto port = inner_->allocate(now, request, rng);
    if (!port) return port;
    const std::uint32_t offset = *port % block_size_;
    const std::uint32_t base = *port - offset;
    auto& order = order_[base];
    if (offset == 0) {  // a new hold of this block: a new order
      order.resize(block_size_);
      std::iota(order.begin(), order.end(), std::uint32_t{0});
      std::shuffle(order.begin(), order.end(), rng.engine());
    }
    const auto shuffled = static_cast<std::uint16_t>(base + order[offset]);
    original_[shuffled] = *port;
    return shuffled;
  }

  void release(TimePoint now, std::uint16_t port) override { inner_->release(now, original_[port]); }
  bool in_use(std::uint16_t port) const override { return inner_->in_use(original_[port]); }

 private:
  std::unique_ptr<nat::PortAllocator> inner_;
  std::uint32_t block_size_;
  std::unordered_map<std::uint32_t, std::vector<std::uint32_t>> order_;  // by block base port
  std::vector<std::uint16_t> original_;  // handed-out port -> the inner allocator's port
};

std::unique_ptr<nat::PortAllocator> make(const nat::AllocatorSpec& spec, BlockOrder order) {
  if (const auto* block = std::get_if<nat::BlockSpec>(&spec); block && order == BlockOrder::Random)
    return std::make_unique<RandomOrderBlocks>(*block);
  return nat::make_allocator(spec);
}

void append_id(std::string& out, const SyntheticLogOptions& o, std::size_t row, Rng& rng) {
  char id[48];
  if (o.uuid_ids) {
    const auto a = rng.next_u64(), b = rng.next_u64();
    std::snprintf(id, sizeof id, "%08llx-%04llx-4%03llx-a%03llx-%012llx", (unsigned long long)(a >> 32),
                  (unsigned long long)(a >> 16 & 0xffff), (unsigned long long)(a & 0xfff),
                  (unsigned long long)(b >> 48 & 0xfff), (unsigned long long)(b & 0xffffffffffffULL));
  } else {
    std::snprintf(id, sizeof id, "id-%llu-%zu", static_cast<unsigned long long>(o.seed), row);
  }
  out += id;
}

}  // namespace

SyntheticLogs make_synthetic_logs(const nat::AllocatorSpec& spec, const SyntheticLogOptions& o) {
  Rng rng(o.seed);
  auto allocator = make(spec, o.block_order);
  std::deque<std::uint16_t> live;
  SyntheticLogs logs;
  const bool thesis = o.dialect == SyntheticDialect::Thesis;
  // ~60 bytes a row on each side: one reservation instead of regrowth.
  logs.client.reserve(o.rows * 64 + 64);
  logs.server.reserve(o.rows * 64 + 64);
  logs.client = thesis ? "Message id, Time, Sender Port, Receiver Port, Success\n" : "uuid,time_ms,local_port,server_port\n";
  logs.server = thesis ? "Message id, Time, Sender Port, Receiver Port\n" : "uuid,time_ms,observed_port,server_port\n";
  const char* sep = thesis ? ", " : ",";
  const double server_clock_offset_ms = 3'600'000.0 + 123.0;  // the clocks are not synchronised
  double t = 0;
  double interval_ms = 15.0;
  char numbers[96];
  for (std::size_t i = 0; i < o.rows; ++i) {
    if (o.session_rows > 0 && i > 0 && i % o.session_rows == 0) {
      // The run stops; by the next one every mapping has timed out.
      const auto now = kTimeZero + milliseconds(static_cast<std::int64_t>(t));
      for (auto port : live) allocator->release(now, port);
      live.clear();
      t += o.session_pause_ms;
      interval_ms += o.session_interval_step_ms;
    }
    const auto local = static_cast<std::uint16_t>(rng.uniform(1024, 65535));
    const auto server_port = static_cast<unsigned>(rng.uniform(2000, 2999));
    if (i > 0) t += interval_ms;
    const auto now = kTimeZero + milliseconds(static_cast<std::int64_t>(t));
    const auto mapped = allocator->allocate(now, nat::PortRequest{0, local}, rng);
    if (!mapped) continue;
    live.push_back(*mapped);
    if (o.live_mappings > 0 && live.size() > o.live_mappings) {
      allocator->release(now, live.front());
      live.pop_front();
    }
    const std::size_t client_start = logs.client.size();
    append_id(logs.client, o, i, rng);
    const std::string_view id(logs.client.data() + client_start, logs.client.size() - client_start);
    logs.server.append(id);
    std::snprintf(numbers, sizeof numbers, "%s%.0f%s%u%s%u%s\n", sep, t, sep, unsigned{local}, sep, server_port,
                  thesis ? ", True" : "");
    logs.client += numbers;
    std::snprintf(numbers, sizeof numbers, "%s%.0f%s%u%s%u\n", sep, t + server_clock_offset_ms + 40, sep,
                  unsigned{*mapped}, sep, server_port);
    logs.server += numbers;
    ++logs.rows;
  }
  return logs;
}

}  // namespace natpunch::analyze
