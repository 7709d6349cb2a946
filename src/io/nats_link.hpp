#pragma once
// A rendezvous node's link to the cluster's message bus: one NATS
// connection (libnats, Debian's libnats-dev) to a list of servers of a
// nats-server cluster, reconnecting forever to whichever answers.
//
// Subjects: PREFIX.all (every node: hellos, goodbyes) and
// PREFIX.node.<16 hex digits> (one node). Messages arrive on libnats's
// threads and wait in a bounded inbox (the oldest are dropped past
// max_inbox) until the node's loop takes them (take()); `wake` is called
// from libnats's thread when the inbox turns non-empty. Published while
// the link is down, a message is dropped (counted), not buffered: the
// cluster protocol is soft state and retransmits what matters.
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "core/result.hpp"

struct __natsConnection;
struct __natsSubscription;
struct __natsOptions;
struct __natsMsg;

namespace natpunch::io {

struct NatsLinkOptions {
  std::vector<std::string> servers;  // nats://HOST:PORT
  std::string subject_prefix = "natpunch.rendezvous";
  std::uint64_t node_id = 0;
  std::string name;  // shown by nats-server's monitoring
  std::size_t max_inbox = 65536;
  std::function<void()> wake;
};

struct NatsLinkStats {
  std::uint64_t received = 0;
  std::uint64_t published = 0;
  std::uint64_t dropped_inbox = 0;    // the node's loop fell behind
  std::uint64_t dropped_offline = 0;  // published while the link was down
  std::uint64_t disconnects = 0;
};

class NatsLink {
 public:
  // Starts connecting (in the background: a bus that is not up yet is
  // retried forever). Errors only for bad options.
  static Result<std::unique_ptr<NatsLink>, std::string> open(NatsLinkOptions options);
  ~NatsLink();
  NatsLink(const NatsLink&) = delete;
  NatsLink& operator=(const NatsLink&) = delete;

  // to == 0: every node.
  void publish(std::uint64_t to, std::span<const std::uint8_t> bytes);
  std::vector<std::vector<std::uint8_t>> take();
  bool connected() const;
  // The server it is connected to (nats://...), or the last error.
  std::string describe() const;
  NatsLinkStats stats() const;

 private:
  NatsLink() = default;
  static void on_message(__natsConnection*, __natsSubscription*, __natsMsg* msg, void* closure);
  static void on_disconnected(__natsConnection*, void* closure);
  static void on_connected(__natsConnection*, void* closure);
  std::string subject_for(std::uint64_t node) const;

  NatsLinkOptions options_;
  __natsOptions* nats_options_ = nullptr;
  __natsConnection* connection_ = nullptr;
  __natsSubscription* all_ = nullptr;
  __natsSubscription* mine_ = nullptr;
  std::string all_subject_;
  mutable std::mutex mutex_;
  std::deque<std::vector<std::uint8_t>> inbox_;
  NatsLinkStats stats_;
  std::atomic<bool> up_{false};
};

}  // namespace natpunch::io
