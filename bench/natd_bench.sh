#!/usr/bin/env bash
# natd_bench.sh — packets/s through `natpunch natd`, per direction, against
# the same three-namespace topology forwarded by the kernel without natd
# (the baseline), measured in the same run.
#
#   client 100.64.1.2 -- lan0 [ router: kernel forwarding | natd on tun0 ] wan0 -- server 203.0.113.10
#
# Each run: a bounded burst (--count datagrams, at most --seconds) from
# bench/udp_blaster (sendmmsg, 18-byte payloads = 64-byte frames) to a sink
# (recvmmsg) that reports packets/s between its first and last packet.
# inside->outside: client -> server. outside->inside: the client's sink first
# sends one datagram to the server (natd maps its port; --allocator
# preserving keeps the number), then the server blasts at 203.0.113.111.
#
# Usage (root): bench/natd_bench.sh [--bin PATH] [--runs N] [--count N] [--seconds S] [--id ID]
#                                   [-- EXTRA-NATD-ARGS...]
# Prints a Markdown table (min / median / max packets/s at the sink) and the
# raw numbers. Everything it creates (namespaces np-ID-*, processes) is
# removed on exit.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
bench_init natd_bench.sh "$@"
BIN=$HERE/../build/natpunch
RUNS=3
COUNT=2000000
SECONDS_LIMIT=5
ID=tabench
while [[ $# -gt 0 ]]; do
  case $1 in
    --bin) BIN=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --count) COUNT=$2; shift 2 ;;
    --seconds) SECONDS_LIMIT=$2; shift 2 ;;
    --id) ID=$2; shift 2 ;;
    --) shift; break ;;
    *) bench_die "unknown argument '$1'" ;;
  esac
done
EXTRA=("$@")
[[ $ID =~ ^[A-Za-z0-9]{1,10}$ ]] || bench_die "--id must be 1-10 letters/digits"
bench_need_int --runs "$RUNS" 1 20
bench_need_int --count "$COUNT" 1 20000000
bench_need_int --seconds "$SECONDS_LIMIT" 1 60
bench_need_exec "$BIN" "no natpunch binary there (use --bin)"
[[ $(id -u) -eq 0 ]] || bench_die "needs root (network namespaces)"
BIN=$(realpath "$BIN")

readonly CLIENT=np-$ID-client NAT=np-$ID-nat SERVER=np-$ID-server PUBLIC_IP=203.0.113.111
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  for ns in $CLIENT $NAT $SERVER; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

c++ -std=c++20 -O2 -o "$WORK/udp_blaster" "$HERE/udp_blaster.cpp"
BLASTER=$WORK/udp_blaster

for ns in $CLIENT $NAT $SERVER; do
  if ip netns list | grep -qw "$ns"; then echo "natd_bench.sh: $ns already exists" >&2; trap - EXIT; exit 1; fi
done
for ns in $CLIENT $NAT $SERVER; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip -n $NAT link add lan0 type veth peer name eth0 netns $CLIENT
ip -n $NAT link add wan0 type veth peer name eth0 netns $SERVER
ip -n $CLIENT addr add 100.64.1.2/24 dev eth0
ip -n $CLIENT link set eth0 up
ip -n $CLIENT route add default via 100.64.1.1
ip -n $SERVER addr add 203.0.113.10/24 dev eth0
ip -n $SERVER link set eth0 up
ip -n $SERVER route add 100.64.1.0/24 via 203.0.113.1   # for the kernel-forwarded baseline only
ip -n $NAT addr add 100.64.1.1/24 dev lan0
ip -n $NAT addr add 203.0.113.1/24 dev wan0
ip -n $NAT link set lan0 up
ip -n $NAT link set wan0 up
ip netns exec $NAT sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
  net.ipv4.conf.lan0.rp_filter=0 net.ipv4.conf.wan0.rp_filter=0
# Warm the neighbour caches so the first run does not pay for ARP.
ip netns exec $CLIENT ping -c 1 -W 1 203.0.113.10 >/dev/null

