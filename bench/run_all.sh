#!/usr/bin/env bash
# run_all.sh — every natpunch benchmark in one run, each next to its baseline
# measured in the same run, ending with one table of the ratios that the
# targets in bench/RESULTS.md are about:
#
#   micro      Google Benchmark programs: STUN encode/decode and port
#              choosers (natpunch_bench_codec), probe MAC (probe_mac), NAT
#              table operations (nat_table), simulator events/s
#              (simulator), 0 allocations per packet (hot_path_alloc),
#              analyzer rows/s (analyze)
#   probe      bench/probe_bench.sh: probe engine vs a minimal sendmmsg loop
#   stun       bench/stun_bench.sh: natpunch stun-server vs coturn
#   matrix     bench/matrix_bench.sh: simulator, 5 x 5 x 10 runs, 2 threads vs 1
#   natd       bench/natd_bench.sh: natd vs kernel forwarding (root only;
#              skipped otherwise)
#
# Usage: bench/run_all.sh [--build DIR] [--runs N] [--only LIST] [--out DIR]
#   --build DIR  build directory with the bench programs (default: build;
#                cmake --build DIR first — the bench targets are part of all)
#   --runs N     repetitions of every whole-process benchmark (default 3)
#   --only LIST  comma-separated subset of micro,probe,stun,matrix,natd
#   --out DIR    keep every benchmark's full output there (default: a
#                temporary directory, removed at the end)
# Every part is bounded in time (the whole run: ~6 min with --runs 3 on 2
# cores); Ctrl-C stops the part that runs, and the parts that finished are
# still summarised. Exit status: 0 when every part ran, 1 when one failed.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
source "$here/lib.sh"
bench_init run_all.sh "$@"

build="$repo/build" runs=3 only="micro,probe,stun,matrix,natd" out=""
while (($#)); do
  case $1 in
    --build) build=${2:?--build needs a directory}; shift 2 ;;
    --runs) runs=${2:?--runs needs a number}; shift 2 ;;
    --only) only=${2:?--only needs a list}; shift 2 ;;
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    *) bench_die "unknown option '$1' (see --help)" ;;
  esac
done
bench_need_int --runs "$runs" 1 50
[[ -d $build ]] || bench_die "build directory $build not found; run scripts/setup.sh or cmake first"
build="$(cd "$build" && pwd)"
IFS=, read -r -a parts <<<"$only"
for p in "${parts[@]}"; do
  [[ $p =~ ^(micro|probe|stun|matrix|natd)$ ]] || bench_die "--only: unknown part '$p' (micro, probe, stun, matrix, natd)"
done
want() { [[ ,$only, == *,$1,* ]]; }

if [[ -z $out ]]; then
  out="$(mktemp -d)"
  trap 'rm -rf "$out"' EXIT
else
  mkdir -p "$out" || bench_die "cannot create $out"
fi

interrupted=0
trap 'interrupted=1' INT
failed=()
summary=()

echo "natpunch benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC'), build $build, $runs run(s) each"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), kernel $(uname -r)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# run_part NAME COMMAND...: runs one part, its output to $out/NAME.log and,
# condensed, to the terminal.
run_part() {
  local name=$1
  shift
  ((interrupted)) && return 1
  echo
  echo "== $name: $*"
  local start=$SECONDS status=0
  "$@" >"$out/$name.log" 2>&1 || status=$?
  if ((status != 0)); then
    failed+=("$name")
    tail -n 15 "$out/$name.log" | sed 's/^/   /'
    echo "   -> $name failed (exit $status) after $((SECONDS - start)) s; full output: $out/$name.log"
    return 1
  fi
  echo "   done in $((SECONDS - start)) s"
}

# Median of a Google Benchmark aggregate, as "value unit".
gbench_median() {  # FILE BENCHMARK-NAME
  awk -v n="$2_median" '$1 == n { print $2 " " $3; exit }' "$1"
}
gbench_counter() {  # FILE BENCHMARK-NAME COUNTER: the median row's counter value
  awk -v n="$2_median" -v c="$3" '$1 == n { for (i = 1; i <= NF; i++) if (index($i, c "=") == 1) { sub(c "=", "", $i); print $i; exit } }' "$1"
}

