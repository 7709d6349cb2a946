#!/usr/bin/env bash
# lab.sh — a lab of network namespaces with real kernel NATs (nftables +
# conntrack) so natpunch's binaries can be run against real NAT behaviour on
# one machine, without touching any network outside the lab.
#
# Every link is created from inside a lab namespace (never in the root
# namespace), so interface names only have to be unique per namespace and
# labs with different IDs can be built concurrently.
set -euo pipefail

readonly PROG=lab.sh
readonly LAB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly KINDS="none prc sym block fw fc rc udpblock udplimit v6fw v6"
# udplimit without :RATE limits UDP to this many packets/s each way.
readonly DEFAULT_UDP_RATE=50
# Modifiers a KIND may carry: KIND+v6fw, KIND+v6, KIND+hairpin, KIND+isolated.
readonly MODIFIERS="v6fw v6 hairpin isolated"
readonly MAX_CLIENTS=4
# Extra clients of a side are a2..a4 / b2..b4 (several phones on one carrier).
readonly HOSTS="inet server a b nat-a nat-b a2 a3 a4 b2 b3 b4"
# natd's state (pid, output, mapping log) lives here, per lab; removed by down.
readonly STATE_ROOT=/run/natpunch-lab
readonly NATD_TABLE=100

# Address plan (see lab/README.md). Only RFC 6598 / RFC 5737 ranges.
readonly PUBLIC_PREFIX=24
readonly INET_ADDR=203.0.113.1
readonly SERVER_ADDR1=203.0.113.10
readonly SERVER_ADDR2=203.0.113.11
readonly PUBLIC_ADDR_A=203.0.113.101
readonly PUBLIC_ADDR_B=203.0.113.102
# With a natd kind the public address belongs to natd (proxy ARP on wan0), so
# the router's own outside address is a different one.
readonly ROUTER_ADDR_A=203.0.113.201
readonly ROUTER_ADDR_B=203.0.113.202
readonly LAN_NET_A=100.64.1
readonly LAN_NET_B=100.64.2
readonly LAN_PREFIX=24
readonly DEFAULT_MTU=1500
# IPv6: only the documentation prefix 2001:db8::/32. The public segment is
# 2001:db8::/64 on the same bridge; each side's LAN its own /64, routed (no
# NAT66) by the side's router through a stateful firewall.
readonly PUBLIC6_PREFIX=64
readonly INET_ADDR6=2001:db8::1
readonly SERVER_ADDR6_1=2001:db8::10
readonly SERVER_ADDR6_2=2001:db8::11
readonly ROUTER_ADDR6_A=2001:db8::101
readonly ROUTER_ADDR6_B=2001:db8::102
readonly LAN6_NET_A=2001:db8:1
readonly LAN6_NET_B=2001:db8:2
readonly LAN6_PREFIX=64

usage() {
  cat <<'EOF'
lab.sh — network-namespace lab with real kernel NATs for natpunch

USAGE
  lab.sh up --id ID [--a KIND] [--b KIND] [--udp-timeout S]
               [--udp-stream-timeout S] [--mtu N] [--a-clients N] [--b-clients N]
               [--natd-args-a 'ARGS'] [--natd-args-b 'ARGS'] [--bin PATH]
  lab.sh down --id ID
  lab.sh down-all
  lab.sh exec --id ID HOST -- CMD [ARG...]
  lab.sh status --id ID
  lab.sh move --id ID HOST SIDE
  lab.sh list
  lab.sh --help

COMMANDS
  up        Build lab ID. Fails (exit 1, nothing changed) if it already exists.
            All arguments are checked before anything is created; if building
            fails midway, whatever was created is torn down again.
  down      Kill every process running inside the lab's namespaces, then
            delete the namespaces (their links, bridge and nft rules go with
            them). Idempotent: succeeds when nothing exists.
  down-all  Same as down for every namespace named np-* (CI safety net; also
            removes other people's labs on this machine).
  exec      Run CMD inside HOST, one of: server a b nat-a nat-b inet (and
            a2..a4, b2..b4 with --a-clients/--b-clients). The
            command replaces lab.sh, so `lab.sh exec ... &` gives you the
            command's own PID and its exit status.
  status    Show the lab's namespaces, NAT kinds and addresses.
  move      Move client HOST (a, a2..a4, b, b2..b4) to SIDE's (a or b) LAN,
            as a phone changes networks: its link to its router goes away
            with its address; a new link from SIDE's LAN bridge comes up
            with the next free address from .6 (IPv6 ::6) and default
            routes via SIDE's router. Processes in HOST keep running.
            SIDE needs a LAN bridge (--a-clients/--b-clients 2 or more) and
            the same address families as HOST's network.
  list      Print the IDs of the labs that exist.

OPTIONS (up)
  --id ID                  1-12 letters/digits. Namespaces are np-ID-HOST.
  --a KIND, --b KIND       NAT in front of client a / b (default: prc).
  --a-clients N, --b-clients N
                           Clients behind that side's NAT (1-4, default 1):
                           a, a2, a3, a4 at 100.64.1.2, .3, .4, .5 (b alike) —
                           several phones on one carrier. Not for none, fw,
                           fc, rc.
  --udp-timeout S          conntrack timeout (s) of a UDP flow that has only
                           seen packets in one direction ("pending" mapping):
                           net.netfilter.nf_conntrack_udp_timeout (kernel
                           default 30).
  --udp-stream-timeout S   conntrack timeout (s) of a UDP flow that has seen
                           replies ("established" mapping):
                           net.netfilter.nf_conntrack_udp_timeout_stream
                           (kernel default 120).
                           Both are set in the NAT router namespaces (and in
                           the client namespace for kind fw); they also time
                           the IPv6 firewall's flows (v6fw, +v6fw), natd
                           kinds included.
  --mtu N                  MTU (68-65535) of the NAT routers' outside links,
                           both ends (for kinds none/fw: the client's public
                           link). Every other link gets max(N, 1500), so the
                           NAT's outside link is the path's bottleneck. For
                           natd kinds natd enforces N instead (natd --mtu),
                           like a router: ICMP "fragmentation needed" for DF
                           packets, fragmentation otherwise, both ways.
  --natd-args-a 'ARGS', --natd-args-b 'ARGS'
                           Extra options for that side's natd (natd kinds
                           only), e.g. '--impair-out loss=0.05'. See
                           `natpunch natd --help`.
  --bin PATH               natpunch binary for natd kinds (default:
                           $NATPUNCH_BIN, else build/natpunch next to lab/).

KINDS
  none   no NAT: the client sits on the public segment with a public address.
  prc    port-restricted cone: nftables `masquerade` on the router's outside
         interface. Linux keeps the source port when it is free and reuses the
         mapping for every destination (endpoint-independent mapping);
         conntrack only lets replies from the exact remote address+port in
         (address-and-port-dependent filtering).
  sym    symmetric: `masquerade fully-random` — every new destination (new
         5-tuple) gets a random external port; filtering as prc.
  block  as prc, but the router drops all UDP to and from the outside
         (ICMP and TCP still pass) — "UDP blocked".
  udpblock  as prc, but the router drops every UDP datagram the client side
         sends out (TCP and ICMP pass): a network that allows only TCP, such
         as a corporate firewall. Replies cannot exist, so no UDP comes in.
  udplimit[:RATE]  as prc, but UDP through the router is limited to RATE
         packets/s in each direction (default 50, burst RATE), the excess
         dropped; TCP is not limited — a carrier that throttles UDP.
  fw     no NAT, public address, but a stateful firewall in the client that
         drops unsolicited inbound UDP — "symmetric UDP firewall".
  fc     full cone: prc plus a dynamic nft set of ports the client sent from;
         any remote may send to such a port (endpoint-independent filtering).
  rc     restricted cone: prc plus a dynamic nft set of (remote address,
         port) pairs; any port of a contacted address may reply
         (address-dependent filtering).
  fc and rc assume one client per LAN whose port masquerade preserves (true
  in this lab).
  v6fw   IPv6 only, no NAT, as mobile carriers give phones: the client has a
         global address 2001:db8:1::2 (b: 2001:db8:2::2) in its side's /64,
         routed by np-ID-nat-X through a stateful nftables firewall that
         drops unsolicited inbound packets (ct state new from wan0) and lets
         replies to outbound flows in (address-and-port-dependent
         filtering). No IPv4 at all on that side.
  v6     IPv6 only, no NAT and no firewall: v6fw's addresses and routes, any
         host may send to the client (an open IPv6 network).

  Userspace NAT kinds run `natpunch natd` (the project's NAT model on real
  packets) in the router namespace, on a TUN device:
  profile:NAME   a carrier profile, profiles/NAME.json (e.g. profile:kpn-nl,
                 profile:vodafone-nl) or a path to a profile file.
  model:M/F/A    explicit policies: mapping M and filtering F each one of
                 eim|adm|apdm / eif|adf|apdf (or the long RFC 4787 names),
                 allocator A as natd takes it: preserving, sequential,
                 random, uniform[:MIN-MAX], block[:SIZE],
                 beta[:ALPHA,BETA,LOC,SCALE], or trace:FILE (replay a real
                 carrier's ports, `natpunch analyze ... --trace-out FILE`;
                 FILE an absolute path, may hold '/'). E.g.
                 model:apdm/apdf/block:256, model:eim/adf/trace:/tmp/voda.trace.
  --udp-timeout / --udp-stream-timeout become natd's --pending-timeout /
  --idle-timeout. natd logs every mapping it creates (time internal external
  remote) to /run/natpunch-lab/ID/natd-SIDE.mappings, its output to
  natd-SIDE.log: the ground truth for lab tests. The profile or policy is
  checked (natpunch natd --check) before anything is created. Unsolicited
  inbound UDP is dropped silently (no ICMP) by every NAT router, as carrier
  NATs do.

  MODIFIERS, appended to a KIND with '+' (any order, e.g. prc+hairpin+isolated):
  +v6fw      dual stack: IPv4 through the KIND's NAT (kernel or natd) plus
             IPv6 as with v6fw, on the same client(s) and router. For kinds
             with a router (not none, fw, v6fw, v6).
  +v6        dual stack with open IPv6 (as kind v6); not with +v6fw.
  +hairpin   the NAT hairpins (RFC 4787 REQ-9): a client that sends to the
             NAT's public address and a port another inside client is mapped
             to reaches that client, from its own public mapping. prc: an
             nft map of mapped ports (masquerade keeps them) -> dnat to the
             owner + snat to the public address; natd kinds: natd
             --hairpinning. Only prc and natd kinds.
  +isolated  the side's clients cannot reach each other inside (LAN bridge
             port isolation; the router forwards nothing LAN to LAN): phones
             on separate carrier bearers. With several clients they can only
             meet through the NAT (+hairpin) or a relay. Without +isolated,
             clients of one side share a LAN and reach each other directly.
  Same-NAT pairs: `--a prc --a-clients 2` (a and a2 reach each other on
  their LAN), `--a prc+hairpin+isolated --a-clients 2` (only the NAT's
  hairpinning joins them), `--a prc+isolated --a-clients 2` (nothing does).

