#!/usr/bin/env bash
# selftest.sh — checks that lab.sh builds the NATs it claims, using tools
# that exist independently of natpunch: Debian's RFC 3489 STUN server and
# client (stund / stun, packages stun-server and stun-client) and conntrack.
# If natpunch and this test disagree about a lab, this test says which side
# the lab is on.
# The bash -c '...' snippets below expand their own positional parameters.
# shellcheck disable=SC2016
set -euo pipefail

readonly PROG=selftest.sh
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly SCRIPT_DIR
readonly LAB="$SCRIPT_DIR/lab.sh"
readonly ID_PREFIX="st$$"

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
  cat <<'EOF'
lab/selftest.sh — verify the namespace lab with stund/stun and conntrack

Builds labs for every NAT kind, runs Debian's `stund` in the server and the
`stun` client behind each NAT, and checks the classification stun prints
(hairpinning included); checks with plain UDP sockets (lab/udp_probe.py,
Python's standard library) that v6fw's firewall drops unsolicited inbound
IPv6 and passes flows the client started (v6 and +v6 pass both), and that
two clients behind one NAT meet through hairpinning exactly when the kind
says so (+hairpin) and directly exactly when their LAN lets them (not
+isolated); then checks
argument validation, rollback of a failed `up`, conntrack timeouts and
teardown. Needs root and the packages iproute2 nftables conntrack procps
stun-server stun-client python3. Prints "selftest: N passed, N failed"; exit
1 on any failure. Removes every namespace and process it created.
EOF
  exit 0
fi

[[ $EUID -eq 0 ]] || { echo "$PROG: must run as root" >&2; exit 1; }
for tool in stund stun conntrack nft ip turnserver python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "$PROG: '$tool' not found (apt-get install stun-server stun-client conntrack nftables iproute2 coturn python3)" >&2; exit 1; }
done
readonly PROBE="$SCRIPT_DIR/udp_probe.py"

PASSED=0
FAILED=0
LABS=()
WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/natpunch-lab-selftest.XXXXXX")

