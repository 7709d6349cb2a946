#pragma once
// Runs a shell command and captures its stdout and exit code: the CLI and
// lab tests drive the real binary this way.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace natpunch::test_support {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout only; stderr goes where the command sends it
};

// Arguments are passed through the shell; callers build them from fixed
// tokens and numbers only, never from untrusted text.
inline CommandResult run_command(const std::string& command) {
  CommandResult r;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return r;
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
  int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace natpunch::test_support
