#!/usr/bin/env bash
# relay_bench.sh — packets relayed per second and per server CPU-second:
# natpunch's built-in relay (inside `natpunch rendezvous`) against coturn
# (Debian's turnserver) relaying on the same machine, in the same run,
# alternating run by run, all on loopback.
#
# Usage: bench/relay_bench.sh [--build DIR] [--runs N] [--seconds S] [--mbit M]
#   (defaults: build, 3 runs, 3 s of load each, the built-in relay's
#   sender unpaced; --mbit M paces it, `connect --measure-mbit M`). Needs natpunch built in
#   DIR, turnserver and turnutils_peer on PATH, jq.
#
# The loads:
#   built-in   `natpunch listen` and `natpunch connect --force-relay
#              --measure S` (one session through the relay; the connect
#              side sends 1160-byte session payloads as fast as it can
#              for the measure's bulk phase, the listener counts them).
#              Every relay limit of the rendezvous is lifted (--relay-*
#              1e12), so the server relays all it can. Relayed packets =
#              what the listener received.
#   coturn     `natpunch turn allocate --flood S --size 1160 --window 64`
#              to `turnutils_peer`, which echoes: each echo crossed coturn
#              twice (client -> peer, peer -> client). Relayed packets =
#              2 x echoes.
# Server CPU = utime + stime of the server process (all threads, from
# /proc/PID/stat) from just before the client starts to just after it
# ends; it includes the setup (registration or allocation, a few
# datagrams). coturn runs with its default relay threads; the rendezvous
# has one thread. Both servers are started fresh for every run, stopped by
# PID, their files in a temporary directory removed at the end.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$repo/bench/lib.sh"
bench_init relay_bench.sh "$@"
build="$repo/build"
runs=3
secs=3
mbit=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --build) build=${2:?--build needs a directory}; shift 2 ;;
    --runs) runs=${2:?--runs needs a number}; shift 2 ;;
    --seconds) secs=${2:?--seconds needs a number}; shift 2 ;;
    --mbit) mbit=${2:?--mbit needs a number}; shift 2 ;;
    *) bench_die "unknown argument '$1' (see --help)" ;;
  esac
done
bench_need_int --runs "$runs" 1 99
bench_need_int --seconds "$secs" 1 60
[[ $mbit == 0 ]] || bench_need_number --mbit "$mbit" 100000
bench_need_dir --build "$build"
natpunch="$build/natpunch"
bench_need_exec "$natpunch" "build natpunch_cli in $build"
for p in turnserver turnutils_peer jq; do
  command -v "$p" >/dev/null || bench_die "$p not found (apt-get install coturn jq)"
done

