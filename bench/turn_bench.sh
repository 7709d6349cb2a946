#!/usr/bin/env bash
# turn_bench.sh — relayed throughput through one coturn (Debian package
# coturn) on loopback: natpunch's TURN client (`natpunch turn allocate
# --flood`) against coturn's own client (`turnutils_uclient`), both
# relaying 1000-byte datagrams over ChannelData to the same echoing peer
# (`turnutils_peer`), in the same run, alternating run by run.
#
# Usage: bench/turn_bench.sh [--build DIR] [--runs N] [--seconds S] [--size B]
#                            [--clients M] [--transport udp|tcp]
#   (defaults: build, 3 runs, 3 s floods, 1000-byte datagrams, 100
#    uclient clients, udp)
# Needs natpunch built in DIR, and turnserver, turnutils_uclient and
# turnutils_peer on PATH.
#
# What is compared: echoed datagrams per second (sent through the relay to
# the peer, echoed by it, relayed back and received).
#   natpunch   one allocation, one channel, --window 64 datagrams in
#              flight, for --seconds: its own echoed/s report.
#   uclient    paces each client by a timer (-z 1: its fastest), so one
#              client cannot flood; it runs --clients allocations at once,
#              each sending 50 x --seconds datagrams (-n), and prints its
#              totals once a second. Its rate is the best one-second
#              increase of tot_recv_msgs (the baseline's most favourable
#              figure), not the average including its slow start.
# coturn runs with a temporary config (use-auth-secret, loopback peers
# only: every other peer address is denied), its log and pid file in a
# temporary directory removed at the end; processes are stopped by PID.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$repo/bench/lib.sh"
bench_init turn_bench.sh "$@"
build="$repo/build"
runs=3
secs=3
size=1000
clients=100
transport=udp
while [[ $# -gt 0 ]]; do
  case $1 in
    --build) build=${2:?--build needs a directory}; shift 2 ;;
    --runs) runs=${2:?--runs needs a number}; shift 2 ;;
    --seconds) secs=${2:?--seconds needs a number}; shift 2 ;;
    --size) size=${2:?--size needs a number}; shift 2 ;;
    --clients) clients=${2:?--clients needs a number}; shift 2 ;;
    --transport) transport=${2:?--transport needs udp or tcp}; shift 2 ;;
    *) bench_die "unknown argument '$1' (see --help)" ;;
  esac
done
bench_need_int --runs "$runs" 1 99
bench_need_int --seconds "$secs" 1 60
bench_need_int --size "$size" 12 1400
bench_need_int --clients "$clients" 1 500
[[ $transport == udp || $transport == tcp ]] || bench_die "--transport must be udp or tcp (got '$transport')"
bench_need_dir --build "$build"
natpunch="$build/natpunch"
bench_need_exec "$natpunch" "build natpunch_cli in $build"
for p in turnserver turnutils_uclient turnutils_peer; do
  command -v "$p" >/dev/null || bench_die "$p not found (apt-get install coturn)"
done

bench_start_work


secret=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
peer_port=$(bench_free_port)
turnutils_peer -L 127.0.0.1 -p "$peer_port" >/dev/null 2>&1 &
pids+=("$!")
bench_wait_udp_listen "$peer_port"

# A fresh coturn for every measurement: turnutils_uclient leaves its
# allocations behind, and a later client that gets the same local port
# from the kernel would meet 437 (allocation mismatch).
coturn_pid=""
start_coturn() {
  port=$(bench_free_port)
  bench_coturn_loopback_conf "$work" "$port" "$secret"
  turnserver -c "$work/turnserver.conf" >/dev/null 2>&1 &
  coturn_pid=$!
  pids+=("$coturn_pid")
  bench_wait_udp_listen "$port"
}
stop_coturn() {
  kill "$coturn_pid" 2>/dev/null || true
  wait "$coturn_pid" 2>/dev/null || true
}

tcp_flag=()
[[ $transport == tcp ]] && tcp_flag=(--tcp)
uclient_tcp=()
[[ $transport == tcp ]] && uclient_tcp=(-t)

measure_natpunch() {  # prints echoed datagrams/s
  local out
  out=$("$natpunch" turn allocate --server "127.0.0.1:$port" --secret "$secret" "${tcp_flag[@]}" \
    --peer "127.0.0.1:$peer_port" --count 1 --size "$size" --flood "$secs" --window 64 --json)
  echo "$(date -u +%T) (load $(cut -d' ' -f1 /proc/loadavg)) natpunch: $out" >&2
  jq -r '.peers[0].flood.echoed_per_s | floor' <<<"$out"
}
measure_uclient() {  # prints the best one-second echoed datagrams/s
  local per_client=$((50 * secs))
  timeout $((60 + 2 * secs)) turnutils_uclient "${uclient_tcp[@]}" -c -z 1 -W "$secret" -p "$port" \
    -e 127.0.0.1 -r "$peer_port" -l "$size" -m "$clients" -n "$per_client" 127.0.0.1 >"$work/uclient.out" 2>&1 || true
  local best
  best=$(grep -E '^[0-9]+: : start_mclient: msz=.*tot_recv_msgs=' "$work/uclient.out" |
    sed -E 's/^([0-9]+):.*tot_recv_msgs=([0-9]+).*/\1 \2/' |
    awk 'NR > 1 && $1 == t + 1 {d = $2 - m; if (d > best) best = d} {t = $1; m = $2} END {print best + 0}')
  echo "$(date -u +%T) (load $(cut -d' ' -f1 /proc/loadavg)) uclient: $(grep -E 'Total (transmit|lost)' "$work/uclient.out" |
    tr '\n' ' ') best second $best/s" >&2
  if ((best == 0)); then
    echo "turn_bench.sh: turnutils_uclient relayed nothing; its last lines:" >&2
    tail -5 "$work/uclient.out" >&2
    exit 1
  fi
  echo "$best"
}

bench_machine
echo "coturn: $(turnserver --version 2>/dev/null | head -1)"
echo "load before: $(bench_load)"
declare -a ours theirs ratios
for ((r = 1; r <= runs; r++)); do
  start_coturn
  u=$(measure_uclient) || exit 1
  stop_coturn
  start_coturn
  n=$(measure_natpunch) || exit 1
  stop_coturn
  theirs+=("$u"); ours+=("$n")
  ratios+=("$(bench_ratio "$n" "$u" 2)")
done
echo "load after: $(bench_load)"
echo
echo "| client (coturn on loopback over $transport, $size-byte datagrams, $runs runs) | echoed datagrams/s min / median / max |"
echo "|---|---|"
echo "| \`turnutils_uclient -m $clients -z 1\` (baseline, best second) | $(bench_stats "${theirs[@]}") |"
echo "| \`natpunch turn allocate --flood $secs --window 64\` (one allocation) | $(bench_stats "${ours[@]}") |"
echo
r=$(bench_median "${ratios[@]}")
printf 'ratio natpunch/uclient per run: %s; median %s; target >= 0.8: %s\n' "${ratios[*]}" "$r" "$(bench_verdict "$r" 0.8)"
