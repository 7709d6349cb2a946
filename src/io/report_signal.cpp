#include "io/report_signal.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cassert>
#include <cerrno>

namespace natpunch::io {

namespace {

std::atomic<bool> g_installed{false};
std::atomic<bool> g_arrived{false};
int g_pipe[2] = {-1, -1};
struct sigaction g_previous {};

extern "C" void on_report_signal(int) {
  const int saved_errno = errno;
  g_arrived = true;
  if (g_pipe[1] >= 0) {
    const char byte = 1;
    [[maybe_unused]] const auto written = ::write(g_pipe[1], &byte, 1);
  }
  errno = saved_errno;
}

}  // namespace

ReportSignal::ReportSignal() {
  [[maybe_unused]] const bool was_installed = g_installed.exchange(true);
  assert(!was_installed && "one ReportSignal at a time");
  g_arrived = false;
  if (::pipe2(g_pipe, O_NONBLOCK | O_CLOEXEC) != 0) g_pipe[0] = g_pipe[1] = -1;
  struct sigaction action {};
  action.sa_handler = on_report_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  ::sigaction(SIGUSR1, &action, &g_previous);
}

ReportSignal::~ReportSignal() {
  ::sigaction(SIGUSR1, &g_previous, nullptr);
  for (int& fd : g_pipe) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  g_installed = false;
}

int ReportSignal::wake_fd() const { return g_pipe[0]; }

bool ReportSignal::take() {
  std::array<char, 64> drain{};
  while (g_pipe[0] >= 0 && ::read(g_pipe[0], drain.data(), drain.size()) > 0) {
  }
  return g_arrived.exchange(false);
}

}  // namespace natpunch::io
