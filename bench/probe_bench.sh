#!/usr/bin/env bash
# probe_bench.sh — the probe engine's packets/s over loopback (issue 7):
# io::PunchDriver driving a punch::ProbingMachine from 1 and from 256
# sockets (and from 256 with UDP GSO off), against a minimal single-socket
# sendmmsg() loop (the machine's limit), all measured in the same run, interleaved run by run so a change
# in background load hits every mode alike. Plus the rate limiter's
# precision: the engine capped at --rate packets/s.
#
# Usage: bench/probe_bench.sh [--build DIR] [--runs N] [--seconds S] [--rate R]
#   (defaults: build-f, 3 runs, 2 s per measurement, 20000/s for the cap)
# Needs natpunch_probe_load built in DIR (cmake --build DIR --target natpunch_probe_load).
# Everything goes to a sink socket on 127.0.0.1 inside the load process.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$repo/build-f"
runs=3
secs=2
rate=20000
while [[ $# -gt 0 ]]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --seconds) secs=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    *) echo "probe_bench.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[[ $runs =~ ^[1-9][0-9]?$ ]] || { echo "probe_bench.sh: --runs must be 1-99" >&2; exit 2; }
[[ $rate =~ ^[1-9][0-9]*$ ]] || { echo "probe_bench.sh: --rate must be a positive integer" >&2; exit 2; }
load="$build/bench/natpunch_probe_load"
[[ -x $load ]] || { echo "probe_bench.sh: $load not found; build it: cmake --build $build --target natpunch_probe_load" >&2; exit 2; }

field() { sed -E "s/.*\"$1\":([0-9.]+).*/\1/"; }
stats() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {printf "%d / %d / %d", v[1], v[int((NR+1)/2)], v[NR]}'; }
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", a/b}'; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(uname -r)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
# Wall rate (packets/s) and CPU rate (packets per CPU-second of the load
# process: robust when other jobs share the cores) of each mode, per run.
declare -a bw bc ow oc mw mc nw nc capped r1w r1c r256w r256c rnw rnc
for ((r = 1; r <= runs; r++)); do
  b=$("$load" baseline --seconds "$secs")
  e1=$("$load" engine --sockets 1 --seconds "$secs")
  e256=$("$load" engine --sockets 256 --seconds "$secs")
  n256=$("$load" engine --sockets 256 --seconds "$secs" --gso off)
  c=$("$load" engine --sockets 256 --seconds "$secs" --rate "$rate")
  bw+=("$(field packets_per_second <<<"$b")"); bc+=("$(field packets_per_cpu_second <<<"$b")")
  ow+=("$(field packets_per_second <<<"$e1")"); oc+=("$(field packets_per_cpu_second <<<"$e1")")
  mw+=("$(field packets_per_second <<<"$e256")"); mc+=("$(field packets_per_cpu_second <<<"$e256")")
  nw+=("$(field packets_per_second <<<"$n256")"); nc+=("$(field packets_per_cpu_second <<<"$n256")")
  capped+=("$(field packets_per_second <<<"$c")")
  rnw+=("$(ratio "${nw[-1]}" "${bw[-1]}")"); rnc+=("$(ratio "${nc[-1]}" "${bc[-1]}")")
  r1w+=("$(ratio "${ow[-1]}" "${bw[-1]}")"); r1c+=("$(ratio "${oc[-1]}" "${bc[-1]}")")
  r256w+=("$(ratio "${mw[-1]}" "${bw[-1]}")"); r256c+=("$(ratio "${mc[-1]}" "${bc[-1]}")")
  printf 'run %d (load %s):\n  %s\n  %s\n  %s\n  %s\n  %s\n' "$r" "$(cut -d' ' -f1 /proc/loadavg)" "$b" "$e1" "$e256" "$n256" "$c" >&2
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| mode (${secs} s each, $runs runs) | packets/s (wall) min / median / max | packets per CPU-second min / median / max |"
echo "|---|---|---|"
echo "| minimal sendmmsg loop, 1 socket (baseline) | $(stats "${bw[@]}") | $(stats "${bc[@]}") |"
echo "| probe engine, 1 socket | $(stats "${ow[@]}") | $(stats "${oc[@]}") |"
echo "| probe engine, 256 sockets | $(stats "${mw[@]}") | $(stats "${mc[@]}") |"
echo "| probe engine, 256 sockets, UDP GSO off | $(stats "${nw[@]}") | $(stats "${nc[@]}") |"
echo "| probe engine, 256 sockets, capped at $rate/s | $(stats "${capped[@]}") | - |"
echo
printf 'ratio engine/baseline, wall rate: 1 socket %s (runs %s), 256 sockets %s (runs %s)\n' \
  "$(median "${r1w[@]}")" "${r1w[*]}" "$(median "${r256w[@]}")" "${r256w[*]}"
printf 'ratio engine/baseline, CPU rate:  1 socket %s (runs %s), 256 sockets %s (runs %s)\n' \
  "$(median "${r1c[@]}")" "${r1c[*]}" "$(median "${r256c[@]}")" "${r256c[*]}"
printf 'ratio engine/baseline, 256 sockets, GSO off: wall %s (runs %s), CPU %s (runs %s)\n' \
  "$(median "${rnw[@]}")" "${rnw[*]}" "$(median "${rnc[@]}")" "${rnc[*]}"
for kind in wall CPU; do
  if [[ $kind == wall ]]; then m=$(median "${r256w[@]}"); else m=$(median "${r256c[@]}"); fi
  printf 'target 256 sockets >= 0.90 of baseline (%s rate): %s\n' "$kind" "$(awk -v r="$m" 'BEGIN{print (r >= 0.9 ? "met" : "NOT met")}')"
done
printf 'rate cap precision: median %s/s for %s/s (%+.2f %%)\n' "$(median "${capped[@]}")" "$rate" \
  "$(awk -v a="$(median "${capped[@]}")" -v b="$rate" 'BEGIN{print (a-b)*100/b}')"
