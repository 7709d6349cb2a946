#pragma once
// Decentralised federated averaging without a server, as a sans-IO state
// machine (no sockets, no clock, injected Rng). Every round a peer
//   1. trains its model for `local_epochs` on its own data,
//   2. sends the model, in MTU-sized chunks, to each neighbour,
//   3. waits until every neighbour it expects has delivered its model of the
//      same round, or until `round_timeout` has passed since it sent,
//   4. replaces its model by the sample-weighted average of its own and what
//      arrived (per parameter range: see received_model.hpp), and goes on.
// Loss rarely costs the full timeout: when every expected neighbour has
// delivered part of its model and then `chunk_linger` passes quietly, the
// round ends with what arrived.
// A neighbour that delivers nothing for `presume_gone_after` rounds in a row
// is no longer waited for (but still sent to, and waited for again as soon
// as anything of it arrives), so a vanished peer costs a few timeouts, then
// nothing. Chunks of rounds ahead of ours are kept (a faster neighbour),
// chunks of finished rounds dropped. Nothing is retransmitted: a model is
// superseded next round anyway.
//
//
// Before round 1 a peer can wait at a start barrier (real peers open their
// sessions at different moments; punching one pair can take seconds longer
// than another): it sends a small READY datagram to every neighbour it waits
// for every `ready_interval` until it has heard something from each of them
// (a READY or already a model chunk) or `give_up_after` has passed, then one
// GO to each. Chunks that arrive while waiting are kept for round 1. A READY
// that arrives later is answered with one GO (GO is never answered), so a
// neighbour whose first datagrams were lost does not wait for nothing.
//
// The machine contract (core/transmit.hpp): socket k is the channel to the
// neighbour with peer index k -- a natpunch Session in a real run
// (io/learning_driver.hpp), a port of its own in the simulator
// (sim/learning_simulation.hpp). The socket says who sent a datagram; the
// channel authenticates it. poll_event() reports the barrier, every finished
// round and the end.
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <variant>
#include <vector>

#include "core/endpoint.hpp"
#include "core/rng.hpp"
#include "core/time.hpp"
#include "core/transmit.hpp"
#include "learn/dataset.hpp"
#include "learn/model.hpp"
#include "learn/model_chunk.hpp"
#include "learn/received_model.hpp"

namespace natpunch::learn {

struct AveragingConfig {
  std::uint32_t job = 1;            // all peers of one training run share it
  ModelShape shape;
  SgdConfig sgd;
  // Several local epochs per round: averaging N models of 1/N of the data each
  // is, per round, one step of an N-times larger batch, so fewer local epochs
  // leave the peers behind the central model for the same number of epochs.
  int local_epochs = 3;
  std::uint32_t rounds = 40;
  Duration round_timeout = milliseconds(2000);
  // Chunks of one model leave back to back; once every expected neighbour
  // has delivered some and nothing more came for this long, the rest is
  // lost: finish the round now instead of at the timeout.
  Duration chunk_linger = milliseconds(250);
  int presume_gone_after = 2;       // silent rounds before a neighbour is no longer waited for
  ChunkEncoding encoding = ChunkEncoding::Float32;
};

struct Neighbour {
  std::size_t peer = 0;             // its index in the run, and the socket that leads to it
  std::size_t max_datagram = 1160;  // largest payload the path to it carries (natpunch::kMaxSessionPayload)
  // Where its datagrams go; unspecified over a connected channel (a Session).
  Endpoint endpoint{};
};

struct StartBarrier {
  std::vector<std::size_t> wait_for;  // neighbours to hear from before round 1; empty: start at once
  Duration give_up_after = seconds(10);
  Duration ready_interval = milliseconds(100);
};

// The start barrier's datagrams: 8 bytes no model chunk can be (chunks start with their own magic).
bool is_ready_datagram(std::span<const std::uint8_t> bytes);    // "waiting": answered by a started peer
bool is_barrier_datagram(std::span<const std::uint8_t> bytes);  // READY or GO

struct RoundRecord {
  std::uint32_t round = 0;
  TimePoint finished{};
  double accuracy = -1;               // on the evaluation set; -1 without one
  std::size_t neighbours_complete = 0;  // delivered every chunk
  std::size_t neighbours_partial = 0;   // delivered some chunks
  std::size_t neighbours_silent = 0;    // delivered nothing (gone or all lost)
  std::size_t chunks_received = 0;
  bool timed_out = false;             // the round ended by the full timeout (someone silent)
  std::uint64_t bytes_sent = 0;       // cumulative
};

struct PeerCounters {
  std::uint64_t bytes_sent = 0;
  std::uint64_t datagrams_sent = 0;
  std::uint64_t datagrams_received = 0;
  std::uint64_t rejected = 0;   // undecodable, wrong model, inconsistent
  std::uint64_t stale = 0;      // chunks of rounds already finished
};

// What poll_event() reports, in order.
namespace learn_event {
struct Waiting {  // the start barrier heard from one more neighbour
  std::size_t heard = 0;
  std::size_t of = 0;
};
struct Started {  // round 1 began
  std::vector<std::size_t> not_heard;  // neighbours still silent when the barrier gave up
};
struct RoundFinished {
  RoundRecord record;
};
struct Finished {};  // every round done
}  // namespace learn_event
using LearnEvent =
    std::variant<learn_event::Waiting, learn_event::Started, learn_event::RoundFinished, learn_event::Finished>;

class AveragingPeer {
 public:
  // `initial` must be the same for every peer of the run; `evaluation` (may
  // be null, must outlive the peer) is scored after every round. The peer
  // starts (the barrier, or round 1) at its first on_timer() at or after `start`.
  AveragingPeer(AveragingConfig config, std::vector<Neighbour> neighbours, Dataset local, Model initial, Rng rng,
                TimePoint start, const Dataset* evaluation = nullptr, StartBarrier barrier = {});

