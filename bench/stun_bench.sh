#!/usr/bin/env bash
# stun_bench.sh — Binding responses/s of `natpunch stun-server` against coturn
# (`turnserver --stun-only`, Debian package coturn), driven by the same load
# generator (bench/stun_load.cpp) on loopback, in the same run, interleaved
# run by run, same cores, same thread count. Counts only valid Binding success
# responses.
#
# Usage: bench/stun_bench.sh [--build DIR] [--runs N] [--seconds S] [--threads T]
#                            [--shapes spread,one] [--sockets N] [--window W]
#                            [--before BINARY]
#   (defaults: build-f, 3 runs, 3 s each, 2 server threads, both load shapes)
# Needs natpunch and natpunch_stun_load built in DIR.
# --before BINARY: also measures that natpunch binary (e.g. main's build,
#   before a change) in the same runs, interleaved, and reports the ratio
#   of DIR's natpunch to it.
#
# Load shapes (each run measures every shape on both servers):
#   spread  8 sockets on 127.0.0.1-8 (8 source addresses), 128 requests in
#           flight per socket (--sockets/--window change these two)
#   one     4 sockets all on 127.0.0.1 (one source address, 4 ports: phones
#           behind one carrier NAT address), 64 requests in flight each
# Both servers run without per-source rate limits (natpunch: --rate 0;
# coturn has none for STUN), since all the load comes from a few addresses.
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
shapes=spread,one
before=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --seconds) secs=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --sockets) sockets=$2; shift 2 ;;
    --window) window=$2; shift 2 ;;
    --shapes) shapes=$2; shift 2 ;;
    --before) before=$2; shift 2 ;;
    *) bench_die "unknown argument '$1'" ;;
  esac
