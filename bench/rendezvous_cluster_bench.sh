#!/usr/bin/env bash
# rendezvous_cluster_bench.sh — what a connect across two rendezvous nodes
# costs over a connect within one node (issue 21: at most 2 ms more on
# loopback), both measured in the same run on the same cluster.
#
# Usage: bench/rendezvous_cluster_bench.sh [--build DIR] [--runs N] [--connects M]
#                                          [--in-flight C]
#   (defaults: build, 5 runs, 2,000 connects per run, 1 connect in flight)
# Needs natpunch and natpunch_rendezvous_load built in DIR, and nats-server
# (Debian package nats-server).
#
# Starts one nats-server and two `natpunch rendezvous --cluster` nodes (A and
# B) on loopback, with ports, keys and logs made per run in a temporary
# directory that is removed at the end; every process is stopped by PID.
# Then, run by run, alternately:
#   same:  natpunch_rendezvous_load --server A                   (callers and callees at A)
#   cross: natpunch_rendezvous_load --server A --callee-server B (callers at A, callees at B)
# each registering 2 x M fresh identities and making M connects (the callee
# accepts at once). Latency of a connect: the caller's first ConnectRequest
# to its SessionInfo, as the generator sees it (its own loop included, the
# same in both modes). The identities register from 64 sockets per node
# (2 in flight each); the connects go C at a time (default 1: the generator
# waits for each before the next, so the path is measured, not a queue).
# Prints p50/p90/p99 per mode and run, and the difference of the medians.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$repo/bench/lib.sh"
bench_init rendezvous_cluster_bench.sh "$@"
build="$repo/build"
runs=5
connects=2000
in_flight=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --connects) connects=$2; shift 2 ;;
    --in-flight) in_flight=$2; shift 2 ;;
    *) bench_die "unknown argument '$1'" ;;
  esac
done
bench_need_int --runs "$runs" 1 99
bench_need_int --connects "$connects" 1 100000
bench_need_int --in-flight "$in_flight" 1 4096
bench_need_dir --build "$build"
natpunch="$build/natpunch"
load="$build/bench/natpunch_rendezvous_load"
for b in "$natpunch" "$load"; do
  bench_need_exec "$b" "build natpunch_cli and natpunch_rendezvous_load in $build"
done
command -v nats-server >/dev/null || bench_die "nats-server not found (apt-get install nats-server)"

bench_start_work

wait_for() {  # FILE TEXT: until FILE contains TEXT (10 s at most)
  for _ in $(seq 200); do
    grep -qF "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "rendezvous_cluster_bench.sh: no '$2' in $1:" >&2
  cat "$1" >&2
  return 1
}

nats_port=$(bench_free_port)
nats-server -a 127.0.0.1 -p "$nats_port" >"$work/nats.log" 2>&1 &
pids+=("$!")
wait_for "$work/nats.log" "Server is ready"
printf 'natpunch-ed25519-seed-v1 %s\n' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$work/server.key"
printf 'natpunch-cluster-key-v1 %s\n' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$work/cluster.key"
chmod 600 "$work/server.key" "$work/cluster.key"
# Room for a million registrations (every run's identities stay registered;
# the shares one source address or /24 network may hold are fractions of
# it, and the load comes from one /24), no puzzle and no signature-check
# budget: registrations are not what is measured.
registrations=$((2 * connects))
max_registrations=1000000
nodes=()
for n in a b; do
  port=$(bench_free_port)
  "$natpunch" rendezvous --listen "127.0.0.1:$port" --identity "$work/server.key" --cluster-key "$work/cluster.key" \
    --cluster "nats://127.0.0.1:$nats_port" --json-log --max-registrations "$max_registrations" \
    --max-puzzle-bits 0 --signature-checks-per-s 0 --registration-lifetime 3600 >"$work/$n.log" 2>&1 &
  pids+=("$!")
  nodes+=("127.0.0.1:$port")
done
for n in a b; do wait_for "$work/$n.log" "1 other node heard"; done

bench_machine
echo "nats-server: $(nats-server --version 2>&1 | head -1)"
echo "load before: $(bench_load)"
# measure same|cross: prints "p50 p90 p99" of one run's connects.
measure() {
  local args=(--server "${nodes[0]}" --registrations "$registrations" --connects "$connects" --refreshes 0
    --sources 64 --window 2 --connect-window "$in_flight" --max-seconds 120)
  [[ $1 == cross ]] && args+=(--callee-server "${nodes[1]}")
  local out
  out=$("$load" "${args[@]}")
  echo "$(date -u +%T) (load $(cut -d' ' -f1 /proc/loadavg)) $1: $out" >&2
  local done failed
  done=$(bench_field connects <<<"$out")
  failed=$(bench_field connect_failed <<<"$out")
  ((done == connects && failed == 0)) || bench_die "$1: $failed of $connects connects failed"
  echo "$(bench_field p50 <<<"$out") $(bench_field p90 <<<"$out") $(bench_field p99 <<<"$out")"
}
declare -a same50 same90 same99 cross50 cross90 cross99 deltas
for ((r = 1; r <= runs; r++)); do
  read -r a b c < <(measure same)
  same50+=("$a"); same90+=("$b"); same99+=("$c")
  read -r a b c < <(measure cross)
  cross50+=("$a"); cross90+=("$b"); cross99+=("$c")
  deltas+=("$(awk -v x="${cross50[-1]}" -v y="${same50[-1]}" 'BEGIN{printf "%.3f", x - y}')")
done
echo "load after: $(bench_load)"
echo
median3() { printf '%.3f' "$(bench_median "$@")"; }
echo "| connect ($connects per run, $in_flight in flight, $runs runs; medians over runs) | p50 ms | p90 ms | p99 ms |"
echo "|---|---|---|---|"
echo "| same node (callers and callees at A) | $(median3 "${same50[@]}") | $(median3 "${same90[@]}") | $(median3 "${same99[@]}") |"
echo "| across nodes (callers at A, callees at B, over NATS) | $(median3 "${cross50[@]}") | $(median3 "${cross90[@]}") | $(median3 "${cross99[@]}") |"
echo
d=$(bench_median "${deltas[@]}")
printf 'cross - same, p50 per run (ms): %s; median %s; target <= 2 ms: %s\n' "${deltas[*]}" "$d" \
  "$(awk -v d="$d" 'BEGIN{print (d <= 2 ? "met" : "NOT met")}')"
