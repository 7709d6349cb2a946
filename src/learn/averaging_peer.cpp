#include "learn/averaging_peer.hpp"

#include <algorithm>

namespace natpunch::learn {

namespace {
// A neighbour may run ahead by a round (it finished while we waited on a
// lost chunk); anything further ahead is not kept, which bounds memory.
constexpr std::uint32_t kRoundsKeptAhead = 2;
}  // namespace

AveragingPeer::AveragingPeer(AveragingConfig config, std::vector<Neighbour> neighbours, Dataset local, Model initial, Rng rng,
                             const Dataset* evaluation)
    : config_(config), local_(std::move(local)), model_(std::move(initial)), rng_(std::move(rng)), evaluation_(evaluation) {
  for (const auto& n : neighbours) neighbours_.push_back(NeighbourState{n, 0, {}});
}

void AveragingPeer::start(TimePoint now) {
  if (round_ != 0) return;
  if (config_.rounds == 0) {
    done_ = true;
    return;
  }
  round_ = 1;
  run_rounds(now);
}

void AveragingPeer::run_rounds(TimePoint now) {
  // A loop, not recursion: models of the next round may all be here already.
  while (!done_) {
    begin_round(now);
    if (!everyone_expected_arrived()) return;
    finish_round(now, false);
  }
}

AveragingPeer::NeighbourState* AveragingPeer::neighbour(std::size_t peer) {
  for (auto& n : neighbours_)
    if (n.link.peer == peer) return &n;
  return nullptr;
}

void AveragingPeer::begin_round(TimePoint now) {
  train_epochs(model_, local_, config_.local_epochs, config_.sgd, rng_);
  const ChunkHeader header{config_.job, round_, static_cast<std::uint32_t>(local_.size()), config_.encoding};
  for (const auto& n : neighbours_) {
    for (const auto& chunk : split_model(model_.parameters(), config_.shape, header, n.link.max_datagram)) {
      auto bytes = encode(chunk);
      counters_.bytes_sent += bytes.size();
      ++counters_.datagrams_sent;
      outbox_.push_back(LearnDatagram{n.link.peer, std::move(bytes)});
    }
  }
  deadline_ = now + config_.round_timeout;
  last_chunk_at_ = now;
}

bool AveragingPeer::everyone_expected_arrived() const {
  std::size_t expected = 0;
  for (const auto& n : neighbours_) {
    if (n.silent_rounds >= config_.presume_gone_after) continue;
    ++expected;
    auto it = n.models.find(round_);
    if (it == n.models.end() || !it->second.complete()) return false;
  }
  // With every neighbour presumed gone, rounds still take the timeout: no
  // point racing through them alone, and it gives the others time to return.
  return expected > 0 || neighbours_.empty();
}

bool AveragingPeer::everyone_expected_started() const {
  std::size_t expected = 0;
  for (const auto& n : neighbours_) {
    if (n.silent_rounds >= config_.presume_gone_after) continue;
    ++expected;
    auto it = n.models.find(round_);
    if (it == n.models.end() || it->second.empty()) return false;
  }
  return expected > 0;
}

void AveragingPeer::on_datagram(TimePoint now, std::size_t from, std::span<const std::uint8_t> bytes) {
  if (done_ || round_ == 0) return;
  NeighbourState* n = neighbour(from);
  if (n == nullptr) {
    ++counters_.rejected;
    return;
  }
  ++counters_.datagrams_received;
  auto chunk = decode_model_chunk(bytes);
  if (!chunk || chunk->job != config_.job || !(chunk->shape == config_.shape)) {
    ++counters_.rejected;
    return;
  }
  if (chunk->round < round_) {
    ++counters_.stale;
    return;
  }
  if (chunk->round > round_ + kRoundsKeptAhead) {
    ++counters_.rejected;
    return;
  }
  // Anything from a presumed-gone neighbour makes it expected again.
  n->silent_rounds = 0;
  auto [it, inserted] = n->models.try_emplace(chunk->round, config_.job, chunk->round, config_.shape);
  if (it->second.add(*chunk) != ChunkVerdict::Accepted) {
    ++counters_.rejected;
    return;
  }
  if (chunk->round == round_) last_chunk_at_ = now;
  if (chunk->round == round_ && everyone_expected_arrived()) {
    finish_round(now, false);
    run_rounds(now);
  }
}

void AveragingPeer::on_timer(TimePoint now) {
  const auto due = next_deadline();
  if (!due || now < *due) return;
  finish_round(now, now >= *deadline_);
  run_rounds(now);
}

void AveragingPeer::finish_round(TimePoint now, bool timed_out) {
  RoundRecord record;
  record.round = round_;
  record.finished = now;
  record.timed_out = timed_out;
  std::vector<const ReceivedModel*> arrived;
  for (auto& n : neighbours_) {
    auto it = n.models.find(round_);
    if (it == n.models.end() || it->second.empty()) {
      ++record.neighbours_silent;
      ++n.silent_rounds;
      continue;
    }
    n.silent_rounds = 0;
    record.chunks_received += it->second.chunks_received();
    if (it->second.complete()) ++record.neighbours_complete;
    else ++record.neighbours_partial;
    arrived.push_back(&it->second);
  }
  model_.parameters() = weighted_merge(model_.parameters(), static_cast<double>(local_.size()), arrived);
  for (auto& n : neighbours_) n.models.erase(n.models.begin(), n.models.upper_bound(round_));
  if (evaluation_ != nullptr) record.accuracy = model_.accuracy(*evaluation_);
  record.bytes_sent = counters_.bytes_sent;
  history_.push_back(record);

  deadline_.reset();
  ++round_;
  if (round_ > config_.rounds) done_ = true;
}

std::vector<LearnDatagram> AveragingPeer::poll_transmit() {
  std::vector<LearnDatagram> out;
  out.swap(outbox_);
  return out;
}

std::optional<TimePoint> AveragingPeer::next_deadline() const {
  if (done_ || !deadline_) return std::nullopt;
  if (everyone_expected_started()) return std::min(*deadline_, last_chunk_at_ + config_.chunk_linger);
  return deadline_;
}

}  // namespace natpunch::learn
