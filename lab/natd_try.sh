#!/usr/bin/env bash
# natd_try.sh — builds a three-namespace lab around `natpunch natd` and runs
# `natpunch stun` and `natpunch nat-type` from behind it: the hand check of
# issue 4's routing design before lab.sh learns the natd NAT kinds.
#
#   client (100.64.1.2) -- lan0 [ nat: natd on tun0, public 203.0.113.111 ] wan0 -- server (203.0.113.10/.11)
#
# Usage (root): lab/natd_try.sh [--bin PATH] [--natd-bin PATH] [--id ID] [--idle-check S] [--icmp] [--jumbo SIZE]
#                               [-- NATD-POLICY-ARGS...]
# --natd-bin PATH: run natd from another binary than the client/server commands.
# --icmp: ping the server through natd, then `ping -M do -s 1472` (with natd --mtu below
#   1500 the client must hear "Frag needed and DF set (mtu = N)" from 100.64.1.1).
# --jumbo SIZE: the client sends one UDP datagram of SIZE payload bytes (up to 65507,
#   fragmented by its kernel) to a UDP echo on the server and waits for it to come back whole.
# --idle-check S: S is the idle (established) timeout given to natd; the
# client asks from one local port again after S-2 s (same mapping expected)
# and after a further S+2 s (the mapping expired: a new one expected).
# Default policy: --mapping endpoint-independent --filtering endpoint-independent --allocator sequential.
# Everything it creates (namespaces np-ID-*, the processes it started) is removed on exit, also on failure.
set -euo pipefail

BIN=${BIN:-$(dirname "$0")/../build/natpunch}
ID=natdtry
IDLE_CHECK=
NATD_BIN=
ICMP_CHECK=
JUMBO=
while [[ $# -gt 0 ]]; do
  case $1 in
    --bin) BIN=$2; shift 2 ;;
    --id) ID=$2; shift 2 ;;
    --idle-check) IDLE_CHECK=$2; shift 2 ;;
    --natd-bin) NATD_BIN=$2; shift 2 ;;
    --icmp) ICMP_CHECK=1; shift ;;
    --jumbo) JUMBO=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "natd_try.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