TOPOLOGY AND ADDRESSES
  np-ID-inet     bridge br0 = the "public internet" 203.0.113.0/24 (.1) and
                 2001:db8::/64 (::1)
  np-ID-server   203.0.113.10 and 203.0.113.11 (two addresses for RFC 5780 /
                 RFC 3489 CHANGE-REQUEST), 2001:db8::10 and 2001:db8::11
  np-ID-nat-a    outside 203.0.113.101, inside 100.64.1.1 (IPv4 forwarding on);
                 natd kinds: public 203.0.113.101 is natd's, router 203.0.113.201;
                 with IPv6 (v6fw, v6, +v6fw, +v6): outside 2001:db8::101, inside
                 2001:db8:1::1 (IPv6 forwarding on; stateful firewall but
                 for v6, +v6)
  np-ID-a        100.64.1.2, default route via 100.64.1.1; with IPv6
                 2001:db8:1::2, default route via 2001:db8:1::1
  np-ID-nat-b    outside 203.0.113.102, inside 100.64.2.1 (IPv6: 2001:db8::102,
                 2001:db8:2::1)
  np-ID-b        100.64.2.2, default route via 100.64.2.1 (IPv6: 2001:db8:2::2)
  Extra clients a2..a4 are .3-.5 (IPv6 ::3-::5). With kind none/fw there is
  no np-ID-nat-X: client X itself has the public address (203.0.113.101 for
  a, .102 for b). IPv6 is on in inet, server and the namespaces of sides with
  IPv6 (disabled elsewhere); the server and routers route the sides' /64s
  via their routers. Nothing routes out of the lab: the only default routes
  are the clients' towards their own lab router.

EXIT STATUS
  0 success; 1 runtime failure (not root, lab exists, kernel refused);
  2 usage error (unknown command/option/KIND, bad value) — nothing created.

EXAMPLES
  sudo lab/lab.sh up --id t1 --a prc --b sym --udp-timeout 5
  sudo lab/lab.sh exec --id t1 server -- stund -h 203.0.113.10 -a 203.0.113.11 &
  sudo lab/lab.sh exec --id t1 a -- stun 203.0.113.10 -v
  sudo lab/lab.sh exec --id t1 nat-a -- conntrack -L -p udp
  sudo lab/lab.sh up --id t2 --a profile:kpn-nl --b model:eim/eif/sequential --a-clients 2
  sudo lab/lab.sh up --id t3 --a v6fw --b profile:vodafone-nl+v6fw
  sudo lab/lab.sh exec --id t3 a -- ping -c1 2001:db8::10
  sudo lab/lab.sh up --id t4 --a prc+hairpin+isolated --a-clients 2 --b model:eim/apdf/preserving+hairpin
  sudo lab/lab.sh down --id t1
EOF
}

usage_error() {
  printf '%s: %s\nRun "%s --help" for usage.\n' "$PROG" "$1" "$PROG" >&2
  exit 2
}

die() {
  printf '%s: %s\n' "$PROG" "$1" >&2
  exit 1
}

ns_name() { printf 'np-%s-%s' "$1" "$2"; }

# The public address of side a/b: its NAT router's outside address, or the
# client's own address when the side has no NAT.
public_addr() { if [[ $1 == a ]]; then echo "$PUBLIC_ADDR_A"; else echo "$PUBLIC_ADDR_B"; fi; }

# First three octets of side a/b's LAN (router .1, client .2).
lan_net() { if [[ $1 == a ]]; then echo "$LAN_NET_A"; else echo "$LAN_NET_B"; fi; }

# First 48 bits of side a/b's IPv6 LAN (router ::1, clients ::2..::5).
lan6_net() { if [[ $1 == a ]]; then echo "$LAN6_NET_A"; else echo "$LAN6_NET_B"; fi; }

# The router's address on the public IPv6 segment.
router_addr6() { if [[ $1 == a ]]; then echo "$ROUTER_ADDR6_A"; else echo "$ROUTER_ADDR6_B"; fi; }

ns_exists() { [[ -e "/run/netns/$1" ]]; }

in_ns() {
  local ns=$1
  shift
  ip netns exec "$ns" "$@"
}

require_root_and_tools() {
  [[ $EUID -eq 0 ]] || die "must run as root (network namespaces need CAP_SYS_ADMIN/CAP_NET_ADMIN)"
  local tool
  for tool in ip nft sysctl; do
    command -v "$tool" >/dev/null 2>&1 || die "required tool '$tool' not found (install iproute2 / nftables / procps)"
  done
}

validate_id() {
  [[ -n ${1:-} ]] || usage_error "--id is required"
  [[ $1 =~ ^[A-Za-z0-9]{1,12}$ ]] || usage_error "invalid --id '$1': use 1-12 letters or digits"
}

# A KIND is a base kind with optional modifiers: BASE[+MODIFIER]...
# (prc+hairpin+isolated, profile:kpn-nl+v6fw).
kind_base() {
  local kind=$1
  while [[ $kind =~ ^(.+)\+(v6fw|v6|hairpin|isolated)$ ]]; do kind=${BASH_REMATCH[1]}; done
  printf '%s' "$kind"
}

kind_has() { # kind_has KIND MODIFIER
  local kind=$1
  while [[ $kind =~ ^(.+)\+(v6fw|v6|hairpin|isolated)$ ]]; do
    [[ ${BASH_REMATCH[2]} == "$2" ]] && return 0
    kind=${BASH_REMATCH[1]}
  done
  return 1
}