cleanup() {
  local status=$? id
  trap - EXIT INT TERM
  # lab.sh down also kills the stund processes living in the server namespaces.
  for id in "${LABS[@]}"; do "$LAB" down --id "$id" >/dev/null 2>&1 || true; done
  rm -rf "$WORK_DIR"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pass() { PASSED=$((PASSED + 1)); echo "  ok    $1"; }
fail() { FAILED=$((FAILED + 1)); echo "  FAIL  $1"; }
check() { # check DESCRIPTION COMMAND...
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}

lab_up() { # lab_up ID ARGS...
  local id=$1
  shift
  LABS+=("$id")
  "$LAB" up --id "$id" "$@" >"$WORK_DIR/up-$id.log" 2>&1 || { cat "$WORK_DIR/up-$id.log"; return 1; }
}

start_stund() {
  "$LAB" exec --id "$1" server -- stund -h 203.0.113.10 -a 203.0.113.11 >/dev/null 2>&1 &
}

no_namespaces_of() { ! ip netns list | grep -q "^np-$1-"; }

echo "== argument validation"
check "unknown KIND -> exit 2, nothing created" \
  bash -c '"$1" up --id "$2" --a nat9 >/dev/null 2>&1; [[ $? -eq 2 ]] && ! ip netns list | grep -q "^np-$2-"' _ "$LAB" "${ID_PREFIX}v"
check "bad --id -> exit 2" bash -c '"$1" up --id "no-dash" >/dev/null 2>&1; [[ $? -eq 2 ]]' _ "$LAB"
check "bad --mtu -> exit 2" bash -c '"$1" up --id x --mtu 20 >/dev/null 2>&1; [[ $? -eq 2 ]]' _ "$LAB"
check "udplimit:0 -> exit 2" bash -c '"$1" up --id x --a udplimit:0 >/dev/null 2>&1; [[ $? -eq 2 ]]' _ "$LAB"
for bad in prc+nope none+v6fw v6fw+v6fw v6+v6fw prc+v6+v6fw none+v6 sym+hairpin fw+isolated prc+hairpin+hairpin; do
  check "KIND $bad -> exit 2, nothing created" \
    bash -c '"$1" up --id "$2" --a "$3" >/dev/null 2>&1; [[ $? -eq 2 ]] && ! ip netns list | grep -q "^np-$2-"' _ "$LAB" "${ID_PREFIX}v" "$bad"
done
check "down of a missing lab succeeds" bash -c '"$1" down --id "$2" >/dev/null' _ "$LAB" "${ID_PREFIX}n"

echo "== rollback when up fails midway (nft that refuses every ruleset)"
mkdir -p "$WORK_DIR/fakebin"
printf '#!/bin/sh\nexit 1\n' >"$WORK_DIR/fakebin/nft"
chmod +x "$WORK_DIR/fakebin/nft"
LABS+=("${ID_PREFIX}f")
check "failed up exits non-zero" bash -c '! PATH="$1:$PATH" "$2" up --id "$3" --a prc >/dev/null 2>&1' _ "$WORK_DIR/fakebin" "$LAB" "${ID_PREFIX}f"
check "failed up leaves no namespaces" no_namespaces_of "${ID_PREFIX}f"

echo "== NAT kinds as classified by the RFC 3489 client 'stun' (labs built concurrently)"
# side:kind pairs; seven labs cover all nine kinds and the modifiers. A
# +v6fw/+v6 side keeps its IPv4 NAT; v6fw and v6 sides have no IPv4 to classify.
declare -A EXPECT=(
  [prc+hairpin+isolated]="Independent Mapping, Port Dependent Filter, preserves ports, will hairpin"
  [prc+v6fw]="Independent Mapping, Port Dependent Filter, preserves ports, no hairpin"
  [v6fw]="Blocked or could not reach STUN server"
  [v6]="Blocked or could not reach STUN server"
  [sym+v6]="Dependent Mapping, random port, no hairpin"
  [prc]="Independent Mapping, Port Dependent Filter, preserves ports, no hairpin"
  [sym]="Dependent Mapping, random port, no hairpin"
  [none]="Open"
  [block]="Blocked or could not reach STUN server"
  [fw]="Firewall"
  [fc]="Independent Mapping, Independent Filter, preserves ports, no hairpin"
  [rc]="Independent Mapping, Address Dependent Filter, preserves ports, no hairpin"
)
PAIRS=("1 prc sym" "2 none block" "3 fw fc" "4 rc prc" "5 prc+hairpin+isolated prc" "6 v6fw prc+v6fw" "7 v6 sym+v6")
# Lab k5 has two clients per side: same-NAT pairs for the hairpin checks below.
declare -A UP_ARGS=([5]="--a-clients 2 --b-clients 2")
pids=()
for pair in "${PAIRS[@]}"; do
  read -r n ka kb <<<"$pair"
  LABS+=("${ID_PREFIX}k$n")
  # shellcheck disable=SC2086 # UP_ARGS holds several words
  "$LAB" up --id "${ID_PREFIX}k$n" --a "$ka" --b "$kb" ${UP_ARGS[$n]:-} >"$WORK_DIR/up-k$n.log" 2>&1 &
  pids+=($!)
done
up_ok=1
for pid in "${pids[@]}"; do wait "$pid" || up_ok=0; done
check "seven labs come up concurrently" test "$up_ok" -eq 1
for pair in "${PAIRS[@]}"; do
  read -r n _ _ <<<"$pair"
  start_stund "${ID_PREFIX}k$n"
done
sleep 0.5
pids=()
for pair in "${PAIRS[@]}"; do
  read -r n ka kb <<<"$pair"
  for side in a b; do
    timeout 30 "$LAB" exec --id "${ID_PREFIX}k$n" "$side" -- stun 203.0.113.10 -v >"$WORK_DIR/stun-k$n-$side.log" 2>&1 &
    pids+=($!)
  done
done
for pid in "${pids[@]}"; do wait "$pid" || true; done # stun exits with its type code
for pair in "${PAIRS[@]}"; do
  read -r n ka kb <<<"$pair"
  for side in a b; do
    [[ $side == a ]] && kind=$ka || kind=$kb
    got=$(sed -n 's/^Primary: *//p' "$WORK_DIR/stun-k$n-$side.log" | tr -d '\t')
    if [[ $got == "${EXPECT[$kind]}" ]]; then
      pass "$kind: stun says \"$got\""
    else
      fail "$kind: stun says \"$got\", expected \"${EXPECT[$kind]}\""
    fi
  done
done
mapped=$(sed -n 's/^MappedAddress = //p' "$WORK_DIR/stun-k1-a.log" 2>/dev/null | head -n1)
check "prc mapped address is the router's outside address" test "${mapped%:*}" = 203.0.113.101

# probe ID HOST ARGS...: lab/udp_probe.py inside a lab host.
probe() { local id=$1 host=$2; shift 2; timeout 20 "$LAB" exec --id "$id" "$host" -- python3 "$PROBE" "$@" 2>&1; }

K6="${ID_PREFIX}k6"
K7="${ID_PREFIX}k7"
K5="${ID_PREFIX}k5"
# IPv6 (lab k6: v6fw, prc+v6fw; k7: v6, sym+v6) and same-NAT pairs (lab k5:
# prc+hairpin+isolated, prc; 2 clients each): every UDP check at once, in
# the background while the timeout checks below sleep (started once their
# lab is up: that needs the CPU); results after MTU. stund still runs in
# the background: wait for PROBE_PIDS only. A
# listener waits 5 s for what its sender repeats over 4 s, all started
# together. Lab k5: client 2 of each side first opens a mapping from port
# 40000 (masquerade keeps it); then client 1 sends to the NAT's public
# address and that port (hairpinning), and to client 2's LAN address.
start_udp_probes() {
  PROBE_PIDS=()
  background() { "$@" & PROBE_PIDS+=($!); }
  for side in a b; do background probe "$K5" "${side}2" send --bind "0.0.0.0:40000" --to "203.0.113.10:9" --count 1 >/dev/null; done
  for pid in "${PROBE_PIDS[@]}"; do wait "$pid" || true; done
  PROBE_PIDS=()
  for side in a b; do
    [[ $side == a ]] && addr=2001:db8:1::2 n=1 public=203.0.113.101 net=100.64.1 || addr=2001:db8:2::2 n=2 public=203.0.113.102 net=100.64.2
    background probe "$K6" "$side" recv --bind "[::]:41000" --timeout 5 >"$WORK_DIR/v6-unsolicited-$side"
    background probe "$K6" server send --bind "[2001:db8::10]:4100$n" --to "[$addr]:41000" --count 40 >/dev/null
    background probe "$K7" "$side" recv --bind "[::]:41000" --timeout 5 >"$WORK_DIR/v6-open-$side"
    background probe "$K7" server send --bind "[2001:db8::10]:4100$n" --to "[$addr]:41000" --count 40 >/dev/null
    background probe "$K6" server echo --bind "[2001:db8::10]:4101$n" --timeout 7 --once >/dev/null
    background probe "$K6" "$side" send --bind "[::]:41003" --to "[2001:db8::10]:4101$n" --count 40 --expect-reply \
      --timeout 1 >"$WORK_DIR/v6-outbound-$side"
    background probe "$K5" "${side}2" recv --bind "0.0.0.0:40000" --timeout 5 >"$WORK_DIR/hairpin-$side"
    background probe "$K5" "$side" send --bind "0.0.0.0:40001" --to "$public:40000" --count 40 >/dev/null
    background probe "$K5" "${side}2" recv --bind "0.0.0.0:40002" --timeout 5 >"$WORK_DIR/direct-$side"
    background probe "$K5" "$side" send --bind "0.0.0.0:40003" --to "$net.3:40002" --count 40 >/dev/null
  done
  background probe "$K6" b send --bind "0.0.0.0:41004" --to "203.0.113.10:9" --count 1 >/dev/null
}
PROBE_PIDS=()

echo "== conntrack timeouts (--udp-timeout 3 --udp-stream-timeout 6)"
T="${ID_PREFIX}t"
if lab_up "$T" --a prc --b sym --udp-timeout 3 --udp-stream-timeout 6; then
  check "sysctl nf_conntrack_udp_timeout = 3 in nat-a" \
    test "$("$LAB" exec --id "$T" nat-a -- sysctl -n net.netfilter.nf_conntrack_udp_timeout)" = 3
  check "sysctl nf_conntrack_udp_timeout_stream = 6 in nat-b" \
    test "$("$LAB" exec --id "$T" nat-b -- sysctl -n net.netfilter.nf_conntrack_udp_timeout_stream)" = 6
  start_stund "$T"
  sleep 0.5
  "$LAB" exec --id "$T" a -- stun 203.0.113.10 >/dev/null 2>&1 || true
  flows() { "$LAB" exec --id "$T" nat-a -- conntrack -L -p udp 2>/dev/null | grep -c "$1" || true; }
  check "mappings exist right after the STUN run" test "$(flows 'src=100.64.1.2')" -gt 0
  start_udp_probes
  sleep 4.5
  check "unreplied mappings gone ~4.5 s later (timeout 3 s)" test "$(flows UNREPLIED)" -eq 0
  sleep 3
  check "all mappings gone ~7.5 s later (stream timeout 6 s)" test "$(flows 'src=100.64.1.2')" -eq 0
fi
((${#PROBE_PIDS[@]} > 0)) || start_udp_probes

echo "== udpblock and udplimit:40, judged by a counter in the server and a TCP connect"
# The server counts what reaches it (its own nft counter, not the NAT's
# rules); bash's /dev/udp sends, a TCP connect to coturn shows TCP passes.
U="${ID_PREFIX}u"
if lab_up "$U" --a udpblock --b udplimit:40; then
  "$LAB" exec --id "$U" server -- nft -f - <<'NFT'
table ip selftest_count {
  chain input {
    type filter hook input priority filter; policy accept;
    udp dport 9 counter
  }
}
NFT
  arrived() { "$LAB" exec --id "$U" server -- nft list table ip selftest_count | sed -n 's/.*counter packets \([0-9]*\).*/\1/p'; }
  burst() { "$LAB" exec --id "$U" "$1" -- bash -c 'for i in $(seq 300); do printf x >/dev/udp/203.0.113.10/9; done' 2>/dev/null || true; }
  burst a
  check "udpblock: none of 300 datagrams reaches the server" test "$(arrived)" -eq 0
  burst b
  n=$(arrived)
  # The burst of 40 plus 40/s for however long the 300 sends took.
  check "udplimit:40: 300 datagrams at once, $n arrive (burst 40)" test "$n" -ge 30 -a "$n" -le 120
  "$LAB" exec --id "$U" server -- turnserver -n --no-cli --no-udp --no-tls --no-dtls -L 203.0.113.10 -p 3478 \
    --no-auth --log-file "$WORK_DIR/turnserver.log" --no-stdout-log >/dev/null 2>&1 &
  for _ in $(seq 50); do "$LAB" exec --id "$U" server -- ss -Hltn | grep -q ':3478 ' && break; sleep 0.1; done
  check "udpblock: TCP gets through (connect to 203.0.113.10:3478)" \
    "$LAB" exec --id "$U" a -- timeout 5 bash -c 'exec 3<>/dev/tcp/203.0.113.10/3478'
fi

echo "== MTU"
M="${ID_PREFIX}m"
if lab_up "$M" --a prc --b none --mtu 1400; then
  mtu_of() { ip -n "np-$M-$1" -o link show "$2" | sed -n 's/.* mtu \([0-9]*\) .*/\1/p'; }
  check "nat-a wan0 has MTU 1400" test "$(mtu_of nat-a wan0)" = 1400
  check "inet port to nat-a has MTU 1400" test "$(mtu_of inet to-nat-a)" = 1400
  check "client b's public link has MTU 1400" test "$(mtu_of b eth0)" = 1400
  check "server link keeps MTU 1500" test "$(mtu_of server eth0)" = 1500
  check "IPv4 forwarding on in nat-a only" \
    test "$("$LAB" exec --id "$M" nat-a -- sysctl -n net.ipv4.ip_forward)$("$LAB" exec --id "$M" server -- sysctl -n net.ipv4.ip_forward)" = 10
  check "no default route in the server" test -z "$(ip -n "np-$M-server" route show default)"
fi

echo "== IPv6 (lab k6: v6fw, prc+v6fw; k7: v6, sym+v6) and same-NAT pairs (lab k5: prc+hairpin+isolated, prc; 2 clients each)"
check "v6fw client has no IPv4 address" test -z "$(ip -n "np-$K6-a" -4 -o addr show scope global)"
check "v6fw client has 2001:db8:1::2/64" bash -c 'ip -n "np-$1-a" -6 -o addr show scope global | grep -q "2001:db8:1::2/64"' _ "$K6"
check "no default route in the server (IPv4 or IPv6)" \
  test -z "$(ip -n "np-$K6-server" route show default)$(ip -n "np-$K6-server" -6 route show default)"
check "IPv6 forwarding on in nat-a, off in the server" \
  test "$(ip netns exec "np-$K6-nat-a" sysctl -n net.ipv6.conf.all.forwarding)$(ip netns exec "np-$K6-server" sysctl -n net.ipv6.conf.all.forwarding)" = 10
for pid in "${PROBE_PIDS[@]}"; do wait "$pid" || true; done
for side in a b; do
  check "IPv6 side $side: unsolicited inbound UDP is dropped ($(cat "$WORK_DIR/v6-unsolicited-$side"))" \
    grep -qx timeout "$WORK_DIR/v6-unsolicited-$side"
  check "IPv6 side $side: the reply to an outbound flow passes ($(cat "$WORK_DIR/v6-outbound-$side"))" \
    grep -q "^reply from \[2001:db8::10\]:4101" "$WORK_DIR/v6-outbound-$side"
done
check "IPv6 open (v6): unsolicited inbound UDP arrives ($(cat "$WORK_DIR/v6-open-a"))" \
  grep -qx "from \[2001:db8::10\]:41001" "$WORK_DIR/v6-open-a"
check "IPv6 open (sym+v6): unsolicited inbound UDP arrives ($(cat "$WORK_DIR/v6-open-b"))" \
  grep -qx "from \[2001:db8::10\]:41002" "$WORK_DIR/v6-open-b"
check "prc+v6fw still NATs IPv4 (conntrack maps 100.64.2.2 to 203.0.113.102)" \
  bash -c '[[ $(ip netns exec "np-$1-nat-b" conntrack -L -p udp 2>/dev/null) == *"src=100.64.2.2"*"dst=203.0.113.102"* ]]' _ "$K6"
check "+hairpin: a reaches a2 through the NAT, from its own public mapping ($(cat "$WORK_DIR/hairpin-a"))" \
  grep -qx "from 203.0.113.101:40001" "$WORK_DIR/hairpin-a"
check "+isolated: a cannot reach a2 on the LAN ($(cat "$WORK_DIR/direct-a"))" grep -qx timeout "$WORK_DIR/direct-a"
check "no hairpin: b cannot reach b2 through the NAT ($(cat "$WORK_DIR/hairpin-b"))" grep -qx timeout "$WORK_DIR/hairpin-b"
check "shared LAN: b reaches b2 directly ($(cat "$WORK_DIR/direct-b"))" grep -qx "from 100.64.2.2:40003" "$WORK_DIR/direct-b"

echo "== move (lab k5): a2 changes networks mid-flow, from nat-a's LAN to nat-b's and back"
# One process in a2 keeps sending from 0.0.0.0:40010 while a2 moves: its
# datagrams leave through nat-b once a2 is there (conntrack sees the new
# source), then through nat-a again.
probe "$K5" a2 send --bind 0.0.0.0:40010 --to 203.0.113.10:9 --count 50 --interval 0.1 >/dev/null &
mover=$!
sleep 1
check "move a2 b exits 0" bash -c '"$1" move --id "$2" a2 b >/dev/null' _ "$LAB" "$K5"
check "a2 now has 100.64.2.6 via 100.64.2.1 and nothing of 100.64.1.0/24" \
  bash -c '[[ $(ip -n "np-$1-a2" -4 -o addr show dev eth0) == *100.64.2.6/24* && $(ip -n "np-$1-a2" route show default) == *"via 100.64.2.1"* && $(ip -n "np-$1-a2" -4 -o addr) != *100.64.1.* ]]' _ "$K5"
sleep 1
check "a2's running sender now goes out through nat-b (conntrack src=100.64.2.6 sport=40010)" \
  bash -c 'ip netns exec "np-$1-nat-b" conntrack -L -p udp 2>/dev/null | grep -q "src=100.64.2.6 dst=203.0.113.10 sport=40010"' _ "$K5"
check "move a2 a brings it back (100.64.1.6)" \
  bash -c '"$1" move --id "$2" a2 a | grep -q "100.64.1.6 via 100.64.1.1"' _ "$LAB" "$K5"
sleep 1
check "... and the sender goes out through nat-a again" \
  bash -c 'ip netns exec "np-$1-nat-a" conntrack -L -p udp 2>/dev/null | grep -q "src=100.64.1.6 dst=203.0.113.10 sport=40010"' _ "$K5"
wait "$mover" || true
check "move to a side without a LAN bridge fails clearly (k6 has one client per side)" \
  bash -c 'out=$("$1" move --id "$2" a b 2>&1); [[ $? -eq 1 && $out == *"not a bridge"* ]]' _ "$LAB" "$K6"
check "move with a bad HOST -> exit 2" bash -c '"$1" move --id "$2" server a >/dev/null 2>&1; [[ $? -eq 2 ]]' _ "$LAB" "$K5"

echo "== teardown"
"$LAB" exec --id "${ID_PREFIX}k1" a -- sleep 300 >/dev/null 2>&1 &
sleeper=$!
sleep 0.2
check "down removes lab k1" bash -c '"$1" down --id "$2" >/dev/null' _ "$LAB" "${ID_PREFIX}k1"
check "down killed the process inside the lab" bash -c '! kill -0 "$1" 2>/dev/null' _ "$sleeper"
wait "$sleeper" 2>/dev/null || true
check "no np-${ID_PREFIX}k1-* namespaces remain" no_namespaces_of "${ID_PREFIX}k1"
for id in "${LABS[@]}"; do "$LAB" down --id "$id" >/dev/null; done
check "all labs of this run removed" no_namespaces_of "${ID_PREFIX}[a-z0-9]*"

echo
echo "selftest: $PASSED passed, $FAILED failed"
((FAILED == 0))
