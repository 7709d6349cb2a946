#pragma once
// Ctrl-C and SIGTERM for the commands that run a while (listen, connect,
// learn, measure): one rule for all of them, the command stops what it is
// doing, prints the report so far (its JSON result event with
// "interrupted": true under --json) and exits 130.
//
// While a StopSignals lives, SIGINT and SIGTERM only raise a flag (and make
// wake_fd() readable, for event loops that sleep in the kernel), also when
// the parent left them ignored, as a shell does for the background jobs
// of a script: `kill -INT` must stop such a job too. A second signal ends
// the process at once, the usual way (for a run that does not stop).
// The previous handlers come back when it goes away.
//
// A signal handler can only reach static storage, so there is one flag per
// process: one StopSignals at a time (the constructor refuses a second one
// by aborting in debug builds; use the first one's predicate()).
#include <functional>

namespace natpunch::io {

class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // Whether SIGINT or SIGTERM arrived (safe from any thread).
  bool requested() const;
  // Which one (0: none yet).
  int signal_number() const;
  // Readable (and stays readable) once a signal arrived; -1 if no pipe
  // could be made (requested() still works).
  int wake_fd() const;
  // requested() as the std::function the session and learning APIs poll.
  std::function<bool()> predicate() const {
    return [this] { return requested(); };
  }
};

}  // namespace natpunch::io
