#include "io/nats_link.hpp"

#include <nats/nats.h>

#include <cstdio>

namespace natpunch::io {
namespace {

std::string hex16(std::uint64_t v) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(v));
  return text;
}

std::string status_text(natsStatus s) {
  const char* text = natsStatus_GetText(s);
  return text != nullptr ? text : "unknown NATS error";
}

}  // namespace

Result<std::unique_ptr<NatsLink>, std::string> NatsLink::open(NatsLinkOptions options) {
  if (options.servers.empty()) return Unexpected{std::string("no NATS server given")};
  if (options.node_id == 0) return Unexpected{std::string("node id 0")};
  for (const auto& s : options.servers)
    if (s.rfind("nats://", 0) != 0) return Unexpected{"'" + s + "' is not a nats://HOST:PORT URL"};
  std::unique_ptr<NatsLink> link(new NatsLink());
  link->options_ = std::move(options);
  link->all_subject_ = link->options_.subject_prefix + ".all";
  natsOptions* o = nullptr;
  if (natsOptions_Create(&o) != NATS_OK) return Unexpected{std::string("cannot create NATS options")};
  link->nats_options_ = o;
  std::vector<const char*> urls;
  for (const auto& s : link->options_.servers) urls.push_back(s.c_str());
  natsStatus s = natsOptions_SetServers(o, urls.data(), static_cast<int>(urls.size()));
  if (s != NATS_OK) return Unexpected{"NATS servers: " + status_text(s)};
  natsOptions_SetName(o, link->options_.name.empty() ? "natpunch-rendezvous" : link->options_.name.c_str());
  natsOptions_SetNoEcho(o, true);  // our own broadcasts are not for us
  natsOptions_SetMaxReconnect(o, -1);
  natsOptions_SetReconnectWait(o, 250);
  natsOptions_SetTimeout(o, 1000);
  // A dead server is noticed within ~2 s (two missed pings of 1 s); the
  // link then moves to another server of the list.
  natsOptions_SetPingInterval(o, 1000);
  natsOptions_SetMaxPingsOut(o, 2);
  natsOptions_SetReconnectBufSize(o, 64 * 1024);
  // Each publish goes out at once: libnats otherwise leaves it to a flusher
  // thread that sleeps a millisecond between flushes, and a connect across
  // nodes waits for two messages (~2 ms more than a same-node connect on
  // loopback; bench/rendezvous_cluster_bench.sh). A node publishes a few
  // messages per batch of datagrams it handles, not a stream.
  natsOptions_SetSendAsap(o, true);
  natsOptions_SetDisconnectedCB(o, &NatsLink::on_disconnected, link.get());
  natsOptions_SetReconnectedCB(o, &NatsLink::on_connected, link.get());
  natsOptions_SetRetryOnFailedConnect(o, true, &NatsLink::on_connected, link.get());
  s = natsConnection_Connect(&link->connection_, o);
  if (s == NATS_OK) {
    link->up_ = true;
  } else if (s != NATS_NOT_YET_CONNECTED) {
    return Unexpected{"NATS connect: " + status_text(s)};
  }
  s = natsConnection_Subscribe(&link->all_, link->connection_, link->all_subject_.c_str(),
                               &NatsLink::on_message, link.get());
  if (s == NATS_OK)
    s = natsConnection_Subscribe(&link->mine_, link->connection_, link->subject_for(link->options_.node_id).c_str(),
                                 &NatsLink::on_message, link.get());
  if (s != NATS_OK) return Unexpected{"NATS subscribe: " + status_text(s)};
  // The inbox bounds what we keep; libnats's own pending limit bounds what
  // it holds before our callback runs.
  natsSubscription_SetPendingLimits(link->all_, 65536, 64 * 1024 * 1024);
  natsSubscription_SetPendingLimits(link->mine_, 65536, 64 * 1024 * 1024);
  return link;
}

NatsLink::~NatsLink() {
  // Subscriptions first, so no callback runs into a half-destroyed link.
  if (all_ != nullptr) {
    natsSubscription_Unsubscribe(all_);
    natsSubscription_Destroy(all_);
  }
  if (mine_ != nullptr) {
    natsSubscription_Unsubscribe(mine_);
    natsSubscription_Destroy(mine_);
  }
  if (connection_ != nullptr) {
    natsConnection_FlushTimeout(connection_, 200);  // a Goodbye, if one was published
    natsConnection_Close(connection_);
    natsConnection_Destroy(connection_);
  }
  if (nats_options_ != nullptr) natsOptions_Destroy(nats_options_);
}

std::string NatsLink::subject_for(std::uint64_t node) const {
  return node == 0 ? all_subject_ : options_.subject_prefix + ".node." + hex16(node);
}

void NatsLink::on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  auto* link = static_cast<NatsLink*>(closure);
  const auto* data = reinterpret_cast<const std::uint8_t*>(natsMsg_GetData(msg));
  const auto length = static_cast<std::size_t>(natsMsg_GetDataLength(msg));
  bool wake = false;
  {
    std::lock_guard lock(link->mutex_);
    ++link->stats_.received;
    if (link->inbox_.size() >= link->options_.max_inbox) {
      link->inbox_.pop_front();
      ++link->stats_.dropped_inbox;
    }
    wake = link->inbox_.empty();
    link->inbox_.emplace_back(data, data + length);
  }
  natsMsg_Destroy(msg);
  if (wake && link->options_.wake) link->options_.wake();
}

void NatsLink::on_disconnected(natsConnection*, void* closure) {
  auto* link = static_cast<NatsLink*>(closure);
  link->up_ = false;
  std::lock_guard lock(link->mutex_);
  ++link->stats_.disconnects;
}

void NatsLink::on_connected(natsConnection*, void* closure) { static_cast<NatsLink*>(closure)->up_ = true; }

void NatsLink::publish(std::uint64_t to, std::span<const std::uint8_t> bytes) {
  if (!up_) {
    std::lock_guard lock(mutex_);
    ++stats_.dropped_offline;
    return;
  }
  const auto subject = subject_for(to);
  const natsStatus s = natsConnection_Publish(connection_, subject.c_str(), bytes.data(), static_cast<int>(bytes.size()));
  std::lock_guard lock(mutex_);
  if (s == NATS_OK)
    ++stats_.published;
  else
    ++stats_.dropped_offline;
}

std::vector<std::vector<std::uint8_t>> NatsLink::take() {
  std::lock_guard lock(mutex_);
  std::vector<std::vector<std::uint8_t>> out(std::make_move_iterator(inbox_.begin()), std::make_move_iterator(inbox_.end()));
  inbox_.clear();
  return out;
}

bool NatsLink::connected() const { return up_; }

std::string NatsLink::describe() const {
  if (connection_ == nullptr) return "not connected";
  char url[256] = {0};
  if (up_ && natsConnection_GetConnectedUrl(connection_, url, sizeof url) == NATS_OK && url[0] != 0) return url;
  return "not connected (trying " + options_.servers.front() + (options_.servers.size() > 1 ? ", ..." : "") + ")";
}

NatsLinkStats NatsLink::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace natpunch::io