# Whether a side of this KIND has IPv6 (v6fw, v6, or any kind +v6fw, +v6).
kind_has_v6() { is_v6_only "$1" || kind_has "$1" v6fw || kind_has "$1" v6; }
# Whether that IPv6 is open (v6, +v6: no firewall) rather than firewalled.
kind_v6_open() { [[ $(kind_base "$1") == v6 ]] || kind_has "$1" v6; }
is_v6_only() { local base; base=$(kind_base "$1"); [[ $base == v6fw || $base == v6 ]]; }
# Whether a side of this KIND has IPv4 (every kind but v6fw and v6).
kind_has_v4() { ! is_v6_only "$1"; }

validate_kind() {
  local side=$1 kind=$2 base k known=0 rest mod seen=" "
  base=$(kind_base "$kind")
  for k in $KINDS; do [[ $base == "$k" ]] && known=1; done
  is_natd_kind "$base" && known=1
  if [[ $base == udplimit:* ]]; then
    validate_uint_range "--$side udplimit:RATE" "${base#udplimit:}" 1 1000000
    known=1
  fi
  ((known)) || usage_error "unknown NAT kind '$base' for --$side (valid: ${KINDS// /, }, udplimit:RATE, profile:NAME, model:M/F/A; modifiers +${MODIFIERS// / +})"
  rest=${kind#"$base"}
  while [[ $rest =~ ^\+([^+]+)(.*)$ ]]; do
    mod=${BASH_REMATCH[1]}
    rest=${BASH_REMATCH[2]}
    [[ $seen != *" $mod "* ]] || usage_error "--$side $kind: modifier +$mod given twice"
    seen+="$mod "
    case $mod in
      v6fw | v6)
        [[ $base != none && $base != fw && $base != v6fw && $base != v6 ]] ||
          usage_error "--$side $kind: +$mod needs a kind with a router (kind $base has none, or is IPv6 already)"
        [[ $seen != *" v6fw "* || $seen != *" v6 "* ]] ||
          usage_error "--$side $kind: +v6 (open) and +v6fw (firewalled) exclude each other" ;;
      hairpin)
        [[ $base == prc ]] || is_natd_kind "$base" ||
          usage_error "--$side $kind: +hairpin is built for prc and natd kinds (profile:NAME, model:M/F/A) only" ;;
      isolated)
        [[ $base != none && $base != fw ]] || usage_error "--$side $kind: kind $base has no LAN to isolate" ;;
    esac
  done
}

is_natd_kind() { local base; base=$(kind_base "$1"); [[ $base == profile:* || $base == model:* ]]; }

router_addr() { if [[ $1 == a ]]; then echo "$ROUTER_ADDR_A"; else echo "$ROUTER_ADDR_B"; fi; }

lab_state_dir() { printf '%s/%s' "$STATE_ROOT" "$1"; }

mapping_name() {
  case $1 in
    eim | endpoint-independent) echo endpoint-independent ;;
    adm | address-dependent) echo address-dependent ;;
    apdm | address-and-port-dependent) echo address-and-port-dependent ;;
    *) return 1 ;;
  esac
}

filtering_name() {
  case $1 in
    eif | endpoint-independent) echo endpoint-independent ;;
    adf | address-dependent) echo address-dependent ;;
    apdf | address-and-port-dependent) echo address-and-port-dependent ;;
    *) return 1 ;;
  esac
}

