#include "learn/averaging_peer.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace natpunch::learn {

namespace {
// A neighbour may run ahead by a round (it finished while we waited on a
// lost chunk); anything further ahead is not kept, which bounds memory.
constexpr std::uint32_t kRoundsKeptAhead = 2;
// READY: "I am waiting"; GO: "I have started" (never answered, so two
// started peers cannot bounce barrier datagrams between them).
constexpr std::array<std::uint8_t, 8> kReady{'N', 'P', 'L', 'R', 'N', 'R', 'D', 'Y'};
constexpr std::array<std::uint8_t, 8> kGo{'N', 'P', 'L', 'R', 'N', 'G', 'O', '!'};
}  // namespace

bool is_ready_datagram(std::span<const std::uint8_t> bytes) { return std::ranges::equal(bytes, kReady); }

bool is_barrier_datagram(std::span<const std::uint8_t> bytes) {
  return is_ready_datagram(bytes) || std::ranges::equal(bytes, kGo);
}

AveragingPeer::AveragingPeer(AveragingConfig config, std::vector<Neighbour> neighbours, Dataset local, Model initial, Rng rng,
                             TimePoint start, const Dataset* evaluation, StartBarrier barrier)
    : config_(config),
      local_(std::move(local)),
      model_(std::move(initial)),
      rng_(std::move(rng)),
      evaluation_(evaluation),
      start_at_(start),
      barrier_(std::move(barrier)),
      silent_(barrier_.wait_for.begin(), barrier_.wait_for.end()) {
  for (const auto& n : neighbours) neighbours_.push_back(NeighbourState{n, 0, {}});
}

void AveragingPeer::send(std::size_t peer, std::vector<std::uint8_t> bytes) {
  const NeighbourState* n = neighbour(peer);
  outbox_.push_back(Transmit{static_cast<SocketId>(peer), n != nullptr ? n->link.endpoint : Endpoint{}, std::move(bytes)});
}

void AveragingPeer::start_rounds(TimePoint now) {
  events_.push_back(learn_event::Started{{silent_.begin(), silent_.end()}});
  if (config_.rounds == 0) {
    done_ = true;
    events_.push_back(learn_event::Finished{});
    return;
  }
  round_ = 1;
  run_rounds(now);
}

void AveragingPeer::pass_barrier(TimePoint now) {
  waiting_ = false;
  // Once more, so a neighbour that heard nothing from us yet can start too.
  for (auto p : barrier_.wait_for) send(p, {kGo.begin(), kGo.end()});
  start_rounds(now);
  for (auto& e : std::exchange(early_, {}))
    if (NeighbourState* n = neighbour(e.socket); n != nullptr && !done_) on_chunk(now, *n, e.bytes);
}

void AveragingPeer::on_barrier_datagram(SocketId socket, std::span<const std::uint8_t> bytes) {
  if (silent_.erase(socket) > 0 && waiting_)
    events_.push_back(learn_event::Waiting{barrier_.wait_for.size() - silent_.size(), barrier_.wait_for.size()});
  if (!is_barrier_datagram(bytes) && early_.size() < 4096) early_.push_back(Early{socket, {bytes.begin(), bytes.end()}});
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
      send(n.link.peer, std::move(bytes));
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

void AveragingPeer::on_datagram(TimePoint now, SocketId socket, const Endpoint&, std::span<const std::uint8_t> bytes) {
  if (done_) return;
  if (!started()) {
    on_barrier_datagram(socket, bytes);
    if (waiting_ && silent_.empty()) pass_barrier(now);
    return;
  }
  if (is_barrier_datagram(bytes)) {
    if (is_ready_datagram(bytes) && neighbour(socket) != nullptr) send(socket, {kGo.begin(), kGo.end()});  // a late starter
    return;
  }
  NeighbourState* n = neighbour(socket);
  if (n == nullptr) {
    ++counters_.rejected;
    return;
  }
  on_chunk(now, *n, bytes);
}

void AveragingPeer::on_chunk(TimePoint now, NeighbourState& n, std::span<const std::uint8_t> bytes) {
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
  n.silent_rounds = 0;
  auto [it, inserted] = n.models.try_emplace(chunk->round, config_.job, chunk->round, config_.shape);
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
  if (!started() && !waiting_) {
    if (barrier_.wait_for.empty()) {
      start_rounds(now);
      return;
    }
    waiting_ = true;
    give_up_at_ = now + barrier_.give_up_after;
    next_ready_ = now;
    if (silent_.empty()) {  // everyone was heard before we were due to start
      pass_barrier(now);
      return;
    }
  }
  if (waiting_) {
    if (now >= give_up_at_) {
      pass_barrier(now);
    } else if (now >= next_ready_) {
      for (auto p : barrier_.wait_for) send(p, {kReady.begin(), kReady.end()});
      next_ready_ = now + barrier_.ready_interval;
    }
    return;
  }
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
  events_.push_back(learn_event::RoundFinished{record});

  deadline_.reset();
  ++round_;
  if (round_ > config_.rounds) {
    done_ = true;
    events_.push_back(learn_event::Finished{});
  }
}

std::optional<Transmit> AveragingPeer::poll_transmit(TimePoint) {
  if (outbox_.empty()) return std::nullopt;
  Transmit out = std::move(outbox_.front());
  outbox_.pop_front();
  return out;
}

std::optional<LearnEvent> AveragingPeer::poll_event() {
  if (events_.empty()) return std::nullopt;
  LearnEvent out = std::move(events_.front());
  events_.pop_front();
  return out;
}

std::optional<TimePoint> AveragingPeer::next_deadline() const {
  if (done_) return std::nullopt;
  if (waiting_) return std::min(next_ready_, give_up_at_);
  if (!started()) return start_at_;
  if (!deadline_) return std::nullopt;
  if (everyone_expected_started()) return std::min(*deadline_, last_chunk_at_ + config_.chunk_linger);
  return deadline_;
}

}  // namespace natpunch::learn
