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
// Peers and neighbours are small integers; the driver maps them to sessions
// (sim: modelled links; real: natpunch sessions, see learning_transport.hpp).
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "core/rng.hpp"
#include "core/time.hpp"
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
  std::size_t peer = 0;
  std::size_t max_datagram = 1160;  // largest payload the path to it carries (natpunch::kMaxSessionPayload)
};

struct LearnDatagram {
  std::size_t to = 0;
  std::vector<std::uint8_t> bytes;
};

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

class AveragingPeer {
 public:
  // `initial` must be the same for every peer of the run; `evaluation` (may
  // be null, must outlive the peer) is scored after every round.
  AveragingPeer(AveragingConfig config, std::vector<Neighbour> neighbours, Dataset local, Model initial, Rng rng,
                const Dataset* evaluation = nullptr);

  void start(TimePoint now);
  void on_datagram(TimePoint now, std::size_t from, std::span<const std::uint8_t> bytes);
  void on_timer(TimePoint now);
  std::vector<LearnDatagram> poll_transmit();
  std::optional<TimePoint> next_deadline() const;

  bool done() const { return done_; }
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
  std::vector<LearnDatagram> outbox_;
  std::vector<RoundRecord> history_;
  PeerCounters counters_;
};

}  // namespace natpunch::learn