# Prints natd's policy options for a natd kind, one per line (usage error
# for a malformed kind; natd --check judges the values).
natd_policy_args() {
  local side=$1 kind
  kind=$(kind_base "$2")
  case $kind in
    profile:*)
      local name=${kind#profile:} file
      [[ -n $name ]] || usage_error "--$side profile: needs a NAME (e.g. profile:kpn-nl)"
      if [[ $name == */* || $name == *.json ]]; then file=$name; else file=$LAB_DIR/../profiles/$name.json; fi
      if [[ ! -r $file ]]; then
        local known
        known=$(cd "$LAB_DIR/../profiles" 2>/dev/null && ls -- *.json 2>/dev/null | sed 's/\.json$//' | tr '\n' ' ')
        usage_error "--$side $kind: no profile file $file (shipped profiles: ${known:-none})"
      fi
      printf '%s\n' --profile "$(realpath "$file")"
      ;;
    model:*)
      local spec=${kind#model:} m f a
      IFS=/ read -r m f a <<<"$spec"
      [[ -n $m && -n $f && -n $a && $spec == "$m/$f/$a" ]] ||
        usage_error "--$side $kind: expected model:MAPPING/FILTERING/ALLOCATOR (e.g. model:apdm/apdf/block:256)"
      m=$(mapping_name "$m") || usage_error "--$side $kind: mapping must be eim, adm or apdm"
      f=$(filtering_name "$f") || usage_error "--$side $kind: filtering must be eif, adf or apdf"
      printf '%s\n' --mapping "$m" --filtering "$f" --allocator "$a"
      ;;
  esac
}

# The natpunch binary natd kinds run; usage error when it is missing.
natpunch_bin() {
  local bin=${LAB_BIN:-${NATPUNCH_BIN:-$LAB_DIR/../build/natpunch}}
  [[ -x $bin ]] || usage_error "no natpunch binary at $bin (build it: bash scripts/setup.sh, or pass --bin PATH)"
  realpath "$bin"
}

# Full natd command line (one word per line) for a side, minus --log-mappings.
natd_command() {
  local side=$1 kind=$2 udp_timeout=$3 udp_stream_timeout=$4 extra=$5
  local bin
  bin=$(natpunch_bin) || exit $?
  printf '%s\n' "$bin" natd --tun tun0 --inside-cidr "$(lan_net "$side").0/$LAN_PREFIX" --public-ip "$(public_addr "$side")"
  natd_policy_args "$side" "$kind" || exit $?
  if kind_has "$kind" hairpin; then printf '%s\n' --hairpinning; fi
  [[ -z $udp_timeout ]] || printf '%s\n' --pending-timeout "$udp_timeout"
  [[ -z $udp_stream_timeout ]] || printf '%s\n' --idle-timeout "$udp_stream_timeout"
  if [[ -n $extra ]]; then
    local words
    read -r -a words <<<"$extra"
    printf '%s\n' "${words[@]}"
  fi
}

# Checks a natd side completely (binary, profile, policy, extra options)
# before any namespace exists.
check_natd_side() {
  local side=$1 kind=$2 udp_timeout=$3 udp_stream_timeout=$4 extra=$5
  local cmd out
  mapfile -t cmd < <(natd_command "$side" "$kind" "$udp_timeout" "$udp_stream_timeout" "$extra"; echo "status=$?")
  [[ ${#cmd[@]} -gt 0 && ${cmd[-1]} == status=0 ]] || exit 2
  unset 'cmd[-1]'
  if ! out=$("${cmd[@]}" --check 2>&1); then
    usage_error "--$side $kind: natd rejects it: ${out//$'\n'/ }"
  fi
}

validate_uint_range() {
  local opt=$1 value=$2 min=$3 max=$4
  if ! [[ $value =~ ^[0-9]{1,6}$ ]] || ((10#$value < min || 10#$value > max)); then
    usage_error "invalid $opt '$value': need an integer from $min to $max"
  fi
}

# Prints the lab's namespaces that exist, one per line.
lab_namespaces() {
  local id=$1 host ns
  for host in $HOSTS; do
    ns=$(ns_name "$id" "$host")
    if ns_exists "$ns"; then printf '%s\n' "$ns"; fi
  done
}

# Kills every process living in the given namespaces, then deletes them.
remove_namespaces() {
  local namespaces=("$@") ns pid pids=() remaining
  ((${#namespaces[@]} > 0)) || return 0
  for ns in "${namespaces[@]}"; do
    while read -r pid; do
      [[ -n $pid && $pid != "$$" ]] && pids+=("$pid")
    done < <(ip netns pids "$ns" 2>/dev/null || true)
  done
  if ((${#pids[@]} > 0)); then
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
      remaining=()
      for pid in "${pids[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then remaining+=("$pid"); fi
      done
      ((${#remaining[@]} > 0)) || break
      sleep 0.1
    done
    if ((${#remaining[@]} > 0)); then
      kill -KILL "${remaining[@]}" 2>/dev/null || true
    fi
  fi
  for ns in "${namespaces[@]}"; do
    ip netns delete "$ns" 2>/dev/null || ! ns_exists "$ns" ||
      printf '%s: warning: could not delete namespace %s\n' "$PROG" "$ns" >&2
  done
}

# ---------------------------------------------------------------- building

# new_namespace NS IPV4_FORWARDING [IPV6: off|host|router]
new_namespace() {
  local ns=$1 forwarding=$2 v6=${3:-off}
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  if [[ $v6 == off ]]; then
    # Namespaces without a part in the IPv6 plan: it would only add link-local noise.
    in_ns "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 2>/dev/null || true
  else
    # Set before any link exists, so every link inherits it: static
    # addresses only (no router advertisements, no autoconfiguration) and no
    # duplicate address detection, whose ~1 s wait would make addresses
    # unusable right after `up`.
    local conf forward=0
    [[ $v6 == router ]] && forward=1
    for conf in all default; do
      in_ns "$ns" sysctl -qw net.ipv6.conf.$conf.disable_ipv6=0 net.ipv6.conf.$conf.accept_dad=0 \
        net.ipv6.conf.$conf.accept_ra=0 net.ipv6.conf.$conf.autoconf=0 net.ipv6.conf.$conf.forwarding=$forward
    done
  fi
  in_ns "$ns" sysctl -qw net.ipv4.ip_forward="$forwarding"
  # With br_netfilter loaded, frames crossing a bridge (br0, a LAN bridge
  # lan0) would run through this namespace's IP hooks: a hairpinned packet
  # would be switched between LAN ports after its dnat instead of routed.
  # Bridges here only switch.
  in_ns "$ns" sysctl -qw net.bridge.bridge-nf-call-iptables=0 net.bridge.bridge-nf-call-ip6tables=0 \
    net.bridge.bridge-nf-call-arptables=0 2>/dev/null || true
  if ((forwarding)); then
    # A router that sends a hairpinned packet back out of the interface it
    # came in on must not tell the sender to go there directly.
    in_ns "$ns" sysctl -qw net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.default.send_redirects=0
  fi
}

# Plugs interface $dev of namespace $ns into the public bridge.
attach_to_public() {
  local id=$1 ns=$2 dev=$3 port=$4 mtu=$5
  local inet
  inet=$(ns_name "$id" inet)
  ip -n "$inet" link add "$port" mtu "$mtu" type veth peer name "$dev" netns "$ns" mtu "$mtu"
  ip -n "$inet" link set "$port" master br0 up
  ip -n "$ns" link set "$dev" up
}

set_conntrack_timeouts() {
  local ns=$1 udp_timeout=$2 udp_stream_timeout=$3
  if [[ -n $udp_timeout ]]; then
    in_ns "$ns" sysctl -qw net.netfilter.nf_conntrack_udp_timeout="$udp_timeout"
  fi
  if [[ -n $udp_stream_timeout ]]; then
    in_ns "$ns" sysctl -qw net.netfilter.nf_conntrack_udp_timeout_stream="$udp_stream_timeout"
  fi
}

# nft ruleset of a NAT router. Unsolicited inbound UDP is dropped before the
# router's own stack sees it: besides mimicking carrier NATs (no ICMP), this
# keeps the kernel from confirming a conntrack entry for the stray packet,
# which would otherwise steal the external port and make masquerade pick a
# different one when the client later sends to that peer (breaks punching).
router_ruleset() {
  local side=$1 kind=$2 client=$3 filter_timeout=$4
  local base masquerade="masquerade" public lan hairpin=0 isolated=0
  base=$(kind_base "$kind")
  public=$(public_addr "$side")
  lan=$(lan_net "$side")
  kind_has "$kind" hairpin && hairpin=1
  kind_has "$kind" isolated && isolated=1
  if [[ $base == sym ]]; then masquerade="masquerade fully-random"; fi
  cat <<EOF
table ip natpunch_lab {
  comment "kind=${base%%:*} side=$side"
EOF
  case $base in
    fc) cat <<EOF
  set mapped_ports {
    type inet_service
    flags dynamic,timeout
    timeout ${filter_timeout}s
  }
EOF
      ;;
    rc) cat <<EOF
  set contacted {
    type ipv4_addr . inet_service
    flags dynamic,timeout
    timeout ${filter_timeout}s
  }
EOF
      ;;
  esac
  # Hairpinning: which inside client owns an external port. masquerade
  # keeps the source port while it is free, so the client's own port is the
  # key, learnt from its outbound UDP.
  if ((hairpin)); then
    cat <<EOF
  map hairpin {
    type inet_service : ipv4_addr
    flags dynamic,timeout
    timeout ${filter_timeout}s
  }
EOF
  fi
  # The cone kinds forward unsolicited inbound UDP that their filter admits
  # to the client, keeping the port (masquerade preserved it on the way out).
  local admit=""
  case $base in
    fc) admit='udp dport @mapped_ports' ;;
    rc) admit='ip saddr . udp dport @contacted' ;;
  esac
  if [[ -n $admit ]] || ((hairpin)); then
    echo '  chain prerouting {'
    echo '    type nat hook prerouting priority dstnat; policy accept;'
    [[ -z $admit ]] || echo "    iifname \"wan0\" $admit dnat to $client"
    ((hairpin == 0)) || echo "    iifname \"lan0\" ip daddr $public meta l4proto udp dnat to udp dport map @hairpin"
    echo '  }'
  fi
  cat <<EOF
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan0" $masquerade
EOF
  # A hairpinned packet reaches its target from the sender's public mapping
  # (snat keeps the sender's port unless another flow to that target holds it).
  ((hairpin == 0)) || echo "    oifname \"lan0\" ip saddr $lan.0/$LAN_PREFIX ct status dnat snat to $public"
  cat <<EOF
  }
  chain input {
    type filter hook input priority filter; policy accept;
EOF
  if [[ $base == block ]]; then echo '    iifname "wan0" meta l4proto udp drop'; fi
  cat <<EOF
    iifname "wan0" meta l4proto udp ct state new drop
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
EOF
  if [[ $base == block ]]; then echo '    meta l4proto udp drop'; fi
  if [[ $base == udpblock ]]; then echo '    iifname "lan0" meta l4proto udp drop'; fi
  if [[ $base == udplimit* ]]; then
    local rate=${base#udplimit}
    rate=${rate#:}
    rate=$((10#${rate:-$DEFAULT_UDP_RATE}))
    # One limiter per direction, shared by every flow of that direction.
    echo "    iifname \"lan0\" meta l4proto udp limit rate over $rate/second burst $rate packets drop"
    echo "    iifname \"wan0\" meta l4proto udp limit rate over $rate/second burst $rate packets drop"
  fi
  case $base in
    fc) echo '    oifname "wan0" update @mapped_ports { udp sport timeout '"${filter_timeout}"'s }' ;;
    rc) echo '    oifname "wan0" update @contacted { ip daddr . udp sport timeout '"${filter_timeout}"'s }' ;;
  esac
  # (The map's own timeout: a per-element one in a map update adds nothing in nft 1.0.6.)
  ((hairpin == 0)) || echo '    oifname "wan0" meta l4proto udp update @hairpin { udp sport : ip saddr }'
  cat <<EOF
    ct state established,related accept
    iifname "wan0" ct status dnat accept
    iifname "wan0" ct state new drop
EOF
  # Isolated clients meet only through the NAT: hairpinned flows pass,
  # nothing else goes from the LAN back into it.
  if ((isolated)); then
    echo '    iifname "lan0" oifname "lan0" ct status dnat accept'
    echo '    iifname "lan0" oifname "lan0" drop'
  fi
  cat <<EOF
  }
}
EOF
}

# IPv6 of a side with v6fw or +v6fw: routed, no NAT66, a stateful firewall
# in the router as mobile carriers run it. Unsolicited inbound is dropped
# silently (no ICMPv6 errors); replies to outbound flows and their ICMPv6
# errors (packet too big) are let in. Neighbour discovery stays on-link.
# v6, +v6: routed and open (no firewall), only +isolated's rule.
firewall6_ruleset() {
  local side=$1 kind=$2 open=0 name=fw
  if kind_v6_open "$kind"; then open=1 name=open; fi
  cat <<EOF
table ip6 natpunch_lab6 {
  comment "v6=$name side=$side"
  chain input {
    type filter hook input priority filter; policy accept;
EOF
  ((open)) || echo '    iifname "wan0" meta l4proto udp ct state new drop'
  cat <<EOF
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    ct state established,related accept
EOF
  ((open)) || echo '    iifname "wan0" drop'
  if kind_has "$kind" isolated; then echo '    iifname "lan0" oifname "lan0" drop'; fi
  cat <<EOF
  }
}
EOF
}

firewall_ruleset() {
  local side=$1
  cat <<EOF
table ip natpunch_lab {
  comment "kind=fw side=$side"
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "eth0" meta l4proto udp ct state new drop
  }
}
EOF
}

# Client host names of a side: a, a2, a3, ... (count clients).
client_hosts() {
  local side=$1 count=$2 k
  echo "$side"
  for ((k = 2; k <= count; ++k)); do echo "$side$k"; done
}

# Connects the router's LAN to the side's clients: one veth for one client,
# a bridge lan0 with a port per client for several (isolated ports for
# +isolated: the clients then reach only the router). Addresses per the
# side's kind: IPv4 100.64.X.0/24 (not v6fw, v6), IPv6 2001:db8:X::/64
# (v6fw, v6, +v6fw, +v6); the clients' default routes point at the router.
build_lan() {
  local id=$1 side=$2 clients=$3 mtu=$4 kind=$5
  local router lan lan6 host client k=0 v6=off
  router=$(ns_name "$id" "nat-$side")
  lan=$(lan_net "$side")
  lan6=$(lan6_net "$side")
  kind_has_v6 "$kind" && v6=host
  if ((clients > 1)); then
    ip -n "$router" link add lan0 mtu "$mtu" type bridge
  fi
  while read -r host; do
    client=$(ns_name "$id" "$host")
    ((++k))
    new_namespace "$client" 0 "$v6"
    if ((clients > 1)); then
      ip -n "$router" link add "lanp$k" mtu "$mtu" type veth peer name eth0 netns "$client" mtu "$mtu"
      ip -n "$router" link set "lanp$k" master lan0 up
      if kind_has "$kind" isolated; then ip -n "$router" link set dev "lanp$k" type bridge_slave isolated on; fi
    else
      ip -n "$router" link add lan0 mtu "$mtu" type veth peer name eth0 netns "$client" mtu "$mtu"
    fi
    if kind_has_v4 "$kind"; then ip -n "$client" addr add "$lan.$((k + 1))/$LAN_PREFIX" dev eth0; fi
    if [[ $v6 != off ]]; then ip -n "$client" -6 addr add "$lan6::$((k + 1))/$LAN6_PREFIX" dev eth0 nodad; fi
    ip -n "$client" link set eth0 up
    if kind_has_v4 "$kind"; then ip -n "$client" route add default via "$lan.1"; fi
    if [[ $v6 != off ]]; then ip -n "$client" -6 route add default via "$lan6::1" dev eth0; fi
  done < <(client_hosts "$side" "$clients")
  if kind_has_v4 "$kind"; then ip -n "$router" addr add "$lan.1/$LAN_PREFIX" dev lan0; fi
  if [[ $v6 != off ]]; then ip -n "$router" -6 addr add "$lan6::1/$LAN6_PREFIX" dev lan0 nodad; fi
  ip -n "$router" link set lan0 up
}

# Starts natd in the side's router and routes through it: traffic from the
# LAN and traffic for the public address go into tun0 (policy routing), natd
# writes the translated packets back and the kernel forwards them.
start_natd() {
  local id=$1 side=$2 kind=$3 udp_timeout=$4 udp_stream_timeout=$5 extra=$6
  local router state cmd pid
  router=$(ns_name "$id" "nat-$side")
  state=$(lab_state_dir "$id")
  mkdir -p "$state"
  mapfile -t cmd < <(natd_command "$side" "$kind" "$udp_timeout" "$udp_stream_timeout" "$extra")
  # setsid: natd must not die with the shell that ran `lab.sh up`; `down`
  # stops it (it is a process of the router namespace).
  setsid ip netns exec "$router" "${cmd[@]}" --lan lan0 --wan wan0 --log-mappings "$state/natd-$side.mappings" \
    >"$state/natd-$side.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$state/natd-$side.pid"
  local i
  # natd prints its "up" line once the TUN and its routing are in place.
  for ((i = 0; i < 100; ++i)); do
    grep -q '^natd: ' "$state/natd-$side.log" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  if ! grep -q '^natd: ' "$state/natd-$side.log" 2>/dev/null; then
    die "natd for side $side did not start: $(tr '\n' ' ' <"$state/natd-$side.log")"
  fi
}

# The router's IPv6 part (v6fw, v6, +v6fw, +v6): its outside address on the public
# /64 and the stateful firewall. Routes to the other /64s come later
# (route_v6_lans), once every side exists.
build_router_v6() {
  local id=$1 side=$2 kind=$3 udp_timeout=$4 udp_stream_timeout=$5
  local router
  router=$(ns_name "$id" "nat-$side")
  ip -n "$router" -6 addr add "$(router_addr6 "$side")/$PUBLIC6_PREFIX" dev wan0 nodad
  firewall6_ruleset "$side" "$kind" | in_ns "$router" nft -f -
  set_conntrack_timeouts "$router" "$udp_timeout" "$udp_stream_timeout"
}

build_side() {
  local id=$1 side=$2 kind=$3 udp_timeout=$4 udp_stream_timeout=$5 nat_mtu=$6 other_mtu=$7 clients=$8 extra=$9
  local client router public lan base v6=off
  client=$(ns_name "$id" "$side")
  router=$(ns_name "$id" "nat-$side")
  public=$(public_addr "$side")
  lan=$(lan_net "$side")
  base=$(kind_base "$kind")
  kind_has_v6 "$kind" && v6=router
  mkdir -p "$(lab_state_dir "$id")"
  echo "$kind" >"$(lab_state_dir "$id")/kind-$side"

  case $base in
    none | fw)
      new_namespace "$client" 0
      attach_to_public "$id" "$client" eth0 "to-$side" "$nat_mtu"
      ip -n "$client" addr add "$public/$PUBLIC_PREFIX" dev eth0
      if [[ $base == fw ]]; then
        firewall_ruleset "$side" | in_ns "$client" nft -f -
        set_conntrack_timeouts "$client" "$udp_timeout" "$udp_stream_timeout"
      fi
      ;;
    v6fw | v6)
      # The carrier's IPv6 router: no IPv4 at all on this side.
      new_namespace "$router" 0 router
      attach_to_public "$id" "$router" wan0 "to-nat-$side" "$nat_mtu"
      build_lan "$id" "$side" "$clients" "$other_mtu" "$kind"
      build_router_v6 "$id" "$side" "$kind" "$udp_timeout" "$udp_stream_timeout"
      ;;
    profile:* | model:*)
      # natd routes like a carrier router with a smaller link: with --mtu it
      # answers DF packets above it with "fragmentation needed" and
      # fragments the rest, both ways (given in $extra); an L2 hop with a
      # smaller MTU would silently drop the server's larger packets instead.
      new_namespace "$router" 1 "$v6"
      attach_to_public "$id" "$router" wan0 "to-nat-$side" "$other_mtu"
      ip -n "$router" addr add "$(router_addr "$side")/$PUBLIC_PREFIX" dev wan0
      build_lan "$id" "$side" "$clients" "$other_mtu" "$kind"
      [[ $v6 == off ]] || build_router_v6 "$id" "$side" "$kind" "$udp_timeout" "$udp_stream_timeout"
      start_natd "$id" "$side" "$kind" "$udp_timeout" "$udp_stream_timeout" "$extra"
      ;;
    *)
      new_namespace "$router" 1 "$v6"
      attach_to_public "$id" "$router" wan0 "to-nat-$side" "$nat_mtu"
      ip -n "$router" addr add "$public/$PUBLIC_PREFIX" dev wan0
      build_lan "$id" "$side" "$clients" "$other_mtu" "$kind"
      # The ruleset goes in first: it loads conntrack if the kernel had not
      # yet, and the timeout sysctls only exist once conntrack is loaded.
      local filter_timeout
      filter_timeout=${udp_timeout:-$(in_ns "$router" sysctl -n net.netfilter.nf_conntrack_udp_timeout 2>/dev/null || echo 30)}
      router_ruleset "$side" "$kind" "$lan.2" "$filter_timeout" | in_ns "$router" nft -f -
      [[ $v6 == off ]] || build_router_v6 "$id" "$side" "$kind" "$udp_timeout" "$udp_stream_timeout"
      set_conntrack_timeouts "$router" "$udp_timeout" "$udp_stream_timeout"
      ;;
  esac
}

# Every host on the public segment that routes IPv6 (server, the routers of
# sides with IPv6) learns the way to each side's /64: via that side's
# router. No default route anywhere on the segment.
route_v6_lans() {
  local id=$1 kind_a=$2 kind_b=$3 side kind other_kind prefix via
  for side in a b; do
    if [[ $side == a ]]; then kind=$kind_a other_kind=$kind_b; else kind=$kind_b other_kind=$kind_a; fi
    kind_has_v6 "$kind" || continue
    prefix="$(lan6_net "$side")::/$LAN6_PREFIX"
    via=$(router_addr6 "$side")
    ip -n "$(ns_name "$id" server)" -6 route add "$prefix" via "$via" dev eth0
    if kind_has_v6 "$other_kind"; then
      ip -n "$(ns_name "$id" "nat-$([[ $side == a ]] && echo b || echo a)")" -6 route add "$prefix" via "$via" dev wan0
    fi
  done
}

kind_description() {
  local kind=$1 base text
  base=$(kind_base "$kind")
  case $base in
    none) text="no NAT (public address)" ;;
    prc) text="port-restricted cone (masquerade)" ;;
    sym) text="symmetric (masquerade fully-random)" ;;
    block) text="UDP blocked (masquerade + drop udp)" ;;
    udpblock) text="outbound UDP blocked, TCP passes (masquerade + drop udp from lan0)" ;;
    udplimit*)
      local rate=${base#udplimit}
      rate=${rate#:}
      text="UDP limited to ${rate:-$DEFAULT_UDP_RATE} packets/s each way (masquerade + nft limit)"
      ;;
    fw) text="symmetric UDP firewall (public address + stateful firewall)" ;;
    fc) text="full cone (masquerade + dnat to mapped ports)" ;;
    rc) text="restricted cone (masquerade + dnat from contacted addresses)" ;;
    v6fw) text="IPv6 only, no NAT, stateful firewall" ;;
    v6) text="IPv6 only, no NAT, open (no firewall)" ;;
    profile:*) text="userspace natd with carrier profile ${base#profile:}" ;;
    model:*) text="userspace natd, mapping/filtering/allocator ${base#model:}" ;;
    *) text="unknown" ;;
  esac
  kind_has "$kind" v6fw && text+="; IPv6 behind a stateful firewall"
  kind_has "$kind" v6 && text+="; IPv6 open (no firewall)"
  kind_has "$kind" hairpin && text+="; hairpinning"
  kind_has "$kind" isolated && text+="; clients isolated from each other"
  echo "$text"
}

# Reads the NAT kind of one side back from the running lab.
side_kind() {
  local id=$1 side=$2 ns comment state
  state=$(lab_state_dir "$id")/kind-$side
  if [[ -r $state ]] && { ns_exists "$(ns_name "$id" "nat-$side")" || ns_exists "$(ns_name "$id" "$side")"; }; then
    cat "$state"
    return
  fi
  for ns in "$(ns_name "$id" "nat-$side")" "$(ns_name "$id" "$side")"; do
    ns_exists "$ns" || continue
    comment=$(in_ns "$ns" nft list table ip natpunch_lab 2>/dev/null | sed -n 's/.*comment "kind=\([a-z]*\) .*/\1/p' | head -n1)
    if [[ -n $comment ]]; then
      echo "$comment"
      return
    fi
  done
  if ns_exists "$(ns_name "$id" "$side")"; then echo none; else echo "?"; fi
}

# join_by SEPARATOR WORD...: the words joined by SEPARATOR.
join_by() {
  local separator=$1 out=$2 word
  shift 2
  for word in "$@"; do out+="$separator$word"; done
  printf '%s' "$out"
}

print_summary() {
  local id=$1 kind_a=$2 kind_b=$3 nat_mtu=$4 udp_timeout=$5 udp_stream_timeout=$6 clients_a=$7 clients_b=$8
  local side kind public lan lan6 clients host k addresses router_addresses
  echo "lab '$id' is up (public segment 203.0.113.0/$PUBLIC_PREFIX and 2001:db8::/$PUBLIC6_PREFIX = bridge br0 in $(ns_name "$id" inet), $INET_ADDR, $INET_ADDR6)"
  local w=$((${#id} + 10)) # width of the longest name, np-ID-server
  printf '  %-8s %-*s %s\n' server "$w" "$(ns_name "$id" server)" "$SERVER_ADDR1, $SERVER_ADDR2, $SERVER_ADDR6_1, $SERVER_ADDR6_2"
  for side in a b; do
    [[ $side == a ]] && kind=$kind_a || kind=$kind_b
    public=$(public_addr "$side")
    lan=$(lan_net "$side")
    lan6=$(lan6_net "$side")
    case $(kind_base "$kind") in
      none | fw)
        printf '  %-8s %-*s %s   [%s: %s]\n' "$side" "$w" "$(ns_name "$id" "$side")" "$public" "$kind" "$(kind_description "$kind")"
        ;;
      *)
        [[ $side == a ]] && clients=$clients_a || clients=$clients_b
        k=1
        while read -r host; do
          ((++k))
          addresses=()
          kind_has_v4 "$kind" && addresses+=("$lan.$k via $lan.1")
          kind_has_v6 "$kind" && addresses+=("$lan6::$k via $lan6::1")
          printf '  %-8s %-*s %s   [%s: %s]\n' "$host" "$w" "$(ns_name "$id" "$host")" "$(join_by ', ' "${addresses[@]}")" \
            "$kind" "$(kind_description "$kind")"
        done < <(client_hosts "$side" "$clients")
        router_addresses=()
        kind_has_v4 "$kind" && router_addresses+=("inside $lan.1, outside $public")
        kind_has_v6 "$kind" && router_addresses+=("inside $lan6::1, outside $(router_addr6 "$side")")
        printf '  %-8s %-*s %s\n' "nat-$side" "$w" "$(ns_name "$id" "nat-$side")" "$(join_by '; ' "${router_addresses[@]}")"
        if is_natd_kind "$kind"; then
          printf '  %-8s natd pid %s, mappings %s\n' "" "$(cat "$(lab_state_dir "$id")/natd-$side.pid")" \
            "$(lab_state_dir "$id")/natd-$side.mappings"
        fi
        ;;
    esac
  done
  local conntrack_ns="" ns
  for side in a b; do
    [[ $side == a ]] && kind=$kind_a || kind=$kind_b
    ns=$(ns_name "$id" "nat-$side")
    if ns_exists "$ns" && ! is_natd_kind "$kind"; then conntrack_ns=$ns; break; fi
  done
  if is_natd_kind "$kind_a" || is_natd_kind "$kind_b"; then
    echo "  natd timeouts (s): pending ${udp_timeout:-from profile/default}, idle ${udp_stream_timeout:-from profile/default}"
  fi
  if [[ -n $conntrack_ns ]]; then
    udp_timeout=$(in_ns "$conntrack_ns" sysctl -n net.netfilter.nf_conntrack_udp_timeout 2>/dev/null || echo "?")
    udp_stream_timeout=$(in_ns "$conntrack_ns" sysctl -n net.netfilter.nf_conntrack_udp_timeout_stream 2>/dev/null || echo "?")
    echo "  NAT conntrack UDP timeouts: ${udp_timeout} s unreplied, ${udp_stream_timeout} s after replies"
  fi
  echo "  MTU of the NAT outside links: $nat_mtu"
  echo "  run commands with: $PROG exec --id $id HOST -- CMD   (tear down: $PROG down --id $id)"
}

cmd_up() {
  local id="" kind_a=prc kind_b=prc udp_timeout="" udp_stream_timeout="" mtu="" clients_a=1 clients_b=1
  local natd_args_a="" natd_args_b=""
  while (($# > 0)); do
    case $1 in
      --id) id=${2-}; shift 2 || usage_error "--id needs a value" ;;
      --id=*) id=${1#*=}; shift ;;
      --a) kind_a=${2-}; shift 2 || usage_error "--a needs a KIND" ;;
      --a=*) kind_a=${1#*=}; shift ;;
      --b) kind_b=${2-}; shift 2 || usage_error "--b needs a KIND" ;;
      --b=*) kind_b=${1#*=}; shift ;;
      --udp-timeout) udp_timeout=${2-}; shift 2 || usage_error "--udp-timeout needs seconds" ;;
      --udp-timeout=*) udp_timeout=${1#*=}; shift ;;
      --udp-stream-timeout) udp_stream_timeout=${2-}; shift 2 || usage_error "--udp-stream-timeout needs seconds" ;;
      --udp-stream-timeout=*) udp_stream_timeout=${1#*=}; shift ;;
      --mtu) mtu=${2-}; shift 2 || usage_error "--mtu needs a value" ;;
      --mtu=*) mtu=${1#*=}; shift ;;
      --a-clients) clients_a=${2-}; shift 2 || usage_error "--a-clients needs a number" ;;
      --a-clients=*) clients_a=${1#*=}; shift ;;
      --b-clients) clients_b=${2-}; shift 2 || usage_error "--b-clients needs a number" ;;
      --b-clients=*) clients_b=${1#*=}; shift ;;
      --natd-args-a) natd_args_a=${2-}; shift 2 || usage_error "--natd-args-a needs a value" ;;
      --natd-args-a=*) natd_args_a=${1#*=}; shift ;;
      --natd-args-b) natd_args_b=${2-}; shift 2 || usage_error "--natd-args-b needs a value" ;;
      --natd-args-b=*) natd_args_b=${1#*=}; shift ;;
      --bin) LAB_BIN=${2-}; shift 2 || usage_error "--bin needs a path" ;;
      --bin=*) LAB_BIN=${1#*=}; shift ;;
      -h | --help) usage; exit 0 ;;
      *) usage_error "up: unknown argument '$1'" ;;
    esac
  done
  validate_id "$id"
  validate_kind a "$kind_a"
  validate_kind b "$kind_b"
  [[ -z $udp_timeout ]] || validate_uint_range --udp-timeout "$udp_timeout" 1 86400
  [[ -z $udp_stream_timeout ]] || validate_uint_range --udp-stream-timeout "$udp_stream_timeout" 1 86400
  [[ -z $mtu ]] || validate_uint_range --mtu "$mtu" 68 65535
  # For natd kinds the path MTU is natd's (see build_side).
  if [[ -n $mtu ]]; then
    is_natd_kind "$kind_a" && natd_args_a="--mtu $((10#$mtu)) $natd_args_a"
    is_natd_kind "$kind_b" && natd_args_b="--mtu $((10#$mtu)) $natd_args_b"
  fi
  validate_uint_range --a-clients "$clients_a" 1 "$MAX_CLIENTS"
  validate_uint_range --b-clients "$clients_b" 1 "$MAX_CLIENTS"
  clients_a=$((10#$clients_a))
  clients_b=$((10#$clients_b))
  local side kind clients extra
  for side in a b; do
    if [[ $side == a ]]; then kind=$kind_a clients=$clients_a extra=$natd_args_a; else kind=$kind_b clients=$clients_b extra=$natd_args_b; fi
    case $(kind_base "$kind") in
      none | fw) ((clients == 1)) || usage_error "--$side-clients: kind $kind puts the client on the public segment; only 1 client" ;;
      fc | rc) ((clients == 1)) || usage_error "--$side-clients: kind $kind assumes one client per LAN; use a natd kind (model:eim/eif/preserving) for several" ;;
    esac
    if is_natd_kind "$kind"; then
      check_natd_side "$side" "$kind" "$udp_timeout" "$udp_stream_timeout" "$extra"
    elif [[ -n $extra ]]; then
      usage_error "--natd-args-$side: side $side's kind $kind does not run natd"
    fi
  done
  local nat_mtu=$((10#${mtu:-$DEFAULT_MTU}))
  local other_mtu=$((nat_mtu > DEFAULT_MTU ? nat_mtu : DEFAULT_MTU))
  require_root_and_tools

  local existing
  existing=$(lab_namespaces "$id")
  [[ -z $existing ]] || die "lab '$id' already exists (${existing//$'\n'/ }); run '$PROG down --id $id' first"

  # From here on, any failure (or Ctrl-C) removes what this run created.
  LAB_UP_ID=$id
  LAB_UP_DONE=0
  trap 'up_cleanup' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  local inet server
  inet=$(ns_name "$id" inet)
  server=$(ns_name "$id" server)
  new_namespace "$inet" 0 host
  ip -n "$inet" link add br0 mtu "$other_mtu" type bridge
  ip -n "$inet" addr add "$INET_ADDR/$PUBLIC_PREFIX" dev br0
  ip -n "$inet" -6 addr add "$INET_ADDR6/$PUBLIC6_PREFIX" dev br0 nodad
  ip -n "$inet" link set br0 up

  new_namespace "$server" 0 host
  attach_to_public "$id" "$server" eth0 to-server "$other_mtu"
  ip -n "$server" addr add "$SERVER_ADDR1/$PUBLIC_PREFIX" dev eth0
  ip -n "$server" addr add "$SERVER_ADDR2/$PUBLIC_PREFIX" dev eth0
  ip -n "$server" -6 addr add "$SERVER_ADDR6_1/$PUBLIC6_PREFIX" dev eth0 nodad
  ip -n "$server" -6 addr add "$SERVER_ADDR6_2/$PUBLIC6_PREFIX" dev eth0 nodad

  build_side "$id" a "$kind_a" "$udp_timeout" "$udp_stream_timeout" "$nat_mtu" "$other_mtu" "$clients_a" "$natd_args_a"
  build_side "$id" b "$kind_b" "$udp_timeout" "$udp_stream_timeout" "$nat_mtu" "$other_mtu" "$clients_b" "$natd_args_b"
  route_v6_lans "$id" "$kind_a" "$kind_b"

  # A bridge follows its smallest port's MTU; pin it so the lab's own
  # address on the public segment is not the one limited by --mtu.
  ip -n "$inet" link set br0 mtu "$other_mtu"

  LAB_UP_DONE=1
  trap - EXIT INT TERM
  print_summary "$id" "$kind_a" "$kind_b" "$nat_mtu" "$udp_timeout" "$udp_stream_timeout" "$clients_a" "$clients_b"
}

up_cleanup() {
  local status=$?
  if [[ ${LAB_UP_DONE:-1} != 1 ]]; then
    printf '%s: building lab %s failed; removing what was created\n' "$PROG" "$LAB_UP_ID" >&2
    local namespaces
    mapfile -t namespaces < <(lab_namespaces "$LAB_UP_ID")
    remove_namespaces "${namespaces[@]}"
    rm -rf "$(lab_state_dir "$LAB_UP_ID")"
    ((status != 0)) || status=1
  fi
  exit "$status"
}

cmd_down() {
  local id=""
  while (($# > 0)); do
    case $1 in
      --id) id=${2-}; shift 2 || usage_error "--id needs a value" ;;
      --id=*) id=${1#*=}; shift ;;
      -h | --help) usage; exit 0 ;;
      *) usage_error "down: unknown argument '$1'" ;;
    esac
  done
  validate_id "$id"
  require_root_and_tools
  local namespaces
  mapfile -t namespaces < <(lab_namespaces "$id")
  if ((${#namespaces[@]} == 0)); then
    rm -rf "$(lab_state_dir "$id")"
    echo "lab '$id': nothing to remove"
    return 0
  fi
  remove_namespaces "${namespaces[@]}"
  rm -rf "$(lab_state_dir "$id")"
  echo "lab '$id' removed (${namespaces[*]})"
}

cmd_down_all() {
  (($# == 0)) || usage_error "down-all takes no arguments"
  require_root_and_tools
  local namespaces
  mapfile -t namespaces < <(ip netns list | awk '$1 ~ /^np-/ { print $1 }')
  if ((${#namespaces[@]} == 0)); then
    echo "no np-* namespaces to remove"
    return 0
  fi
  remove_namespaces "${namespaces[@]}"
  rm -rf "$STATE_ROOT"
  echo "removed ${#namespaces[@]} namespace(s): ${namespaces[*]}"
}

cmd_exec() {
  local id="" host=""
  while (($# > 0)); do
    case $1 in
      --id) id=${2-}; shift 2 || usage_error "--id needs a value" ;;
      --id=*) id=${1#*=}; shift ;;
      --) shift; break ;;
      -*) usage_error "exec: unknown option '$1'" ;;
      *)
        [[ -z $host ]] || break
        host=$1
        shift
        ;;
    esac
  done
  validate_id "$id"
  [[ -n $host ]] || usage_error "exec: HOST missing (one of: $HOSTS)"
  [[ " $HOSTS " == *" $host "* ]] || usage_error "exec: unknown HOST '$host' (one of: $HOSTS)"
  (($# > 0)) || usage_error "exec: no command given (lab.sh exec --id ID HOST -- CMD...)"
  require_root_and_tools
  local ns
  ns=$(ns_name "$id" "$host")
  if ! ns_exists "$ns"; then
    if [[ $host == nat-* ]] && ns_exists "$(ns_name "$id" "${host#nat-}")"; then
      die "lab '$id' has no $host: side ${host#nat-} has no NAT router (kind none/fw)"
    fi
    die "namespace $ns does not exist (is lab '$id' up? see '$PROG list')"
  fi
  exec ip netns exec "$ns" "$@"
}

# Moves client HOST to SIDE's LAN, as a phone changes networks (Wi-Fi <->
# cellular): its link to its router goes away (with the address on it) and a
# new one from SIDE's LAN bridge comes up with the next free address from .6
# (IPv6 ::6) and default routes via SIDE's router. Processes in HOST keep
# running; sockets bound to the old address stop working, sockets bound to
# the wildcard address send from the new one through the other NAT.
cmd_move() {
  local id="" host="" side=""
  while (($# > 0)); do
    case $1 in
      --id) id=${2-}; shift 2 || usage_error "--id needs a value" ;;
      --id=*) id=${1#*=}; shift ;;
      -h | --help) usage; exit 0 ;;
      -*) usage_error "move: unknown option '$1'" ;;
      *)
        if [[ -z $host ]]; then host=$1; elif [[ -z $side ]]; then side=$1; else usage_error "move: unexpected argument '$1'"; fi
        shift
        ;;
    esac
  done
  validate_id "$id"
  [[ $host =~ ^[ab][2-4]?$ ]] || usage_error "move: HOST must be a client (a, a2..a4, b, b2..b4), not '$host'"
  [[ $side == a || $side == b ]] || usage_error "move: SIDE must be a or b, not '${side}'"
  require_root_and_tools
  local client router from_kind to_kind
  client=$(ns_name "$id" "$host")
  router=$(ns_name "$id" "nat-$side")
  ns_exists "$client" || die "namespace $client does not exist (is lab '$id' up with that client?)"
  ns_exists "$router" || die "lab '$id' has no nat-$side (kind none/fw: no LAN to move to)"
  ip -n "$router" -d link show lan0 2>/dev/null | grep -q ' bridge ' ||
    die "side $side's LAN is a single link, not a bridge: bring the lab up with --$side-clients 2 or more to move clients to it"
  from_kind=$(side_kind "$id" "$(lab_host_side "$id" "$host")")
  to_kind=$(side_kind "$id" "$side")
  [[ $(kind_has_v4 "$from_kind" && echo 4)$(kind_has_v6 "$from_kind" && echo 6) == \
    $(kind_has_v4 "$to_kind" && echo 4)$(kind_has_v6 "$to_kind" && echo 6) ]] ||
    die "move: $host's network ($from_kind) and side $side's ($to_kind) have different address families"
  local n port mtu lan lan6 addresses=()
  for n in 1 2 3 4; do ip -n "$router" link show "lanm$n" >/dev/null 2>&1 || break; done
  ip -n "$router" link show "lanm$n" >/dev/null 2>&1 && die "side $side already has 4 moved-in clients"
  port=lanm$n
  mtu=$(ip -n "$router" -o link show lan0 | sed -n 's/.* mtu \([0-9]*\).*/\1/p')
  lan=$(lan_net "$side")
  lan6=$(lan6_net "$side")
  # Deleting one end of a veth deletes the other (the old router's bridge port).
  ip -n "$client" link del eth0
  ip -n "$router" link add "$port" mtu "$mtu" type veth peer name eth0 netns "$client" mtu "$mtu"
  ip -n "$router" link set "$port" master lan0 up
  if kind_has "$to_kind" isolated; then ip -n "$router" link set dev "$port" type bridge_slave isolated on; fi
  if kind_has_v4 "$to_kind"; then
    ip -n "$client" addr add "$lan.$((5 + n))/$LAN_PREFIX" dev eth0
    addresses+=("$lan.$((5 + n)) via $lan.1")
  fi
  if kind_has_v6 "$to_kind"; then
    ip -n "$client" -6 addr add "$lan6::$((5 + n))/$LAN6_PREFIX" dev eth0 nodad
    addresses+=("$lan6::$((5 + n)) via $lan6::1")
  fi
  ip -n "$client" link set eth0 up
  if kind_has_v4 "$to_kind"; then ip -n "$client" route add default via "$lan.1"; fi
  if kind_has_v6 "$to_kind"; then ip -n "$client" -6 route add default via "$lan6::1" dev eth0; fi
  echo "$side" >"$(lab_state_dir "$id")/side-of-$host"
  echo "moved $host to side $side ($to_kind): $(join_by ', ' "${addresses[@]}")"
}

# The side whose LAN client HOST is on now (its name's, unless moved).
lab_host_side() {
  local state
  state=$(lab_state_dir "$1")/side-of-$2
  if [[ -r $state ]]; then cat "$state"; else printf '%s' "${2:0:1}"; fi
}

cmd_status() {
  local id=""
  while (($# > 0)); do
    case $1 in
      --id) id=${2-}; shift 2 || usage_error "--id needs a value" ;;
      --id=*) id=${1#*=}; shift ;;
      -h | --help) usage; exit 0 ;;
      *) usage_error "status: unknown argument '$1'" ;;
    esac
  done
  validate_id "$id"
  require_root_and_tools
  local namespaces
  mapfile -t namespaces < <(lab_namespaces "$id")
  ((${#namespaces[@]} > 0)) || die "lab '$id' does not exist"
  echo "lab '$id': side a kind=$(side_kind "$id" a), side b kind=$(side_kind "$id" b)"
  local host ns addrs w=$((${#id} + 10))
  for host in $HOSTS; do
    ns=$(ns_name "$id" "$host")
    if ! ns_exists "$ns"; then
      printf '  %-7s %-*s (absent)\n' "$host" "$w" "$ns"
      continue
    fi
    addrs=$(ip -n "$ns" -o addr show scope global 2>/dev/null |
      awk '{ printf "%s%s %s", sep, $2, $4; sep = ", " }')
    printf '  %-7s %-*s %s\n' "$host" "$w" "$ns" "${addrs:-(no addresses)}"
  done
}

cmd_list() {
  (($# == 0)) || usage_error "list takes no arguments"
  ip netns list 2>/dev/null | awk '$1 ~ /^np-[A-Za-z0-9]+-inet$/ { sub(/^np-/, "", $1); sub(/-inet$/, "", $1); print $1 }'
}

main() {
  (($# > 0)) || { usage >&2; exit 2; }
  local command=$1
  shift
  case $command in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    down-all) cmd_down_all "$@" ;;
    exec) cmd_exec "$@" ;;
    status) cmd_status "$@" ;;
    move) cmd_move "$@" ;;
    list) cmd_list "$@" ;;
    -h | --help | help) usage ;;
    *) usage_error "unknown command '$command'" ;;
  esac
}

main "$@"
