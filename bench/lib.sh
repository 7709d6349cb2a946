# bench/lib.sh — shared pieces of the benchmark scripts (probe_bench.sh,
# stun_bench.sh, natd_bench.sh, turn_bench.sh, relay_bench.sh, ...): argument checks,
# build-dir checks, the min / median / max summary and the machine/load lines,
# a free loopback port and coturn settings. Sourced, never run:
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

# A port nobody uses now on 127.0.0.1, for UDP and TCP alike.
bench_free_port() {
  /usr/bin/python3 -c '
import socket
while True:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0)); p = u.getsockname()[1]
    t = socket.socket()
    try:
        t.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass'
}

# bench_wait_udp_listen PORT: until something listens on UDP PORT (5 s at most).
bench_wait_udp_listen() {
  local _
  for _ in $(seq 100); do
    ss -Hlun "sport = :$1" | grep -q . && return 0
    sleep 0.05
  done
  bench_die "nothing listens on UDP port $1"
}

# bench_coturn_loopback_conf DIR PORT SECRET: writes DIR/turnserver.conf for
# a coturn on 127.0.0.1:PORT (no TLS) with use-auth-secret SECRET that
# relays to loopback peers only (every other address denied); its log and
# pid file in DIR.
bench_coturn_loopback_conf() {
  cat >"$1/turnserver.conf" <<CONF
listening-ip=127.0.0.1
relay-ip=127.0.0.1
listening-port=$2
min-port=49152
max-port=65535
realm=natpunch.bench
use-auth-secret
static-auth-secret=$3
no-cli
no-dtls
no-tls
no-rfc5780
no-stdout-log
simple-log
log-file=$1/turnserver.log
pidfile=$1/turnserver.pid
allow-loopback-peers
allowed-peer-ip=127.0.0.1
denied-peer-ip=0.0.0.0-255.255.255.255
denied-peer-ip=::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff
no-multicast-peers
CONF
}

# bench_start_work: a temporary directory $work and a list $pids of the
# processes the script starts; on exit (also Ctrl-C: status 130) they are
# stopped by PID, bench_on_exit runs if the script defines it, and $work is
# removed.
bench_start_work() {
  work=$(mktemp -d)
  pids=()
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}
bench_cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if declare -F bench_on_exit >/dev/null; then bench_on_exit; fi
  rm -rf "$work"
}
