#!/usr/bin/env bash
# probe_bench.sh — the probe engine's packets/s over loopback (issue 7):
# io::PunchDriver driving a punch::ProbingMachine from 1 and from 256
# sockets (256 with UDP GSO off, and 256 towards uniformly random ports of
# --ports sinks: the birthday attack's pattern, where GSO has nothing to
# merge), against a minimal single-socket sendmmsg() loop (the machine's
# limit), all measured in the same run, interleaved run by run so a change
# in background load hits every mode alike. Plus the rate limiter's
# precision: the engine capped at --rate packets/s.
#
# Usage: bench/probe_bench.sh [--build DIR] [--runs N] [--seconds S] [--rate R] [--ports P]
#   (defaults: build-f, 3 runs, 2 s per measurement, 20000/s for the cap, 64 sink ports)
# Needs natpunch_probe_load built in DIR (cmake --build DIR --target natpunch_probe_load).
# Everything goes to sink sockets on 127.0.0.1 inside the load process.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$repo/bench/lib.sh"
bench_init probe_bench.sh "$@"
build="$repo/build-f"
runs=3
secs=2
rate=20000
ports=64
while [[ $# -gt 0 ]]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --seconds) secs=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --ports) ports=$2; shift 2 ;;
    *) bench_die "unknown argument '$1'" ;;
  esac
done
bench_need_int --runs "$runs" 1 99
bench_need_number --seconds "$secs" 30
bench_need_int --rate "$rate" 1 100000000
bench_need_int --ports "$ports" 2 1024
bench_need_dir --build "$build"
load="$build/bench/natpunch_probe_load"
bench_need_exec "$load" "build it: cmake --build $build --target natpunch_probe_load"

bench_machine
echo "load before: $(bench_load)"
# Wall rate (packets/s) and CPU rate (packets per CPU-second of the load
# process: robust when other jobs share the cores) of each mode, per run.
declare -a bw bc pw pc ow oc mw mc nw nc xw xc capped r1w r1c r256w r256c rnw rnc rxw rxc rxpw rxpc
for ((r = 1; r <= runs; r++)); do
  b=$("$load" baseline --seconds "$secs")
  bp=$("$load" baseline --seconds "$secs" --ports "$ports")
  e1=$("$load" engine --sockets 1 --seconds "$secs")
  e256=$("$load" engine --sockets 256 --seconds "$secs")
  n256=$("$load" engine --sockets 256 --seconds "$secs" --gso off)
  x256=$("$load" engine --sockets 256 --seconds "$secs" --ports "$ports")
  c=$("$load" engine --sockets 256 --seconds "$secs" --rate "$rate")
  bw+=("$(bench_field packets_per_second <<<"$b")"); bc+=("$(bench_field packets_per_cpu_second <<<"$b")")
  ow+=("$(bench_field packets_per_second <<<"$e1")"); oc+=("$(bench_field packets_per_cpu_second <<<"$e1")")
  mw+=("$(bench_field packets_per_second <<<"$e256")"); mc+=("$(bench_field packets_per_cpu_second <<<"$e256")")
  nw+=("$(bench_field packets_per_second <<<"$n256")"); nc+=("$(bench_field packets_per_cpu_second <<<"$n256")")
  xw+=("$(bench_field packets_per_second <<<"$x256")"); xc+=("$(bench_field packets_per_cpu_second <<<"$x256")")
  pw+=("$(bench_field packets_per_second <<<"$bp")"); pc+=("$(bench_field packets_per_cpu_second <<<"$bp")")
  capped+=("$(bench_field packets_per_second <<<"$c")")
  rxpw+=("$(bench_ratio "${xw[-1]}" "${pw[-1]}")"); rxpc+=("$(bench_ratio "${xc[-1]}" "${pc[-1]}")")
  rnw+=("$(bench_ratio "${nw[-1]}" "${bw[-1]}")"); rnc+=("$(bench_ratio "${nc[-1]}" "${bc[-1]}")")
  rxw+=("$(bench_ratio "${xw[-1]}" "${bw[-1]}")"); rxc+=("$(bench_ratio "${xc[-1]}" "${bc[-1]}")")
  r1w+=("$(bench_ratio "${ow[-1]}" "${bw[-1]}")"); r1c+=("$(bench_ratio "${oc[-1]}" "${bc[-1]}")")
  r256w+=("$(bench_ratio "${mw[-1]}" "${bw[-1]}")"); r256c+=("$(bench_ratio "${mc[-1]}" "${bc[-1]}")")
  printf 'run %d (load %s):\n  %s\n  %s\n  %s\n  %s\n  %s\n  %s\n  %s\n' "$r" "$(cut -d' ' -f1 /proc/loadavg)" \
    "$b" "$bp" "$e1" "$e256" "$n256" "$x256" "$c" >&2
done
echo "load after: $(bench_load)"
echo
echo "| mode (${secs} s each, $runs runs) | packets/s (wall) min / median / max | packets per CPU-second min / median / max |"
echo "|---|---|---|"
echo "| minimal sendmmsg loop, 1 socket (baseline) | $(bench_stats "${bw[@]}") | $(bench_stats "${bc[@]}") |"
echo "| minimal sendmmsg loop, 1 socket, random ports of $ports sinks | $(bench_stats "${pw[@]}") | $(bench_stats "${pc[@]}") |"
echo "| probe engine, 1 socket | $(bench_stats "${ow[@]}") | $(bench_stats "${oc[@]}") |"
echo "| probe engine, 256 sockets | $(bench_stats "${mw[@]}") | $(bench_stats "${mc[@]}") |"
echo "| probe engine, 256 sockets, UDP GSO off | $(bench_stats "${nw[@]}") | $(bench_stats "${nc[@]}") |"
echo "| probe engine, 256 sockets, random ports of $ports sinks | $(bench_stats "${xw[@]}") | $(bench_stats "${xc[@]}") |"
echo "| probe engine, 256 sockets, capped at $rate/s | $(bench_stats "${capped[@]}") | - |"
echo
printf 'ratio engine/baseline, wall rate: 1 socket %s (runs %s), 256 sockets %s (runs %s)\n' \
  "$(bench_median "${r1w[@]}")" "${r1w[*]}" "$(bench_median "${r256w[@]}")" "${r256w[*]}"
printf 'ratio engine/baseline, CPU rate:  1 socket %s (runs %s), 256 sockets %s (runs %s)\n' \
  "$(bench_median "${r1c[@]}")" "${r1c[*]}" "$(bench_median "${r256c[@]}")" "${r256c[*]}"
printf 'ratio engine/baseline, 256 sockets, GSO off: wall %s (runs %s), CPU %s (runs %s)\n' \
  "$(bench_median "${rnw[@]}")" "${rnw[*]}" "$(bench_median "${rnc[@]}")" "${rnc[*]}"
printf 'ratio engine/baseline, 256 sockets, random ports: wall %s (runs %s), CPU %s (runs %s)\n' \
  "$(bench_median "${rxw[@]}")" "${rxw[*]}" "$(bench_median "${rxc[@]}")" "${rxc[*]}"
printf 'ratio engine/baseline to the same random ports, 256 sockets: wall %s (runs %s), CPU %s (runs %s)\n' \
  "$(bench_median "${rxpw[@]}")" "${rxpw[*]}" "$(bench_median "${rxpc[@]}")" "${rxpc[*]}"
# The honest figure for the birthday attack is the one GSO cannot help:
# random ports (and GSO off, its one-destination stand-in).
for kind in wall CPU; do
  if [[ $kind == wall ]]; then
    x=$(bench_median "${rxw[@]}"); xp=$(bench_median "${rxpw[@]}"); n=$(bench_median "${rnw[@]}")
  else
    x=$(bench_median "${rxc[@]}"); xp=$(bench_median "${rxpc[@]}"); n=$(bench_median "${rnc[@]}")
  fi
  printf 'target 256 sockets >= 0.90 of baseline (%s rate): GSO off %s; random ports vs one-sink baseline %s, vs same-ports baseline %s\n' \
    "$kind" "$(bench_verdict "$n" 0.9)" "$(bench_verdict "$x" 0.9)" "$(bench_verdict "$xp" 0.9)"
done
printf 'rate cap precision: median %s/s for %s/s (%+.2f %%)\n' "$(bench_median "${capped[@]}")" "$rate" \
  "$(awk -v a="$(bench_median "${capped[@]}")" -v b="$rate" 'BEGIN{print (a-b)*100/b}')"
