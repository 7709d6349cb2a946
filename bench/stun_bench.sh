#!/usr/bin/env bash
# stun_bench.sh — Binding responses/s of `natpunch stun-server` against coturn
# (`turnserver --stun-only`, Debian package coturn), driven by the same load
# generator (bench/stun_load.cpp) on loopback, in the same run, interleaved
# run by run, same cores, same thread count. Counts only valid Binding success
# responses.
#
# Usage: bench/stun_bench.sh [--build DIR] [--runs N] [--seconds S] [--threads T]
#                            [--sockets N] [--window W]
#   (defaults: build-f, 3 runs, 3 s each, 2 server threads, 8 load sockets,
#    128 requests in flight per socket)
# Needs natpunch and natpunch_stun_load built in DIR.
#
# Both servers run without per-source rate limits (natpunch: --rate 0;
# coturn has none for STUN), since all the load comes from 127.0.0.1-8.
# coturn runs with -n (no config file), its log to stdout (discarded), its
# pid file and user database in a temporary directory that is removed at the
# end; both servers are stopped by PID.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$repo/bench/lib.sh"
bench_init stun_bench.sh "$@"
build="$repo/build-f"
runs=3
secs=3
threads=2
sockets=8
window=128
while [[ $# -gt 0 ]]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --seconds) secs=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --sockets) sockets=$2; shift 2 ;;
    --window) window=$2; shift 2 ;;
    *) bench_die "unknown argument '$1'" ;;
  esac
done
bench_need_int --runs "$runs" 1 99
bench_need_int --seconds "$secs" 1 60
bench_need_int --threads "$threads" 1 99
bench_need_int --sockets "$sockets" 1 1024
bench_need_int --window "$window" 1 65536
bench_need_dir --build "$build"
natpunch="$build/natpunch"
load="$build/bench/natpunch_stun_load"
for b in "$natpunch" "$load"; do
  bench_need_exec "$b" "build natpunch_cli and natpunch_stun_load in $build"
done
command -v turnserver >/dev/null || bench_die "turnserver not found (apt-get install coturn)"

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {  # a UDP port nobody listens on now
  /usr/bin/python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_udp_listen() {  # port: until something listens on 127.0.0.1:port (5 s at most)
  for _ in $(seq 100); do
    ss -Hlun "sport = :$1" | grep -q . && return 0
    sleep 0.05
  done
  echo "stun_bench.sh: nothing listens on port $1" >&2
  return 1
}

# measure natpunch|coturn: starts the server, runs the generator, stops the server; prints responses/s.
measure() {
  local which=$1 port pid out
  port=$(free_port)
  if [[ $which == natpunch ]]; then
    "$natpunch" stun-server --listen "127.0.0.1:$port" --rate 0 --threads "$threads" >"$work/server.log" 2>&1 &
  else
    turnserver -n --stun-only --no-cli --no-tls --no-dtls --no-software-attribute -L 127.0.0.1 -p "$port" \
      -m "$threads" --log-file stdout --pidfile "$work/turnserver.pid" --db "$work/turndb" \
      --min-port 49152 --max-port 49160 >"$work/server.log" 2>&1 &
  fi
  pid=$!
  pids+=("$pid")
  wait_udp_listen "$port"
  out=$("$load" --server "127.0.0.1:$port" --sockets "$sockets" --window "$window" --seconds "$secs" --cpu-pid "$pid")
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  echo "$(date -u +%T) (load $(cut -d' ' -f1 /proc/loadavg)) $which: $out" >&2
  echo "$(bench_field responses_per_second <<<"$out") $(bench_field responses_per_server_cpu_second <<<"$out")"
}

bench_machine
echo "coturn: $(turnserver --version 2>/dev/null | head -1)"
echo "load before: $(bench_load)"
# Per run: wall responses/s and responses per server CPU-second (all the
# server's threads; the fairer figure when other jobs share the cores).
declare -a ours theirs ratios ours_cpu theirs_cpu ratios_cpu
for ((r = 1; r <= runs; r++)); do
  read -r c c_cpu < <(measure coturn)
  read -r n n_cpu < <(measure natpunch)
  theirs+=("$c"); ours+=("$n"); theirs_cpu+=("$c_cpu"); ours_cpu+=("$n_cpu")
  ratios+=("$(bench_ratio "$n" "$c" 2)")
  ratios_cpu+=("$(bench_ratio "$n_cpu" "$c_cpu" 2)")
done
echo "load after: $(bench_load)"
echo
echo "| server ($threads threads; load: $sockets sockets x $window in flight, ${secs} s, $runs runs) | valid Binding responses/s min / median / max | per server CPU-second min / median / max |"
echo "|---|---|---|"
echo "| coturn \`turnserver --stun-only -m $threads\` (baseline) | $(bench_stats "${theirs[@]}") | $(bench_stats "${theirs_cpu[@]}") |"
echo "| \`natpunch stun-server --threads $threads --rate 0\` | $(bench_stats "${ours[@]}") | $(bench_stats "${ours_cpu[@]}") |"
echo
r=$(bench_median "${ratios[@]}")
rc=$(bench_median "${ratios_cpu[@]}")
printf 'ratio natpunch/coturn per run, wall: %s; median %s; target >= 1.5: %s\n' "${ratios[*]}" "$r" "$(bench_verdict "$r" 1.5)"
printf 'ratio natpunch/coturn per run, per server CPU-second: %s; median %s; target >= 1.5: %s\n' "${ratios_cpu[*]}" "$rc" \
  "$(bench_verdict "$rc" 1.5)"
