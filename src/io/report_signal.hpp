#pragma once
// SIGUSR1 for the long-running servers: "print your counters now". While a
// ReportSignal lives, SIGUSR1 makes wake_fd() readable (an event loop
// watches it) instead of ending the process; take() says whether it came
// since the last look. One at a time per process (a signal handler can only
// reach static storage); the previous handler comes back when it goes away.
namespace natpunch::io {

class ReportSignal {
 public:
  ReportSignal();
  ~ReportSignal();
  ReportSignal(const ReportSignal&) = delete;
  ReportSignal& operator=(const ReportSignal&) = delete;

  // Readable after a signal until take(); -1 if no pipe could be made.
  int wake_fd() const;
  // Whether a signal came since the last call (empties the pipe).
  bool take();
};

}  // namespace natpunch::io