if want micro; then
  for prog in codec probe_mac nat_table simulator hot_path_alloc analyze; do
    bin="$build/bench/natpunch_bench_$prog"
    if [[ ! -x $bin ]]; then
      echo; echo "== micro/$prog: $bin not built (cmake --build $build --target natpunch_bench_$prog); skipped"
      failed+=("micro/$prog")
      continue
    fi
    reps=5
    [[ $prog == analyze ]] && reps=3  # ~1 s per iteration
    run_part "micro-$prog" "$bin" --benchmark_repetitions=$reps --benchmark_report_aggregates_only=true \
      --benchmark_min_time=0.2 && grep -E '_median ' "$out/micro-$prog.log" | sed 's/^/   /'
  done
  f="$out/micro-codec.log"
  if [[ -s $f ]]; then
    summary+=("STUN decode of a Binding response (median)|$(gbench_median "$f" StunDecode_Response)|copy baseline $(gbench_median "$f" StunBaseline_CopyResponse)")
    summary+=("STUN encode of a Binding response (median)|$(gbench_median "$f" StunEncode_Response)|")
    summary+=("port choice, Vodafone Beta order (median)|$(gbench_median "$f" PortChooser_BetaDensest)|uniform draw $(gbench_median "$f" PortChooser_BaselineUniformDraw)")
  fi
  f="$out/micro-simulator.log"
  if [[ -s $f ]]; then
    summary+=("simulator events/s, naive KPN x KPN, 20,000 probes per side|$(gbench_counter "$f" Simulator_NaivePair_KpnKpn events_per_s)|heap agenda alone $(gbench_counter "$f" Simulator_BaselineHeapAgenda events_per_s)")
  fi
  f="$out/micro-hot_path_alloc.log"
  if [[ -s $f ]]; then
    allocs=$(awk '/_median / { for (i = 1; i <= NF; i++) if ($i ~ /^allocs_per_packet=/) { sub(/allocs_per_packet=/, "", $i); print $i } }' "$f" | sort -u | tr '\n' ' ')
    summary+=("heap allocations per packet, probe + STUN hot paths|${allocs:-?}|target 0")
  fi
  f="$out/micro-analyze.log"
  if [[ -s $f ]]; then
    summary+=("analyzer, 1 M joined rows, Vodafone Beta (median)|$(gbench_median "$f" Analyze1M_BetaVodafone)|target < 2 s")
  fi
fi

if want probe; then
  if run_part probe "$here/probe_bench.sh" --build "$build" --runs "$runs"; then
    grep -E '^ratio|^target|^rate cap' "$out/probe.log" | sed 's/^/   /'
    r=$(sed -n 's/^ratio engine\/baseline, 256 sockets, random ports: wall \([0-9.]*\).*/\1/p' "$out/probe.log")
    summary+=("probe engine, 256 sockets, birthday pattern / sendmmsg loop|${r:-?}x|target >= 0.90")
    r=$(sed -n 's/^ratio engine\/baseline, 256 sockets, GSO off: wall \([0-9.]*\).*/\1/p' "$out/probe.log")
    summary+=("probe engine, 256 sockets, GSO off / sendmmsg loop|${r:-?}x|target >= 0.90")
  fi
fi

if want stun; then
  if ! command -v turnserver >/dev/null; then
    echo; echo "== stun: coturn (turnserver) not installed (apt-get install coturn); skipped"
    failed+=(stun)
  elif run_part stun "$here/stun_bench.sh" --build "$build" --runs "$runs"; then
    grep -E '^(spread|one): ratio' "$out/stun.log" | sed 's/^/   /'
    r=$(sed -n 's/^spread: ratio natpunch\/coturn per run, wall:.*median \([0-9.]*\).*/\1/p' "$out/stun.log")
    summary+=("STUN server / coturn, Binding responses/s, 8 source addresses (wall)|${r:-?}x|target >= 1.5")
    r=$(sed -n 's/^one: ratio natpunch\/coturn per run, wall:.*median \([0-9.]*\).*/\1/p' "$out/stun.log")
    summary+=("STUN server / coturn, Binding responses/s, one source address (wall)|${r:-?}x|target >= 1.5")
  fi
fi

if want matrix; then
  if run_part matrix "$here/matrix_bench.sh" "$build" "$runs"; then
    tail -n 5 "$out/matrix.log" | sed 's/^/   /'
    r=$(awk '$1 == "--threads" && $2 == "2" { print $5; exit }' "$out/matrix.log")
    summary+=("simulator, 5 x 5 x 10 runs x 170,000 probes, 2 threads (median)|${r:-?} s|target < 10 s")
  fi
fi

if want natd; then
  if ((EUID != 0)); then
    echo; echo "== natd: needs root (network namespaces); skipped"
  elif run_part natd "$here/natd_bench.sh" --bin "$build/natpunch" --runs "$runs"; then
    grep -E '^\|' "$out/natd.log" | sed 's/^/   /'
  fi
fi

echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| figure | this run | baseline / target |"
echo "|---|---|---|"
for row in "${summary[@]}"; do
  IFS='|' read -r what value ref <<<"$row"
  echo "| $what | $value | $ref |"
done
((interrupted)) && echo "(interrupted: parts after the one running at Ctrl-C were not run)"
if ((${#failed[@]})); then
  echo "failed or skipped: ${failed[*]}"
  exit 1
fi
exit 0
