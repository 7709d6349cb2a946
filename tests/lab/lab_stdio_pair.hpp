#pragma once
// The shell script of the lab's two-peer --stdio tests: b listens, a
// connects to b's identity; each side sends its own NAME.bin (16,000 random
// bytes) once its report shows the session ready, and the script checks
// that both files arrived intact. Files in `dir`: NAME.bin, NAME.out,
// NAME.err. Prints `connect=<a's exit>`, then what `before_compare`
// prints, then `a-to-b-intact` / `b-to-a-intact` for what arrived whole.
#include <functional>
#include <string>

#include "lab_harness.hpp"

namespace natpunch::lab {

struct StdioPair {
  std::string ready_pattern;  // in a side's stderr: the session carries data
  int ready_polls = 200;      // 50 ms polls for it before sending anyway
  // The shell command whose output is side NAME's input (run once it is
  // ready); empty: `cat DIR/NAME.bin`.
  std::function<std::string(const std::string& name)> feed;
  std::string options;    // for both natpunch commands (after --rendezvous ...)
  std::string b_command;  // e.g. "listen --accept-any"
  std::string a_command;  // e.g. "connect --peer $id" ($id: b's identity)
  int timeout_s = 30;     // for a's connect
  std::string before_compare;  // shell commands run after both ended
};

inline std::string stdio_pair_script(const Lab& lab, const std::string& dir, const StdioPair& p) {
  const auto side = [&](const std::string& name, const std::string& command) {
    const std::string err = dir + "/" + name + ".err";
    const std::string feed = p.feed ? p.feed(name) : "cat " + dir + "/" + name + ".bin";
    return "ip netns exec " + lab.netns(name) + " sh -c '(i=0; until grep -q \"" + p.ready_pattern + "\" " + err +
           " 2>/dev/null || [ $i -ge " + std::to_string(p.ready_polls) + " ]; do sleep 0.05; i=$((i+1)); done; " +
           feed + ") | " + natpunch_binary() + " " + command + " " + p.options + " >" + dir + "/" + name + ".out 2>" +
           err + "'";
  };
  return "cd " + dir + " && head -c 16000 /dev/urandom >a.bin && head -c 16000 /dev/urandom >b.bin && (" +
         side("b", p.b_command) + " & echo $! >b.pid) && " +
         "for i in $(seq 100); do id=$(grep -o '\"identity\":\"[0-9a-f]*\"' b.err 2>/dev/null | head -1 | cut -d'\"' "
         "-f4); [ -n \"$id\" ] && break; sleep 0.05; done; export id; timeout " +
         std::to_string(p.timeout_s) + " " + side("a", p.a_command) + "; echo connect=$?; " +
         "for i in $(seq 100); do kill -0 $(cat b.pid) 2>/dev/null || break; sleep 0.1; done; kill $(cat b.pid) "
         "2>/dev/null; " +
         p.before_compare + "cmp a.bin b.out && echo a-to-b-intact; cmp b.bin a.out && echo b-to-a-intact";
}

}  // namespace natpunch::lab