  void on_datagram(TimePoint now, SocketId socket, const Endpoint& from, std::span<const std::uint8_t> bytes);
  std::optional<Transmit> poll_transmit(TimePoint now);
  std::optional<TimePoint> next_deadline() const;
  void on_timer(TimePoint now);
  std::optional<LearnEvent> poll_event();

  bool done() const { return done_; }
  bool started() const { return round_ > 0 || done_; }
  std::uint32_t round() const { return round_; }   // the round in progress (1-based); rounds+1 when done
  const Model& model() const { return model_; }
  const std::vector<RoundRecord>& history() const { return history_; }
  const PeerCounters& counters() const { return counters_; }
  std::size_t samples() const { return local_.size(); }

 private:
  struct NeighbourState {
    Neighbour link;
    int silent_rounds = 0;
    std::map<std::uint32_t, ReceivedModel> models;  // by round
  };

  struct Early {  // a chunk that came while we waited at the barrier
    SocketId socket;
    std::vector<std::uint8_t> bytes;
  };

  void start_rounds(TimePoint now);
  void pass_barrier(TimePoint now);
  void on_barrier_datagram(SocketId socket, std::span<const std::uint8_t> bytes);
  void on_chunk(TimePoint now, NeighbourState& n, std::span<const std::uint8_t> bytes);
  void send(std::size_t peer, std::vector<std::uint8_t> bytes);
  void run_rounds(TimePoint now);
  void begin_round(TimePoint now);
  void finish_round(TimePoint now, bool timed_out);
  bool everyone_expected_arrived() const;
  bool everyone_expected_started() const;
  NeighbourState* neighbour(std::size_t peer);

  AveragingConfig config_;
  std::vector<NeighbourState> neighbours_;
  Dataset local_;
  Model model_;
  Rng rng_;
  const Dataset* evaluation_;
  std::uint32_t round_ = 0;
  std::optional<TimePoint> deadline_;      // the round timeout
  TimePoint last_chunk_at_{};              // latest chunk of this round (or the round's start)
  bool done_ = false;
  // Before round 1: when to start, then the barrier's state.
  TimePoint start_at_;
  StartBarrier barrier_;
  bool waiting_ = false;
  std::set<std::size_t> silent_;
  TimePoint next_ready_{};
  TimePoint give_up_at_{};
  std::vector<Early> early_;
  std::deque<Transmit> outbox_;
  std::deque<LearnEvent> events_;
  std::vector<RoundRecord> history_;
  PeerCounters counters_;
};

}  // namespace natpunch::learn