POLICY=("$@")
[[ ${#POLICY[@]} -gt 0 ]] || POLICY=(--mapping endpoint-independent --filtering endpoint-independent --allocator sequential)
[[ $ID =~ ^[A-Za-z0-9]{1,12}$ ]] || { echo "natd_try.sh: --id must be 1-12 letters/digits" >&2; exit 2; }
[[ -x $BIN ]] || { echo "natd_try.sh: no natpunch binary at $BIN (use --bin)" >&2; exit 2; }
BIN=$(realpath "$BIN")
NATD_BIN=$(realpath "${NATD_BIN:-$BIN}")
[[ -z $JUMBO || ( $JUMBO =~ ^[0-9]+$ && $JUMBO -le 65507 ) ]] || { echo "natd_try.sh: --jumbo must be 0-65507" >&2; exit 2; }

readonly CLIENT=np-$ID-client NAT=np-$ID-nat SERVER=np-$ID-server
readonly PUBLIC_IP=203.0.113.111
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

for ns in $CLIENT $NAT $SERVER; do
  if ip netns list | grep -qw "$ns"; then echo "natd_try.sh: $ns already exists" >&2; trap - EXIT; exit 1; fi
done
for ns in $CLIENT $NAT $SERVER; do ip netns add "$ns"; ip -n "$ns" link set lo up; done

# Links are made from inside the lab, never in the root namespace.
ip -n $NAT link add lan0 type veth peer name eth0 netns $CLIENT
ip -n $NAT link add wan0 type veth peer name eth0 netns $SERVER

ip -n $CLIENT addr add 100.64.1.2/24 dev eth0
ip -n $CLIENT link set eth0 up
ip -n $CLIENT route add default via 100.64.1.1

ip -n $SERVER addr add 203.0.113.10/24 dev eth0
ip -n $SERVER addr add 203.0.113.11/24 dev eth0
ip -n $SERVER link set eth0 up   # no default route: the public IP is on-link (proxy ARP)

ip -n $NAT addr add 100.64.1.1/24 dev lan0
ip -n $NAT addr add 203.0.113.1/24 dev wan0
ip -n $NAT link set lan0 up
ip -n $NAT link set wan0 up
# natd writes translated packets back into tun0: they arrive "from" tun0
# with sources routed elsewhere, which strict reverse-path filtering drops.
ip netns exec $NAT sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
  net.ipv4.conf.lan0.rp_filter=0 net.ipv4.conf.wan0.rp_filter=0

ip netns exec $SERVER "$BIN" stun-server --listen 203.0.113.10:3478 --alt 203.0.113.11:3479 >"$WORK/server.log" 2>&1 &
PIDS+=($!)
ip netns exec $NAT "$NATD_BIN" natd --tun tun0 --inside-cidr 100.64.1.0/24 --public-ip $PUBLIC_IP "${POLICY[@]}" \
  --log-mappings "$WORK/mappings.log" >"$WORK/natd.log" 2>&1 &
NATD=$!
PIDS+=($NATD)

for _ in $(seq 50); do ip -n $NAT link show tun0 >/dev/null 2>&1 && break; sleep 0.1; done
ip -n $NAT link show tun0 >/dev/null 2>&1 || { echo "natd did not create tun0:"; cat "$WORK/natd.log"; exit 1; }
# The routing design of issue 4: inside traffic and traffic for the public
# IP go into tun0; natd's output is forwarded by the kernel's main table.
ip -n $NAT rule add iif lan0 lookup 100
ip -n $NAT route add default dev tun0 table 100
ip -n $NAT route add $PUBLIC_IP/32 dev tun0
ip -n $NAT neigh add proxy $PUBLIC_IP dev wan0
sleep 0.3

echo "== natpunch natd ${POLICY[*]}"
echo "== client: natpunch stun 203.0.113.10:3478"
ip netns exec $CLIENT "$BIN" stun 203.0.113.10:3478 || true
echo "== client: natpunch nat-type 203.0.113.10:3478"
ip netns exec $CLIENT "$BIN" nat-type 203.0.113.10:3478 || true

if [[ -n $ICMP_CHECK ]]; then
  echo "== client: ping -c 3 203.0.113.10"
  ip netns exec $CLIENT ping -c 3 -W 1 -i 0.2 203.0.113.10 || true
  echo "== client: UDP to a closed port: the server's port unreachable must come back through natd"
  ip netns exec $CLIENT /usr/bin/python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2); s.connect(("203.0.113.10", 9))
s.send(b"anyone?")
try:
    s.recv(100); print("port unreachable: FAIL, got data")
except ConnectionRefusedError:
    print("port unreachable: ok (ECONNREFUSED from the ICMP error natd translated)")
except socket.timeout:
    print("port unreachable: FAIL, nothing came back")' || true
  echo "== client: ping -M do -s 1472 (1500-byte packets with DF)"
  ip netns exec $CLIENT ping -M do -s 1472 -c 2 -W 1 -i 0.3 203.0.113.10 || true
  echo "== client: ping -M do -s 1472 again (the kernel now knows the path MTU)"
  ip netns exec $CLIENT ping -M do -s 1472 -c 1 -W 1 203.0.113.10 || true
fi

if [[ -n $JUMBO ]]; then
  ip netns exec $SERVER /usr/bin/python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("203.0.113.10", 7007)); s.settimeout(10)
data, peer = s.recvfrom(65535); s.sendto(data, peer)' &
  PIDS+=($!)
  sleep 0.3
  echo "== client: one UDP datagram of $JUMBO bytes to the server's echo and back"
  ip netns exec $CLIENT /usr/bin/python3 -c '
import socket, sys
n = int(sys.argv[1]); payload = bytes(i % 251 for i in range(n))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)
s.setsockopt(socket.IPPROTO_IP, 10, 0)  # IP_MTU_DISCOVER = IP_PMTUDISC_DONT: let the kernel fragment
s.sendto(payload, ("203.0.113.10", 7007))
try:
    data, _ = s.recvfrom(65535)
    print("jumbo: ok, %d bytes back intact" % len(data) if data == payload else "jumbo: FAIL, %d bytes differ" % len(data))
except socket.timeout:
    print("jumbo: FAIL, no echo within 5 s")' "$JUMBO" || true
fi

if [[ -n $IDLE_CHECK ]]; then
  mapped() { ip netns exec $CLIENT "$BIN" stun --local 100.64.1.2:5000 203.0.113.10:3478 | awk '/^mapped address:/ {print $3}'; }
  first=$(mapped)
  sleep $((IDLE_CHECK - 2))
  again=$(mapped)
  sleep $((IDLE_CHECK + 2))
  after=$(mapped)
  echo "== idle check (timeout ${IDLE_CHECK}s): first $first, after $((IDLE_CHECK - 2))s idle $again, after $((IDLE_CHECK + 2))s idle $after"
  if [[ $first == "$again" && $again != "$after" ]]; then echo "idle check: ok"; else echo "idle check: FAIL"; fi
fi

kill -TERM $NATD
wait $NATD || true
PIDS=("${PIDS[@]/$NATD}")
echo "== natd output"
cat "$WORK/natd.log"
echo "== mapping log"
cat "$WORK/mappings.log"
if ip -n $NAT link show tun0 >/dev/null 2>&1; then echo "FAIL: tun0 still exists after natd stopped"; exit 1; fi
echo "== tun0 removed after SIGTERM; routes via it: $(ip -n $NAT route show table all | grep -c tun0 || true)"
