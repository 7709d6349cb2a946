#!/usr/bin/env bash
# Times `natpunch simulate matrix` (issue 3's target: 5 x 5 carriers x 10 runs
# x 170,000 probes per side in < 10 s on 2 cores) over repeated runs, next to
# a baseline measured in the same run: the same matrix on one thread, so the
# ratio shows what the second core buys. Prints min/median/max wall seconds.
# Usage: bench/matrix_bench.sh [BUILD_DIR] [REPEATS]   (default: build 5)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${1:-$repo/build}/natpunch"
repeats="${2:-5}"
[[ -x "$bin" ]] || { echo "matrix_bench: $bin not found; build first (scripts/setup.sh)" >&2; exit 1; }
[[ "$repeats" =~ ^[1-9][0-9]*$ ]] || { echo "matrix_bench: REPEATS must be a positive integer" >&2; exit 2; }

args=(simulate matrix --strategy naive --runs 10 --probes 170000 --full-grid --seed 1 --quiet)

time_runs() {  # prints one wall time in seconds per repeat
  local i start end
  for ((i = 0; i < repeats; i++)); do
    start=$(date +%s.%N)
    "$bin" "${args[@]}" "$@" >/dev/null
    end=$(date +%s.%N)
    awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f\n", b - a }'
  done
}

summary() {  # min median max of numbers on stdin
  sort -n | awk '{ v[NR] = $1 } END { printf "%.2f %.2f %.2f\n", v[1], v[int((NR + 1) / 2)], v[NR] }'
}

echo "natpunch ${args[*]}"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
# Other work on the machine inflates wall times: say how loaded it was.
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
read -r t2_min t2_med t2_max < <(time_runs --threads 2 | summary)
read -r t1_min t1_med t1_max < <(time_runs --threads 1 | summary)
printf '%-22s %8s %8s %8s\n' "" min median max
printf '%-22s %8s %8s %8s\n' "--threads 2 (s)" "$t2_min" "$t2_med" "$t2_max"
printf '%-22s %8s %8s %8s\n' "baseline --threads 1" "$t1_min" "$t1_med" "$t1_max"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
printf 'speed-up (median): %.2fx; target < 10 s: %s\n' "$(awk -v a="$t1_med" -v b="$t2_med" 'BEGIN { print a / b }')" \
  "$(awk -v t="$t2_med" 'BEGIN { print (t < 10 ? "met" : "NOT met") }')"