done
bench_need_int --runs "$runs" 1 99
bench_need_int --seconds "$secs" 1 60
bench_need_int --threads "$threads" 1 99
bench_need_int --sockets "$sockets" 1 1024
bench_need_int --window "$window" 1 4096
IFS=, read -r -a shape_list <<<"$shapes"
((${#shape_list[@]} > 0)) || bench_die "--shapes needs spread, one or both"
for shape in "${shape_list[@]}"; do
  [[ $shape == spread || $shape == one ]] || bench_die "--shapes: unknown shape '$shape' (spread, one)"
done
bench_need_dir --build "$build"
natpunch="$build/natpunch"
load="$build/bench/natpunch_stun_load"
for b in "$natpunch" "$load"; do
  bench_need_exec "$b" "build natpunch_cli and natpunch_stun_load in $build"
done
[[ -z $before ]] || bench_need_exec "$before" "--before needs a natpunch binary"
command -v turnserver >/dev/null || bench_die "turnserver not found (apt-get install coturn)"

bench_start_work

# shape_args spread|one: the generator's load arguments.
shape_args() {
  if [[ $1 == spread ]]; then echo "--sockets $sockets --addresses $sockets --window $window"
  else echo "--sockets 4 --addresses 1 --window 64"; fi
}
shape_text() {
  if [[ $1 == spread ]]; then echo "$sockets sockets on $sockets addresses x $window in flight"
  else echo "4 sockets on one address x 64 in flight"; fi
}

# measure natpunch|before|coturn SHAPE: starts the server, runs the generator, stops the server; prints responses/s.
measure() {
  local which=$1 shape=$2 port pid out
  port=$(bench_free_port)
  if [[ $which == natpunch || $which == before ]]; then
    local binary=$natpunch
    [[ $which == natpunch ]] || binary=$before
    "$binary" stun-server --listen "127.0.0.1:$port" --rate 0 --threads "$threads" >"$work/server.log" 2>&1 &
  else
    turnserver -n --stun-only --no-cli --no-tls --no-dtls --no-software-attribute -L 127.0.0.1 -p "$port" \
      -m "$threads" --log-file stdout --pidfile "$work/turnserver.pid" --db "$work/turndb" \
      --min-port 49152 --max-port 49160 >"$work/server.log" 2>&1 &
  fi
  pid=$!
  pids+=("$pid")
  bench_wait_udp_listen "$port"
  # shellcheck disable=SC2046
  out=$("$load" --server "127.0.0.1:$port" $(shape_args "$shape") --seconds "$secs" --cpu-pid "$pid")
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  echo "$(date -u +%T) (load $(cut -d' ' -f1 /proc/loadavg)) $which $shape: $out" >&2
  echo "$(bench_field responses_per_second <<<"$out") $(bench_field responses_per_server_cpu_second <<<"$out")"
}

bench_machine
echo "coturn: $(turnserver --version 2>/dev/null | head -1)"
echo "load before: $(bench_load)"
# Per shape and run: wall responses/s and responses per server CPU-second
# (all the server's threads; the fairer figure when other jobs share the
# cores). Runs alternate coturn and natpunch, shape by shape.
declare -A ours theirs ratios ours_cpu theirs_cpu ratios_cpu olds olds_cpu vs_old vs_old_cpu
for ((r = 1; r <= runs; r++)); do
  for shape in "${shape_list[@]}"; do
    read -r c c_cpu < <(measure coturn "$shape")
    if [[ -n $before ]]; then
      read -r b b_cpu < <(measure before "$shape")
      olds[$shape]+=" $b"; olds_cpu[$shape]+=" $b_cpu"
    fi
    read -r n n_cpu < <(measure natpunch "$shape")
    if [[ -n $before ]]; then
      vs_old[$shape]+=" $(bench_ratio "$n" "$b" 2)"; vs_old_cpu[$shape]+=" $(bench_ratio "$n_cpu" "$b_cpu" 2)"
    fi
    theirs[$shape]+=" $c"; ours[$shape]+=" $n"; theirs_cpu[$shape]+=" $c_cpu"; ours_cpu[$shape]+=" $n_cpu"
    ratios[$shape]+=" $(bench_ratio "$n" "$c" 2)"
    ratios_cpu[$shape]+=" $(bench_ratio "$n_cpu" "$c_cpu" 2)"
  done
done
echo "load after: $(bench_load)"
for shape in "${shape_list[@]}"; do
  echo
  echo "| server ($threads threads; load: $(shape_text "$shape"), ${secs} s, $runs runs) | valid Binding responses/s min / median / max | per server CPU-second min / median / max |"
  echo "|---|---|---|"
  # shellcheck disable=SC2086
  echo "| coturn \`turnserver --stun-only -m $threads\` (baseline) | $(bench_stats ${theirs[$shape]}) | $(bench_stats ${theirs_cpu[$shape]}) |"
  if [[ -n $before ]]; then
    # shellcheck disable=SC2086
    echo "| \`natpunch stun-server\` before (\`$before\`) | $(bench_stats ${olds[$shape]}) | $(bench_stats ${olds_cpu[$shape]}) |"
  fi
  # shellcheck disable=SC2086
  echo "| \`natpunch stun-server --threads $threads --rate 0\` | $(bench_stats ${ours[$shape]}) | $(bench_stats ${ours_cpu[$shape]}) |"
  echo
  if [[ -n $before ]]; then
    # shellcheck disable=SC2086
    printf '%s: ratio natpunch/before per run, wall:%s; median %s\n' "$shape" "${vs_old[$shape]}" "$(bench_median ${vs_old[$shape]})"
    # shellcheck disable=SC2086
    printf '%s: ratio natpunch/before per run, per server CPU-second:%s; median %s\n' "$shape" "${vs_old_cpu[$shape]}" \
      "$(bench_median ${vs_old_cpu[$shape]})"
  fi
  # shellcheck disable=SC2086
  r=$(bench_median ${ratios[$shape]})
  # shellcheck disable=SC2086
  rc=$(bench_median ${ratios_cpu[$shape]})
  printf '%s: ratio natpunch/coturn per run, wall:%s; median %s; target >= 1.5: %s\n' "$shape" "${ratios[$shape]}" "$r" \
    "$(bench_verdict "$r" 1.5)"
  printf '%s: ratio natpunch/coturn per run, per server CPU-second:%s; median %s; target >= 1.5: %s\n' "$shape" \
    "${ratios_cpu[$shape]}" "$rc" "$(bench_verdict "$rc" 1.5)"
done