# measure SINK_NS SINK_ARGS... -- SENDER_NS SENDER_ARGS...: prints the sink's packets/s.
measure() {
  local sink_ns=$1; shift
  local sink_args=()
  while [[ $1 != -- ]]; do sink_args+=("$1"); shift; done
  shift
  local sender_ns=$1; shift
  ip netns exec "$sink_ns" "$BLASTER" sink "${sink_args[@]}" --seconds $((SECONDS_LIMIT + 3)) >"$WORK/sink.json" 2>"$WORK/sink.err" &
  local sink=$!
  PIDS+=($sink)
  for _ in $(seq 50); do grep -q ready "$WORK/sink.err" 2>/dev/null && break; sleep 0.05; done
  sleep 0.1
  ip netns exec "$sender_ns" "$BLASTER" send "$@" --count "$COUNT" --seconds "$SECONDS_LIMIT" >"$WORK/send.json"
  wait $sink || true
  local received sent
  received=$(bench_field packets_per_second <"$WORK/sink.json")
  sent=$(bench_field packets_per_second <"$WORK/send.json")
  echo "$(date -u +%T) $*: sent $(bench_field packets <"$WORK/send.json") at $sent/s, received $(bench_field packets <"$WORK/sink.json") at $received/s" >&2
  echo "$received"
}


declare -a BASE_OUT BASE_IN NATD_OUT NATD_IN
echo "== kernel forwarding (baseline), $RUNS runs of $COUNT datagrams" >&2
for r in $(seq "$RUNS"); do
  BASE_OUT+=("$(measure $SERVER --bind 203.0.113.10:9000 -- $CLIENT --bind 100.64.1.2:9001 --to 203.0.113.10:9000)")
  BASE_IN+=("$(measure $CLIENT --bind 100.64.1.2:9000 -- $SERVER --bind 203.0.113.10:9001 --to 100.64.1.2:9000)")
done

POLICY=(--mapping endpoint-independent --filtering endpoint-independent --allocator preserving)
ip netns exec $NAT "$BIN" natd --tun tun0 --inside-cidr 100.64.1.0/24 --public-ip $PUBLIC_IP "${POLICY[@]}" "${EXTRA[@]}" \
  >"$WORK/natd.log" 2>&1 &
NATD=$!
PIDS+=($NATD)
for _ in $(seq 50); do ip -n $NAT link show tun0 >/dev/null 2>&1 && break; sleep 0.1; done
ip -n $NAT link show tun0 >/dev/null 2>&1 || { echo "natd did not start:"; cat "$WORK/natd.log"; exit 1; }
ip -n $NAT rule add iif lan0 lookup 100
ip -n $NAT route add default dev tun0 table 100
ip -n $NAT route add $PUBLIC_IP/32 dev tun0
ip -n $NAT neigh add proxy $PUBLIC_IP dev wan0
sleep 0.3
echo "== natd ${POLICY[*]} ${EXTRA[*]}, $RUNS runs of $COUNT datagrams" >&2
for r in $(seq "$RUNS"); do
  NATD_OUT+=("$(measure $SERVER --bind 203.0.113.10:9000 -- $CLIENT --bind 100.64.1.2:9001 --to 203.0.113.10:9000)")
  NATD_IN+=("$(measure $CLIENT --bind 100.64.1.2:9000 --punch 203.0.113.10:9002 -- $SERVER --bind 203.0.113.10:9001 --to $PUBLIC_IP:9000)")
done
kill -TERM $NATD
wait $NATD || true
echo "== natd: $(tail -1 "$WORK/natd.log")" >&2

echo "| path | inside->outside packets/s (min / median / max) | outside->inside packets/s (min / median / max) |"
echo "|---|---|---|"
echo "| kernel forwarding (baseline) | $(bench_stats "${BASE_OUT[@]}") | $(bench_stats "${BASE_IN[@]}") |"
echo "| natd | $(bench_stats "${NATD_OUT[@]}") | $(bench_stats "${NATD_IN[@]}") |"
