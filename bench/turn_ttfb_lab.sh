#!/usr/bin/env bash
# turn_ttfb_lab.sh — time to first byte through TURN from a peer whose
# network blocks UDP, in the lab: client a behind the `udpblock` NAT kind
# (no UDP leaves), coturn (Debian's turnserver, use-auth-secret, TLS on
# 443 with a CA made for the run) on the lab's public server, coturn's
# turnutils_peer echoing on client b's public address. Each run is one
# `natpunch turn allocate --count 1` from a, which reports (--json):
#   connect_ms     TCP connect (+ TLS handshake, certificate checked)
#   allocate_ms    the Allocate transaction after the 401 challenge
#   bind_ms        ChannelBind to the peer
#   first_echo_ms  from before connecting to the first echo received:
#                  connect + 401 + Allocate + ChannelBind + one relayed
#                  round trip = the time to first byte
# over TLS on 443 and over TCP on 3478 (same server, same run, alternating).
# A session would add its rendezvous registration in front; the rendezvous
# does not listen on TCP/TLS yet, so that part is not measured here.
#
# Usage: sudo flock /tmp/natpunch-lab.lock bench/turn_ttfb_lab.sh [--build DIR] [--runs N]
#   (defaults: build, 10 runs per transport). Root; the lab id is bttfb
#   (brought down at the end, also on failure or Ctrl-C).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$repo/bench/lib.sh"
bench_init turn_ttfb_lab.sh "$@"
build="$repo/build"
runs=10
while [[ $# -gt 0 ]]; do
  case $1 in
    --build) build=${2:?--build needs a directory}; shift 2 ;;
    --runs) runs=${2:?--runs needs a number}; shift 2 ;;
    *) bench_die "unknown argument '$1' (see --help)" ;;
  esac
done
bench_need_int --runs "$runs" 1 1000
bench_need_dir --build "$build"
natpunch="$build/natpunch"
bench_need_exec "$natpunch" "build natpunch_cli in $build"
[[ $EUID -eq 0 ]] || bench_die "must run as root (network namespaces)"
for p in turnserver turnutils_peer openssl jq; do
  command -v "$p" >/dev/null || bench_die "$p not found (apt-get install coturn openssl jq)"
done

lab="$repo/lab/lab.sh"
id=bttfb
bench_on_exit() { "$lab" down --id "$id" >/dev/null 2>&1 || true; }
bench_start_work
chmod 755 "$work"

"$lab" up --id "$id" --a udpblock --b none >"$work/lab.log" 2>&1 || { cat "$work/lab.log" >&2; bench_die "lab up failed"; }

# A CA and a server certificate naming 203.0.113.10, for this run only.
(
  cd "$work"
  ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
  printf 'subjectAltName=IP:203.0.113.10\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >server.ext
  openssl req -x509 $ec -keyout ca.key -out ca.pem -days 2 -subj '/CN=natpunch bench CA'
  openssl req $ec -keyout server.key -out server.csr -subj '/CN=turn.natpunch.test'
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile server.ext
) >"$work/openssl.log" 2>&1 || { cat "$work/openssl.log" >&2; bench_die "openssl failed"; }
chmod 644 "$work"/*.pem "$work"/*.key

secret=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
cat >"$work/turnserver.conf" <<EOF
listening-ip=203.0.113.10
relay-ip=203.0.113.10
listening-port=3478
tls-listening-port=443
cert=$work/server.pem
pkey=$work/server.key
realm=natpunch.bench
use-auth-secret
static-auth-secret=$secret
no-cli
no-dtls
no-tlsv1
no-tlsv1_1
no-rfc5780
no-stdout-log
simple-log
log-file=$work/turnserver.log
pidfile=$work/turnserver.pid
denied-peer-ip=0.0.0.0-255.255.255.255
denied-peer-ip=::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff
allowed-peer-ip=203.0.113.102
EOF
"$lab" exec --id "$id" server -- turnserver -c "$work/turnserver.conf" >/dev/null 2>&1 &
pids+=("$!")
"$lab" exec --id "$id" b -- turnutils_peer -L 203.0.113.102 -p 3480 >/dev/null 2>&1 &
pids+=("$!")
for _ in $(seq 100); do
  "$lab" exec --id "$id" server -- ss -Hltn 2>/dev/null | grep -q ':443 ' && break
  sleep 0.05
done
"$lab" exec --id "$id" server -- ss -Hltn 2>/dev/null | grep -q ':443 ' || bench_die "coturn does not listen on 443"
sleep 0.2

# one TRANSPORT: one allocation from a; prints "first connect allocate bind" in ms.
one() {
  local args out
  if [[ $1 == tls ]]; then args="--server 203.0.113.10:443 --tls --ca $work/ca.pem"; else args="--server 203.0.113.10:3478 --tcp"; fi
  out=$("$lab" exec --id "$id" a -- "$natpunch" turn allocate $args --secret "$secret" \
    --peer 203.0.113.102:3480 --count 1 --size 100 --timeout 5 --json 2>/dev/null) || {
    echo "turn_ttfb_lab.sh: allocation over $1 failed: $out" >&2
    return 1
  }
  jq -r '[.first_echo_ms, .connect_ms, .allocate_ms, .peers[0].bind_ms] | map(. * 1000 | floor / 1000) | @tsv' <<<"$out"
}

bench_machine
echo "coturn: $(turnserver --version 2>/dev/null | head -1); lab: a behind udpblock, coturn on 203.0.113.10"
echo "load before: $(bench_load)"
declare -a tls_first tls_connect tcp_first tcp_connect tls_alloc tcp_alloc
for ((r = 1; r <= runs; r++)); do
  read -r f c a b < <(one tls) || exit 1
  tls_first+=("$f"); tls_connect+=("$c"); tls_alloc+=("$a")
  read -r f c a b < <(one tcp) || exit 1
  tcp_first+=("$f"); tcp_connect+=("$c"); tcp_alloc+=("$a")
done
echo "load after: $(bench_load)"
stats() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {printf "%.2f / %.2f / %.2f", v[1], v[int((NR+1)/2)], v[NR]}'; }
echo
echo "| from a udpblock peer ($runs runs each, ms) | first echo (TTFB) min / median / max | connect | Allocate after the 401 |"
echo "|---|---|---|---|"
echo "| TURN over TLS, port 443 | $(stats "${tls_first[@]}") | $(stats "${tls_connect[@]}") | $(stats "${tls_alloc[@]}") |"
echo "| TURN over TCP, port 3478 | $(stats "${tcp_first[@]}") | $(stats "${tcp_connect[@]}") | $(stats "${tcp_alloc[@]}") |"
