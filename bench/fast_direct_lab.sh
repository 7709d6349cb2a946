#!/usr/bin/env bash
# fast_direct_lab.sh — how soon easy pairs are direct, and when the first
# byte arrives, in the lab (issue 19, "Numbers": direct within 3 round trips
# of the pairing, first byte within 1 round trip via the relay).
#
# Per pair of lab kinds, RUNS times: a fresh `natpunch rendezvous` on the
# lab's server (its default 500 ms common start), `natpunch listen` on b (or
# on a2, the second phone behind a's NAT, for the pair "same"), `natpunch
# connect` on a, both --json, no NAT flags (each side learns its NAT at
# registration), the lab table's easy budgets. From the caller's result:
#   direct      time_to_direct_ms: pairing -> first direct path ("-" when the
#               pair stayed relayed)
#   ttfb        time_to_first_byte_ms: pairing -> the session carried data
#               (by default at once, over the relay; --wait-direct: only
#               once punching ended)
#   peer_data   test_datagram_after_ms: our session opening -> the peer's
#               test datagram (sent as its session opened) arrived here:
#               the first byte's trip ("-" from binaries that lack it)
# min / median / max over the runs, in ms. The lab's paths are sub-ms: the
# times are the machine's scheduling and the protocol's waits.
#
# Usage: sudo flock /tmp/natpunch-lab.lock bench/fast_direct_lab.sh
#          [--natpunch PATH] [--runs N] [--wait-direct | --open-early] [--pairs 'A:B ...']
#   defaults: build/natpunch, 5 runs, pairs 'none:prc prc:prc fc:rc
#   prc+v6fw:prc+v6fw same:prc'. --wait-direct: the opt-out (open only when
#   punching ended); --open-early: for binaries from before it was the
#   default. A kind profile:ID (profile:kpn-nl:profile:vodafone-nl is the pair
#   kpn-nl x vodafone-nl) gets the demo's budget (default probe budget and
#   rate, --punch-timeout-ms 4000) instead of the easy pairs'. Root; the lab
#   id is bfast (brought down at the end, also on failure or Ctrl-C).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$repo/bench/lib.sh"
bench_init fast_direct_lab.sh "$@"
natpunch="$repo/build/natpunch"
runs=5
early=()
pairs="none:prc prc:prc fc:rc prc+v6fw:prc+v6fw same:prc"
while [[ $# -gt 0 ]]; do
  case $1 in
    --natpunch) natpunch=${2:?--natpunch needs a path}; shift 2 ;;
    --runs) runs=${2:?--runs needs a number}; shift 2 ;;
    --open-early) early=(--open-early); shift ;;
    --wait-direct) early=(--wait-direct); shift ;;
    --pairs) pairs=${2:?--pairs needs 'A:B ...'}; shift 2 ;;
    *) bench_die "unknown argument '$1' (see --help)" ;;
  esac
done
bench_need_int --runs "$runs" 1 100
bench_need_exec "$natpunch" "build natpunch_cli"
[[ $EUID -eq 0 ]] || bench_die "must run as root (network namespaces)"
command -v jq >/dev/null || bench_die "jq not found (apt-get install jq)"

lab="$repo/lab/lab.sh"
id=bfast
bench_on_exit() { "$lab" down --id "$id" >/dev/null 2>&1 || true; }
bench_start_work
# shellcheck disable=SC2154  # $work: bench_start_work
chmod 755 "$work"
easy_budget=(--probe-budget 4000 --punch-timeout-ms 2500 --send-interval-us 500 --wait 20 --json "${early[@]}")
hard_budget=(--punch-timeout-ms 4000 --wait 20 --json "${early[@]}")  # lab/demo.sh's
budget=("${easy_budget[@]}")

# one CALLER_HOST LISTENER_HOST: one session; prints "direct ttfb peer_data".
one() {
  local out="$work/listen.out" identity="" _
  : >"$out"
  "$lab" exec --id "$id" "$2" -- "$natpunch" listen --accept-any --rendezvous 203.0.113.10:7000 "${budget[@]}" \
    >"$out" 2>"$work/listen.err" &
  local listener=$!
  pids+=("$listener")
  for _ in $(seq 200); do
    identity=$(head -1 "$out" | jq -r '.identity // empty' 2>/dev/null || true)
    [[ -n $identity ]] && grep -q "registered at" "$work/listen.err" && break
    sleep 0.025
  done
  [[ -n $identity ]] || { kill "$listener" 2>/dev/null; bench_die "the listener printed no identity"; }
  local result
  result=$("$lab" exec --id "$id" "$1" -- "$natpunch" connect --peer "$identity" --rendezvous 203.0.113.10:7000 \
    "${budget[@]}" 2>"$work/connect.err" | tail -1) || true
  wait "$listener" || true
  jq -r '[(.time_to_direct_ms // .session.time_to_direct_ms // "-"), .time_to_first_byte_ms, (.test_datagram_after_ms // "-")]
         | map(if type == "number" then (. * 100 | round / 100) else . end) | @tsv' <<<"$result"
}

stats() {  # min / median / max of numbers (2 decimals); "-" when there are none
  local numbers
  numbers=$(printf '%s\n' "$@" | grep -E '^-?[0-9.]+$' || true)
  [[ -n $numbers ]] || { echo "-"; return; }
  sort -g <<<"$numbers" | awk '{v[NR]=$1} END {printf "%.2f / %.2f / %.2f", v[1], v[int((NR+1)/2)], v[NR]}'
}

bench_machine
echo "natpunch: $natpunch ${early[*]}; $runs runs per pair; load before: $(bench_load)"
printf '%-22s %-26s %-26s %s\n' pair "direct ms (min/med/max)" "ttfb ms" "peer_data ms"
for pair in $pairs; do
  if [[ $pair == profile:* ]]; then  # profile:X:profile:Y
    rest=${pair#profile:}
    a=profile:${rest%%:*} b=${rest#*:}
    budget=("${hard_budget[@]}")
  else
    a=${pair%%:*} b=${pair#*:}
    budget=("${easy_budget[@]}")
  fi
  caller=a listener=b
  if [[ $a == same ]]; then
    up="--a $b --a-clients 2 --b prc"
    listener=a2
  else
    up="--a $a --b $b"
  fi
  "$lab" down --id "$id" >/dev/null 2>&1 || true
  # shellcheck disable=SC2086
  "$lab" up --id "$id" $up >"$work/lab.log" 2>&1 || { cat "$work/lab.log" >&2; bench_die "lab up failed for $pair"; }
  "$lab" exec --id "$id" server -- "$natpunch" rendezvous --listen 203.0.113.10:7000 --stun-alt 203.0.113.11:7001 \
    >"$work/rendezvous.log" 2>&1 &
  server=$!
  pids+=("$server")
  for _ in $(seq 100); do
    "$lab" exec --id "$id" server -- ss -Hunl 2>/dev/null | grep -q '203.0.113.11:7001' && break
    sleep 0.05
  done
  declare -a direct=() ttfb=() peer=()
  for ((r = 1; r <= runs; r++)); do
    read -r d t p < <(one "$caller" "$listener")
    direct+=("$d"); ttfb+=("$t"); peer+=("$p")
  done
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  printf '%-22s %-26s %-26s %s\n' "$pair" "$(stats "${direct[@]}")" "$(stats "${ttfb[@]}")" "$(stats "${peer[@]}")"
done
echo "load after: $(bench_load)"