bench_start_work

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
ticks_per_s=$(getconf CLK_TCK)
stop() {  # PID: stop one process we started
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# measure_builtin: prints "relayed_packets server_cpu_seconds bulk_seconds"
measure_builtin() {
  local lim="1000000000000" rv lp before after out got
  "$natpunch" rendezvous --listen 127.0.0.1:0 --json-log --start-delay-ms 200 \
    --relay-session-bytes-per-s $lim --relay-session-packets-per-s $lim --relay-identity-bytes-per-s $lim \
    --relay-identity-packets-per-s $lim --relay-address-bytes-per-s $lim --relay-total-bytes-per-s $lim \
    --relay-session-bytes $lim >"$work/rv.out" 2>"$work/rv.err" &
  rv=$!
  pids+=("$rv")
  for _ in $(seq 100); do [[ -s $work/rv.out ]] && break; sleep 0.05; done
  local address
  address=$(head -1 "$work/rv.out" | jq -r .address)
  [[ $address == 127.0.0.1:* ]] || bench_die "the rendezvous did not start: $(cat "$work/rv.err")"
  "$natpunch" listen --rendezvous "$address" --accept-any --json --force-relay --measure "$secs" >"$work/ls.out" 2>"$work/ls.err" &
  lp=$!
  pids+=("$lp")
  for _ in $(seq 100); do [[ -s $work/ls.out ]] && break; sleep 0.05; done
  local key
  key=$(head -1 "$work/ls.out" | jq -r .identity)
  before=$(cpu_ticks "$rv")
  out=$(timeout $((30 + 2 * secs)) "$natpunch" connect --rendezvous "$address" --peer "$key" --force-relay \
    --measure "$secs" --measure-mbit "$mbit" --json 2>"$work/cn.err" | tail -1) || true
  after=$(cpu_ticks "$rv")
  stop "$lp"
  stop "$rv"
  got=$(jq -r '.measure.bulk_received // empty' <<<"$out" 2>/dev/null || true)
  [[ -n $got ]] || bench_die "connect --measure through the relay failed: $out $(tail -3 "$work/cn.err");" \
    "rendezvous: $(tail -5 "$work/rv.out") $(tail -3 "$work/rv.err"); listen: $(tail -3 "$work/ls.out") $(tail -3 "$work/ls.err")"
  echo "$(date -u +%T) (load $(cut -d' ' -f1 /proc/loadavg)) built-in: $(jq -c .measure <<<"$out"), server CPU ticks $((after - before))" >&2
  echo "$got $(awk -v t=$((after - before)) -v h="$ticks_per_s" 'BEGIN{printf "%.3f", t / h}') $(jq -r .measure.bulk_seconds <<<"$out")"
}

secret=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
peer_port=$(bench_free_port)
turnutils_peer -L 127.0.0.1 -p "$peer_port" >/dev/null 2>&1 &
pids+=("$!")
bench_wait_udp_listen "$peer_port"

# measure_coturn: prints "relayed_packets server_cpu_seconds flood_seconds"
measure_coturn() {
  local port ts before after out echoed
  port=$(bench_free_port)
  bench_coturn_loopback_conf "$work" "$port" "$secret"
  turnserver -c "$work/turnserver.conf" >/dev/null 2>&1 &
  ts=$!
  pids+=("$ts")
  bench_wait_udp_listen "$port"
  before=$(cpu_ticks "$ts")
  out=$("$natpunch" turn allocate --server "127.0.0.1:$port" --secret "$secret" --peer "127.0.0.1:$peer_port" \
    --count 1 --size 1160 --flood "$secs" --window 64 --json 2>/dev/null) || true
  after=$(cpu_ticks "$ts")
  stop "$ts"
  echoed=$(jq -r '.peers[0].flood.echoed // empty' <<<"$out" 2>/dev/null || true)
  [[ -n $echoed ]] || bench_die "turn allocate --flood through coturn failed: $out"
  echo "$(date -u +%T) (load $(cut -d' ' -f1 /proc/loadavg)) coturn: $(jq -c .peers[0].flood <<<"$out"), server CPU ticks $((after - before))" >&2
  echo "$((2 * echoed)) $(awk -v t=$((after - before)) -v h="$ticks_per_s" 'BEGIN{printf "%.3f", t / h}') $(jq -r .peers[0].flood.seconds <<<"$out")"
}

per() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%d", (b > 0 ? a / b : 0)}'; }

bench_machine
echo "coturn: $(turnserver --version 2>/dev/null | head -1)"
echo "load before: $(bench_load)"
declare -a ours_rate ours_cpu theirs_rate theirs_cpu ratios_rate ratios_cpu
for ((r = 1; r <= runs; r++)); do
  read -r c_pkts c_cpu c_secs < <(measure_coturn) || exit 1
  read -r n_pkts n_cpu n_secs < <(measure_builtin) || exit 1
  theirs_rate+=("$(per "$c_pkts" "$c_secs")"); theirs_cpu+=("$(per "$c_pkts" "$c_cpu")")
  ours_rate+=("$(per "$n_pkts" "$n_secs")"); ours_cpu+=("$(per "$n_pkts" "$n_cpu")")
  ratios_rate+=("$(bench_ratio "${ours_rate[-1]}" "${theirs_rate[-1]}" 2)")
  ratios_cpu+=("$(bench_ratio "${ours_cpu[-1]}" "${theirs_cpu[-1]}" 2)")
done
echo "load after: $(bench_load)"
echo
echo "| relay (loopback, ${secs} s of load, $runs runs) | relayed packets/s min / median / max | relayed packets per server CPU-second min / median / max |"
echo "|---|---|---|"
echo "| coturn \`turnserver\` (baseline; ChannelData, echoes count twice) | $(bench_stats "${theirs_rate[@]}") | $(bench_stats "${theirs_cpu[@]}") |"
echo "| natpunch built-in relay (\`rendezvous\`, one session, limits lifted, sender $( ((mbit == 0)) && echo unpaced || echo "paced at $mbit Mbit/s")) | $(bench_stats "${ours_rate[@]}") | $(bench_stats "${ours_cpu[@]}") |"
echo
printf 'ratio built-in/coturn per run, packets/s: %s; median %s\n' "${ratios_rate[*]}" "$(bench_median "${ratios_rate[@]}")"
printf 'ratio built-in/coturn per run, per server CPU-second: %s; median %s\n' "${ratios_cpu[*]}" "$(bench_median "${ratios_cpu[@]}")"
