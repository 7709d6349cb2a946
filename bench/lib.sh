# bench/lib.sh — shared pieces of the benchmark scripts (probe_bench.sh,
# stun_bench.sh, natd_bench.sh): argument checks, build-dir checks, the
# min / median / max summary and the machine/load lines. Sourced, never run:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   bench_init probe_bench.sh        # names the script in messages; handles -h/--help
#
# Every function writes its diagnostics to stderr and exits 2 on bad input,
# so a script fails before it starts measuring.

# The script's name in messages (set by bench_init).
BENCH_NAME=${BENCH_NAME:-bench}

# bench_init NAME "$@": remembers NAME; prints the script's header comment
# (its usage) and exits 0 when the arguments contain -h or --help.
bench_init() {
  BENCH_NAME=$1
  shift
  local a
  for a in "$@"; do
    [[ $a == -- ]] && break
    if [[ $a == -h || $a == --help ]]; then
      bench_usage
      exit 0
    fi
  done
}

# The leading comment block of the calling script (after the shebang).
bench_usage() {
  awk 'NR == 1 && /^#!/ {next} /^#/ {sub(/^# ?/, ""); print; next} {exit}' "$0"
}

bench_die() {
  echo "$BENCH_NAME: $*" >&2
  exit 2
}

# bench_need_int FLAG VALUE MIN MAX: VALUE is an integer in [MIN, MAX].
bench_need_int() {
  local flag=$1 value=$2 min=$3 max=$4
  [[ $value =~ ^[0-9]+$ ]] && ((10#$value >= min && 10#$value <= max)) ||
    bench_die "$flag must be an integer in $min-$max (got '$value')"
}

# bench_need_number FLAG VALUE MAX: VALUE is a positive decimal number <= MAX.
bench_need_number() {
  local flag=$1 value=$2 max=$3
  [[ $value =~ ^[0-9]+(\.[0-9]+)?$ ]] && awk -v v="$value" -v m="$max" 'BEGIN{exit !(v > 0 && v <= m)}' ||
    bench_die "$flag must be a number in (0, $max] (got '$value')"
}

# bench_need_exec PATH HINT...: PATH is an executable file, else HINT says how to build it.
bench_need_exec() {
  local path=$1
  shift
  [[ -x $path ]] || bench_die "$path not found; $*"
}

# bench_need_dir FLAG DIR: DIR exists (a build directory, typically).
bench_need_dir() {
  [[ -d $2 ]] || bench_die "$1: no directory $2"
}

# Summary of numbers given as arguments.
bench_stats() {  # "min / median / max" (integers)
  printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {printf "%d / %d / %d", v[1], v[int((NR+1)/2)], v[NR]}'
}
bench_median() {  # the median (the lower middle one for an even count)
  printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'
}
bench_ratio() {  # A / B with DIGITS decimals (default 3); 0 when B is 0
  awk -v a="$1" -v b="$2" -v d="${3:-3}" 'BEGIN{printf "%.*f", d, (b != 0 ? a/b : 0)}'
}
bench_verdict() {  # VALUE TARGET: "met" when VALUE >= TARGET
  awk -v r="$1" -v t="$2" 'BEGIN{print (r >= t ? "met" : "NOT met")}'
}

# A numeric field of a one-line JSON object on stdin.
bench_field() { sed -E "s/.*\"$1\":([0-9.eE+-]+).*/\1/"; }

bench_machine() {
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(uname -r)"
}
bench_load() { cut -d' ' -f1-3 /proc/loadavg; }

# bench_workdir: makes $work (a temporary directory) and $pids (the PIDs
# the script starts: append with pids+=("$!")); on exit every one of those
# is stopped by PID and $work removed; Ctrl-C exits 130 through the same.
bench_workdir() {
  work=$(mktemp -d)
  pids=()
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}
bench_cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}

# bench_free_port [udp|tcp]: a port on 127.0.0.1 nobody uses now (default udp).
bench_free_port() {
  local type=DGRAM
  [[ ${1:-udp} == tcp ]] && type=STREAM
  /usr/bin/python3 -c "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_$type); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"
}
