#include "io/stop_signals.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cassert>
#include <cerrno>

namespace natpunch::io {

namespace {

// Only static storage is reachable from a signal handler.
std::atomic<int> g_signal{0};
std::atomic<bool> g_installed{false};
int g_pipe[2] = {-1, -1};
struct sigaction g_previous_int {};
struct sigaction g_previous_term {};

static_assert(std::atomic<int>::is_always_lock_free, "the flag must be safe to set in a signal handler");

extern "C" void on_stop_signal(int signal_number) {
  const int saved_errno = errno;
  int none = 0;
  if (!g_signal.compare_exchange_strong(none, signal_number)) {
    // The second one: the run did not stop (or the user insists).
    ::signal(signal_number, SIG_DFL);
    ::raise(signal_number);
  } else if (g_pipe[1] >= 0) {
    const char byte = 1;
    [[maybe_unused]] const auto written = ::write(g_pipe[1], &byte, 1);
  }
  errno = saved_errno;
}

}  // namespace

StopSignals::StopSignals() {
  [[maybe_unused]] const bool was_installed = g_installed.exchange(true);
  assert(!was_installed && "one StopSignals at a time");
  g_signal = 0;
  if (::pipe2(g_pipe, O_NONBLOCK | O_CLOEXEC) != 0) g_pipe[0] = g_pipe[1] = -1;
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // file writes of a report in progress are not cut short
  // Installed over SIG_IGN too: a background job of a script starts with
  // SIGINT ignored, and `kill -INT` must still stop it with its report.
  ::sigaction(SIGINT, &action, &g_previous_int);
  ::sigaction(SIGTERM, &action, &g_previous_term);
}

StopSignals::~StopSignals() {
  ::sigaction(SIGINT, &g_previous_int, nullptr);
  ::sigaction(SIGTERM, &g_previous_term, nullptr);
  for (int& fd : g_pipe) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  g_installed = false;
}

bool StopSignals::requested() const { return g_signal.load() != 0; }

int StopSignals::signal_number() const { return g_signal.load(); }

int StopSignals::wake_fd() const { return g_pipe[0]; }

}  // namespace natpunch::io
