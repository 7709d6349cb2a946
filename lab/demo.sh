#!/usr/bin/env bash
# demo.sh — natpunch's end-to-end demo: two phones behind two modelled
# carrier NATs (natpunch natd running carrier profiles, or kernel NATs) in a
# namespace lab learn what NAT they are behind, find each other at natpunch's
# rendezvous and connect, with no hint about their NATs; then two phones
# behind one NAT, and a dual-stack pair. It prints each route and why.
set -euo pipefail

readonly PROG=demo.sh
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
readonly SCRIPT_DIR REPO_ROOT
readonly LAB="$SCRIPT_DIR/lab.sh"
readonly STUN_PRIMARY=203.0.113.10:3478
readonly STUN_ALTERNATE=203.0.113.11:3479

usage() {
  cat <<'EOF'
demo.sh — two phones behind modelled carrier NATs find each other and connect

USAGE
  lab/demo.sh [--a KIND] [--b KIND] [--id ID] [--timeout S] [--only-main]

  Builds the natpunch CLI if needed (cmake --build build --target
  natpunch_cli), brings up a namespace lab (lab/lab.sh) with phones a and a2
  behind KIND a (default profile:kpn-nl: KPN's symmetric NAT with 256-port
  blocks, run by natpunch natd) and phone b behind KIND b (default
  profile:vodafone-nl: Vodafone NL's restricted cone with Beta-distributed
  ports), and starts natpunch's STUN server (203.0.113.10:3478, alternate
  203.0.113.11:3479) and rendezvous (203.0.113.10:7000) in the server. Then:

  1. What each phone learns about its NAT: natpunch nat-type behind a and b,
     next to what the lab built, and the external ports the carrier's
     allocator hands out for 8 new local ports.
  2. a connects to b: natpunch listen in b, natpunch connect in a, both
     with no NAT flags (no --profile, --mapping, --filtering). Prints where
     the rendezvous saw each, every strategy tried and how it ended, the
     time to first byte (the session carries data from the pairing, over
     the relay), the route (direct or relay) and why, the time to direct,
     and the round trip (natpunch --measure 1: min/median/p99 of 200 pings).
  3. Same NAT: a connects to a2, both behind a's NAT (skipped for kinds
     with one client per side: none, fw, fc, rc, v6fw, v6).
  4. Dual stack: a second lab, both phones behind a symmetric IPv4 NAT
     (sym) and an IPv6 stateful firewall (+v6fw), connect the same way.

  Punching is bounded (--punch-timeout-ms 4000), so a pair that cannot
  punch ends on the relay within seconds. Every lab the demo brings up is
  torn down on exit (also on Ctrl-C); no other lab is touched. Takes
  ~40 s. --only-main stops after step 2.

OPTIONS
  --a KIND, --b KIND  NAT kinds of step 1 and 2: kernel NATs (none prc sym
                      block fw fc rc ...), natd kinds profile:NAME
                      (profiles/NAME.json) and model:M/F/ALLOCATOR; see
                      lab/lab.sh --help
  --id ID             lab ID (default: demo<pid>; the dual-stack lab is
                      ID + "d")
  --timeout S         limit for each natpunch run (default 60)
  --only-main         only steps 1 and 2

ENVIRONMENT
  NATPUNCH_BIN        natpunch binary (default build/natpunch, relative to the
                      repository root). When set explicitly it is never built.

EXIT STATUS
  0 natpunch named both NATs right and every pair connected (directly or
  through the relay); 1 a mismatch, a pair that did not connect, a failed
  run or a lab that could not be built; 2 usage error. Needs root.
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

# For natd kinds the expectation comes from natd itself: `natd --check`
# prints the mapping and filtering the profile/policy describes.
NATD_MAPPING_a="" NATD_FILTERING_a="" NATD_PORTS_a=""
NATD_MAPPING_b="" NATD_FILTERING_b="" NATD_PORTS_b=""

is_natd_kind() { [[ $1 == profile:* || $1 == model:* ]]; }

# Fills NATD_*_side from `natpunch natd --check` for a natd kind.
load_natd_expectation() {
  local bin=$1 side=$2 kind=$3 policy=() out
  case $kind in
    profile:*)
      local name=${kind#profile:}
      if [[ $name == */* || $name == *.json ]]; then policy=(--profile "$name"); else policy=(--profile "$REPO_ROOT/profiles/$name.json"); fi
      ;;
    model:*)
      local m f a
      IFS=/ read -r m f a <<<"${kind#model:}"
      case $m in eim) m=endpoint-independent ;; adm) m=address-dependent ;; apdm) m=address-and-port-dependent ;; esac
      case $f in eif) f=endpoint-independent ;; adf) f=address-dependent ;; apdf) f=address-and-port-dependent ;; esac
      policy=(--mapping "$m" --filtering "$f" --allocator "$a")
      ;;
  esac
  out=$("$bin" natd --check --tun tun0 --inside-cidr 100.64.1.0/24 --public-ip 203.0.113.101 "${policy[@]}" 2>&1) ||
    usage_error "--$side $kind: ${out//$'\n'/ }"
  # "natd config ok: M mapping, F filtering, P ports"
  local mapping filtering ports
  mapping=$(sed -n 's/^natd config ok: \([a-z-]*\) mapping, .*/\1/p' <<<"$out")
  filtering=$(sed -n 's/^natd config ok: .* mapping, \([a-z-]*\) filtering, .*/\1/p' <<<"$out")
  ports=$(sed -n 's/^natd config ok: .* filtering, \([a-z-]*\) ports.*/\1/p' <<<"$out")
  [[ -n $mapping && -n $filtering ]] || die "could not read natd's description of $kind: $out"
  printf -v "NATD_MAPPING_$side" '%s' "$mapping"
  printf -v "NATD_FILTERING_$side" '%s' "$filtering"
  printf -v "NATD_PORTS_$side" '%s' "$ports"
}

natd_value() { local var="NATD_${1}_$2"; printf '%s' "${!var}"; }

# The RFC 3489 name of a mapping + filtering pair.
classic_of() {
  case $1 in
    endpoint-independent)
      case $2 in
        endpoint-independent) echo "full cone" ;;
        address-dependent) echo "restricted cone" ;;
        *) echo "port-restricted cone" ;;
      esac
      ;;
    *) echo "symmetric" ;;
  esac
}

# What natpunch should report for each lab kind: classic type, mapping,
# filtering ("-" = not checked: with UDP blocked nothing can be measured, and
# an open host's filtering has no agreed name).
# $2 (side) is only needed for natd kinds.
expected_classic() {
  if is_natd_kind "$1"; then classic_of "$(natd_value MAPPING "$2")" "$(natd_value FILTERING "$2")"; return; fi
  case $1 in
    none) echo "open internet" ;;
    prc) echo "port-restricted cone" ;;
    sym) echo "symmetric" ;;
    block) echo "udp blocked" ;;
    fw) echo "symmetric udp firewall" ;;
    fc) echo "full cone" ;;
    rc) echo "restricted cone" ;;
  esac
}

expected_mapping() {
  if is_natd_kind "$1"; then natd_value MAPPING "$2"; return; fi
  case $1 in
    none | fw) echo "none" ;;
    prc | fc | rc) echo "endpoint-independent" ;;
    sym) echo "address-and-port-dependent" ;;
    *) echo "-" ;;
  esac
}

expected_filtering() {
  if is_natd_kind "$1"; then natd_value FILTERING "$2"; return; fi
  case $1 in
    prc | sym | fw) echo "address-and-port-dependent" ;;
    rc) echo "address-dependent" ;;
    fc) echo "endpoint-independent" ;;
    *) echo "-" ;;
  esac
}

kind_label() {
  if is_natd_kind "$1"; then echo "natpunch natd, $(natd_value PORTS "$2") port allocator"; return; fi
  case $1 in
    none) echo "no NAT (public address)" ;;
    prc) echo "port-restricted cone: nft masquerade" ;;
    sym) echo "symmetric: nft masquerade fully-random" ;;
    block) echo "UDP blocked by the router" ;;
    fw) echo "public address + stateful UDP firewall" ;;
    fc) echo "full cone: masquerade + dnat to mapped ports" ;;
    rc) echo "restricted cone: masquerade + dnat from contacted hosts" ;;
  esac
}

# "ok" when the detected value ($2) is the expected one ($1) or unchecked.
match_mark() { if [[ $1 == "-" ]]; then echo "(not checked)"; elif [[ $1 == "$2" ]]; then echo "ok"; else echo "MISMATCH"; fi; }

public_addr() { if [[ $1 == a ]]; then echo 203.0.113.101; else echo 203.0.113.102; fi; }

# Value of a top-level key of the flat JSON object natpunch prints; strings
# come back without quotes, literals (true/false/null/numbers) as they are.
# Deliberately tiny so the demo needs no jq.
json_field() {
  local key=$1 json=$2 value
  value=$(printf '%s' "$json" | tr -d '\n' |
    sed -n 's/.*"'"$key"'"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
  if [[ -z $value ]]; then
    value=$(printf '%s' "$json" | tr -d '\n' |
      sed -n 's/.*"'"$key"'"[[:space:]]*:[[:space:]]*\([^",}[:space:]]*\).*/\1/p')
  fi
  printf '%s' "$value"
}

DEMO_ID=""     # the lab of steps 1-3
DEMO_LABS=()   # every lab this run brought up (torn down on exit)
SERVER_PID=""
WORK_DIR=""

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  # `down` also ends everything still running in a lab (listeners, the
  # rendezvous). Only the demo's own labs: never anybody else's.
  local id
  for id in "${DEMO_LABS[@]}"; do
    "$LAB" down --id "$id" >/dev/null || printf '%s: warning: lab %s teardown failed; run %s down --id %s\n' "$PROG" "$id" "$LAB" "$id" >&2
  done
  [[ -z $WORK_DIR ]] || rm -rf "$WORK_DIR"
  exit "$status"
}

resolve_binary() {
  local bin=${NATPUNCH_BIN:-build/natpunch}
  [[ $bin == /* ]] || bin="$REPO_ROOT/$bin"
  if [[ ! -x $bin ]]; then
    [[ -z ${NATPUNCH_BIN:-} ]] || die "NATPUNCH_BIN=$NATPUNCH_BIN: no executable at $bin"
    echo "== building natpunch (no $bin yet)" >&2
    command -v cmake >/dev/null 2>&1 || die "cmake not found: install cmake and ninja-build"
    (cd "$REPO_ROOT" && cmake -S . -B build -G Ninja && cmake --build build --target natpunch_cli) >&2 ||
      die "building natpunch failed (see the output above)"
    [[ -x $bin ]] || die "the build finished but produced no $bin"
  fi
  printf '%s' "$bin"
}

start_stun_server() {
  local bin=$1 log=$2
  echo "== starting: natpunch stun-server --listen $STUN_PRIMARY --alt $STUN_ALTERNATE (in np-$DEMO_ID-server)"
  "$LAB" exec --id "$DEMO_ID" server -- "$bin" stun-server --listen "$STUN_PRIMARY" --alt "$STUN_ALTERNATE" >"$log" 2>&1 &
  SERVER_PID=$!
  # Ready once both sockets are bound (at most ~5 s).
  local tries
  for tries in $(seq 1 50); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      wait "$SERVER_PID" 2>/dev/null || true
      SERVER_PID=""
      echo "--- stun-server output:" >&2
      cat "$log" >&2
      die "natpunch stun-server exited during startup"
    fi
    if "$LAB" exec --id "$DEMO_ID" server -- ss -Hlun 2>/dev/null | grep -q ":${STUN_PRIMARY##*:}\b" &&
      "$LAB" exec --id "$DEMO_ID" server -- ss -Hlun 2>/dev/null | grep -q ":${STUN_ALTERNATE##*:}\b"; then
      echo "   stun-server is listening (pid $SERVER_PID, after $((tries * 100)) ms)"
      return 0
    fi
    sleep 0.1
  done
  echo "   warning: stun-server (pid $SERVER_PID) is not listening on both ports after 5 s; trying anyway" >&2
}

# Runs nat-type for one side, prints a report, returns 0 when it matches.
check_side() {
  local bin=$1 side=$2 kind=$3 timeout_s=$4
  local out="$WORK_DIR/nat-type-$side.json" err="$WORK_DIR/nat-type-$side.err" rc=0
  local want_classic want_mapping want_filtering
  want_classic=$(expected_classic "$kind" "$side")
  want_mapping=$(expected_mapping "$kind" "$side")
  want_filtering=$(expected_filtering "$kind" "$side")

  echo
  echo "== client $side behind '$kind' [$(kind_label "$kind" "$side")]: natpunch nat-type $STUN_PRIMARY --json"
  timeout "$timeout_s" "$LAB" exec --id "$DEMO_ID" "$side" -- "$bin" nat-type "$STUN_PRIMARY" --json >"$out" 2>"$err" || rc=$?
  local json
  json=$(cat "$out")
  if ((rc == 124)); then
    echo "   FAIL: nat-type did not finish within ${timeout_s} s"
    sed 's/^/   stderr: /' "$err"
    return 1
  fi
  local classic mapping filtering mapped local_addr hairpin
  classic=$(json_field classic_type "$json")
  if [[ -z $classic ]]; then
    echo "   FAIL: no classic_type in natpunch's output (exit status $rc)"
    sed 's/^/   stdout: /' "$out"
    sed 's/^/   stderr: /' "$err"
    return 1
  fi
  mapping=$(json_field mapping "$json")
  filtering=$(json_field filtering "$json")
  mapped=$(json_field mapped_address "$json")
  local_addr=$(json_field local_address "$json")
  hairpin=$(json_field hairpinning "$json")

  local ok=1
  printf '   %-12s %-28s %-28s %s\n' "" "lab built" "natpunch detected" ""
  printf '   %-12s %-28s %-28s %s\n' "NAT type" "$want_classic" "$classic" "$(match_mark "$want_classic" "$classic")"
  printf '   %-12s %-28s %-28s %s\n' "mapping" "$want_mapping" "${mapping:-?}" "$(match_mark "$want_mapping" "$mapping")"
  printf '   %-12s %-28s %-28s %s\n' "filtering" "$want_filtering" "${filtering:-?}" "$(match_mark "$want_filtering" "$filtering")"
  [[ $want_classic == "$classic" ]] || ok=0
  [[ $want_mapping == "-" || $want_mapping == "$mapping" ]] || ok=0
  [[ $want_filtering == "-" || $want_filtering == "$filtering" ]] || ok=0
  local want_ip=""
  [[ $kind == block ]] || want_ip=$(public_addr "$side")
  if [[ -n $want_ip ]]; then
    local got_ip=${mapped%:*}
    printf '   %-12s %-28s %-28s %s\n' "mapped IP" "$want_ip" "${got_ip:-?}" "$(match_mark "$want_ip" "$got_ip")"
    [[ $want_ip == "$got_ip" ]] || ok=0
  fi
  echo "   mapped address ${mapped:-?} for local ${local_addr:-?}; hairpinning: ${hairpin:-?}; exit status $rc"
  if ((ok)); then
    echo "   => natpunch agrees with the lab"
    return 0
  fi
  echo "   => MISMATCH: natpunch's answer differs from the NAT the lab built"
  [[ ! -s $err ]] || sed 's/^/   stderr: /' "$err"
  return 1
}

# Eight STUN requests from fresh local ports: the external ports the NAT's
# allocator hands out, as the server sees them (KPN: consecutive ports of a
# 256-port block; Vodafone: scattered around ~8,700 by the Beta model).
show_ports() {
  local bin=$1 side=$2 kind=$3 ports=() out port i
  [[ $kind != block ]] || return 0
  for i in 1 2 3 4 5 6 7 8; do
    out=$("$LAB" exec --id "$DEMO_ID" "$side" -- "$bin" stun --json --local "0.0.0.0:$((30000 + i))" "$STUN_PRIMARY" 2>/dev/null) || continue
    port=$(json_field mapped_address "$out")
    ports+=("${port##*:}")
  done
  echo
  echo "== client $side: external ports for 8 new local ports (allocator of '$kind'): ${ports[*]:-none}"
  if ((${#ports[@]} > 1)); then
    local consecutive=1
    for ((i = 1; i < ${#ports[@]}; ++i)); do ((ports[i] == ports[i - 1] + 1)) || consecutive=0; done
    if ((consecutive)); then
      echo "   consecutive ports from $((ports[0] / 256 * 256)) (= $((ports[0] / 256)) x 256): a sequential or block allocator, predictable"
    else
      echo "   scattered ports: a random allocator; a peer has to guess (birthday attack)"
    fi
  fi
}

readonly RENDEZVOUS=203.0.113.10:7000
readonly RENDEZVOUS_STUN_ALT=203.0.113.11:7001
# Bounded punching: a pair that cannot punch ends on the relay in seconds.
readonly PAIR_ARGS=(--rendezvous "$RENDEZVOUS" --json --wait 20 --punch-timeout-ms 4000 --measure 1)

# lab_up ID KIND_A KIND_B [ARGS...]: brings a lab up (its summary indented);
# the lab is the demo's (torn down on exit) only once `up` succeeded: a
# failed `up` cleans up after itself and an existing ID is somebody else's.
lab_up() {
  local id=$1 kind_a=$2 kind_b=$3
  shift 3
  "$LAB" up --id "$id" --a "$kind_a" --b "$kind_b" "$@" | sed 's/^/   /'
  ((PIPESTATUS[0] == 0)) || die "lab.sh up --id $id failed"
  DEMO_LABS+=("$id")
}

start_rendezvous() {
  local bin=$1 id=$2 log=$3 tries
  # --stun-alt: the peers learn their NATs from it at registration (no NAT flags).
  echo "== starting: natpunch rendezvous --listen $RENDEZVOUS --stun-alt $RENDEZVOUS_STUN_ALT (in np-$id-server)"
  "$LAB" exec --id "$id" server -- "$bin" rendezvous --listen "$RENDEZVOUS" --stun-alt "$RENDEZVOUS_STUN_ALT" \
    >"$log" 2>&1 &
  for tries in $(seq 1 50); do
    if "$LAB" exec --id "$id" server -- ss -Hlun 2>/dev/null | grep -q ":${RENDEZVOUS##*:}\b"; then
      echo "   rendezvous is listening (after $((tries * 100)) ms)"
      return 0
    fi
    sleep 0.1
  done
  cat "$log" >&2
  die "natpunch rendezvous is not listening after 5 s"
}

# The connect side's result as shell assignments R_<key>=value (one python3
# call; the standard library only).
read_result() {
  python3 - "$1" <<'PY'
import json, shlex, sys
result = {}
for line in open(sys.argv[1], errors="replace"):
    try:
        j = json.loads(line)
    except ValueError:
        continue
    if isinstance(j, dict) and j.get("event") == "result":
        result = j
m = result.get("measure") or {}
fields = {
    "route": result.get("route"), "strategy": result.get("strategy"),
    "observed": result.get("observed"), "peer_observed": result.get("peer_observed"),
    "peer_endpoint": result.get("peer_endpoint"), "ttc": result.get("time_to_connect_ms"),
    "ttc_from": result.get("time_to_connect_from"), "first_route": result.get("first_route"),
    "ttfb": result.get("time_to_first_byte_ms"), "ttd": result.get("time_to_direct_ms"),
    "probes": result.get("probes_sent"), "measured": result.get("measured"),
    "error": result.get("error"), "stop_reason": result.get("stop_reason"),
    "rtt_min": m.get("rtt_min_ms"), "rtt_median": m.get("rtt_median_ms"), "rtt_p99": m.get("rtt_p99_ms"),
    "pongs": m.get("pongs"), "pings": m.get("pings"),
}
for key, value in fields.items():
    if isinstance(value, bool):
        value = "yes" if value else "no"
    elif isinstance(value, float):
        value = f"{value:.1f}" if key in ("ttc", "ttfb", "ttd") else f"{value:.3f}"
    print(f"R_{key}={shlex.quote('' if value is None else str(value))}")
PY
}

# One sentence: why this route, from where the rendezvous saw both sides and
# the strategy natpunch chose (its own reasons are printed above it).
explain_route() {
  local route=$1 strategy=$2 observed=$3 peer_observed=$4 peer_endpoint=$5
  local same_nat=0
  [[ -n $observed && ${observed%:*} == "${peer_observed%:*}" ]] && same_nat=1
  if [[ $route == direct ]]; then
    case $strategy in
      direct) echo "one side takes unsolicited packets (open or full cone): the other sent straight to it" ;;
      hole-punch)
        if ((same_nat)) && [[ ${peer_endpoint%:*} != "${observed%:*}" ]]; then
          echo "both behind one NAT (the rendezvous saw the same public address); each sent its local addresses through the rendezvous (host candidates) and the check to the peer's LAN address ${peer_endpoint%:*} answered: they talk over their LAN, not through the NAT"
        elif ((same_nat)); then
          echo "both behind one NAT (the rendezvous saw the same public address); the probes to each other's public endpoint came back in through the NAT: it hairpins"
        else
          echo "each side's NAT kept one public port for the other (endpoint-independent, or a filter the first packets opened), so both sides' probes to the endpoints the rendezvous saw met"
        fi
        ;;
      one-hard-side) echo "one NAT picks a new port per destination; the easy side opened many ports and the hard side's probes found one (birthday attack)" ;;
      improved) echo "both NATs pick a new port per destination; predicted ports (e.g. KPN's 256-port blocks) or a birthday attack made two probes meet" ;;
      *) echo "natpunch proved the direct path with an authenticated probe" ;;
    esac
  else
    if ((same_nat)); then
      echo "both behind one NAT (same public address ${observed%:*}): their LAN addresses did not answer (isolated, or not sent) and the NAT does not hairpin; no path within the punching bound, so the rendezvous relays"
    else
      echo "no direct path within the punching bound (--punch-timeout-ms 4000): the rendezvous relays every datagram"
    fi
  fi
}

# connect_pair LAB FROM TO TITLE: natpunch listen in TO, natpunch connect in
# FROM (no NAT flags either side), then the report. Returns 0 when the pair
# connected (the measurement ran both ways, directly or through the relay).
connect_pair() {
  local bin=$1 id=$2 from=$3 to=$4 timeout_s=$5
  local base="$WORK_DIR/$id-$from-$to" identity="" i rc=0 lrc=0
  echo "   natpunch listen --accept-any ${PAIR_ARGS[*]}   (in $to)"
  timeout "$timeout_s" "$LAB" exec --id "$id" "$to" -- "$bin" listen --accept-any "${PAIR_ARGS[@]}" \
    >"$base.listen.out" 2>"$base.listen.err" &
  local listener=$!
  # The listener prints its identity at once, then registers.
  for i in $(seq 1 100); do
    identity=$(head -n1 "$base.listen.out" 2>/dev/null | sed -n 's/.*"identity":"\([0-9a-f]\{64\}\)".*/\1/p')
    [[ -z $identity ]] || break
    sleep 0.05
  done
  if [[ -z $identity ]]; then
    echo "   FAIL: the listener printed no identity"
    sed 's/^/   listen: /' "$base.listen.err"
    return 1
  fi
  for i in $(seq 1 200); do
    grep -q "registered at" "$base.listen.err" 2>/dev/null && break
    sleep 0.05
  done
  echo "   natpunch connect --peer ${identity:0:16}... ${PAIR_ARGS[*]}   (in $from)"
  timeout "$timeout_s" "$LAB" exec --id "$id" "$from" -- "$bin" connect --peer "$identity" "${PAIR_ARGS[@]}" \
    >"$base.connect.out" 2>"$base.connect.err" || rc=$?
  wait "$listener" || lrc=$?

  local R_route R_strategy R_observed R_peer_observed R_peer_endpoint R_ttc R_probes R_measured R_error
  local R_stop_reason R_rtt_min R_rtt_median R_rtt_p99 R_pongs R_pings R_ttc_from R_first_route R_ttfb R_ttd
  eval "$(read_result "$base.connect.out")"
  echo "   rendezvous saw $from as ${R_observed:-?} and $to as ${R_peer_observed:-?}"
  # What each side learned about its own NAT before registering, and told the other.
  sed -n "s/^NAT: /   $from's NAT, /p" "$base.connect.err"
  sed -n "s/^NAT: /   $to's NAT, /p" "$base.listen.err"
  # natpunch's own account: each strategy it tried, and how it ended.
  grep -E '^(strategy|punch: .*(connected|stopped))' "$base.connect.err" | sed 's/^/   | /' || true
  if ((rc != 0)) || [[ -z $R_route ]]; then
    echo "   => FAIL: no connection (connect exit status $rc, listen $lrc)${R_error:+: $R_error}"
    sed 's/^/   connect: /' "$base.connect.err" | tail -n 5
    sed 's/^/   listen:  /' "$base.listen.err" | tail -n 5
    return 1
  fi
  local family=IPv4
  [[ $R_peer_endpoint != \[* ]] || family=IPv6
  # Data flows from the pairing (over the relay) while the punch runs; the
  # session moves direct the moment a path is proven. Both times count from
  # the pairing; time-to-connect from when this side started trying (the
  # pairing, or a birthday attack's common start, which both sides wait for).
  echo "   first byte: ${R_ttfb:-?} ms after the rendezvous paired them, over the ${R_first_route:-?} route"
  if [[ $R_route == direct ]]; then
    echo "   route: DIRECT ($family) to $R_peer_endpoint, ${R_ttd:-?} ms after the pairing (time to direct);" \
      "the punch took $R_ttc ms from the ${R_ttc_from:-pairing}, $R_probes probes"
  else
    echo "   route: RELAY through the rendezvous ($R_probes probes tried${R_stop_reason:+; punching stopped: $R_stop_reason})"
  fi
  echo "   why: $(explain_route "$R_route" "$R_strategy" "$R_observed" "$R_peer_observed" "$R_peer_endpoint")"
  echo "   round trip over the $R_route route: min $R_rtt_min ms, median $R_rtt_median ms, p99 $R_rtt_p99 ms ($R_pongs of $R_pings pings answered)"
  if ((lrc != 0)) || [[ $R_measured != yes ]]; then
    echo "   => FAIL: the measurement did not complete (connect measured: ${R_measured:-?}, listen exit status $lrc)"
    return 1
  fi
  echo "   => connected"
  return 0
}

# Seconds since a `date +%s%N` stamp, one decimal.
seconds_since() { local now; now=$(date +%s%N); printf '%d.%d' $(((now - $1) / 1000000000)) $(((now - $1) / 100000000 % 10)); }

# Kinds with several clients behind one router (lab.sh --a-clients).
shares_a_nat() {
  case ${1%%+*} in none | fw | fc | rc | v6fw | v6) return 1 ;; esac
  return 0
}

main() {
  local kind_a=profile:kpn-nl kind_b=profile:vodafone-nl timeout_s=60 id="" only_main=0
  while (($# > 0)); do
    case $1 in
      --a) kind_a=${2-}; shift 2 || usage_error "--a needs a KIND" ;;
      --b) kind_b=${2-}; shift 2 || usage_error "--b needs a KIND" ;;
      --id) id=${2-}; shift 2 || usage_error "--id needs a value" ;;
      --timeout) timeout_s=${2-}; shift 2 || usage_error "--timeout needs seconds" ;;
      --only-main) only_main=1; shift ;;
      -h | --help) usage; exit 0 ;;
      *) usage_error "unknown argument '$1'" ;;
    esac
  done
  is_natd_kind "$kind_a" || [[ -n $(expected_classic "$kind_a") ]] ||
    usage_error "unknown KIND '$kind_a' for --a (none prc sym block fw fc rc, profile:NAME, model:M/F/A)"
  is_natd_kind "$kind_b" || [[ -n $(expected_classic "$kind_b") ]] ||
    usage_error "unknown KIND '$kind_b' for --b (none prc sym block fw fc rc, profile:NAME, model:M/F/A)"
  [[ $timeout_s =~ ^[1-9][0-9]{0,3}$ ]] || usage_error "invalid --timeout '$timeout_s': seconds from 1 to 9999"
  id=${id:-demo$$}
  [[ $id =~ ^[A-Za-z0-9]{1,11}$ ]] || usage_error "invalid --id '$id': use 1-11 letters or digits"
  [[ $EUID -eq 0 ]] || die "must run as root: the lab uses network namespaces"
  command -v python3 >/dev/null 2>&1 || die "python3 not found (apt-get install python3)"

  local bin demo_start
  demo_start=$(date +%s%N)
  bin=$(resolve_binary)
  bin=$(realpath "$bin")
  export NATPUNCH_BIN=$bin  # lab.sh runs natd from this binary
  if is_natd_kind "$kind_a"; then load_natd_expectation "$bin" a "$kind_a"; fi
  if is_natd_kind "$kind_b"; then load_natd_expectation "$bin" b "$kind_b"; fi

  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/natpunch-demo.XXXXXX")

  local clients=() phones_a=a
  if shares_a_nat "$kind_a"; then clients=(--a-clients 2) phones_a="a, a2"; fi
  echo "== natpunch: $bin"
  echo "== bringing up lab '$id' ($phones_a: $kind_a; b: $kind_b)"
  lab_up "$id" "$kind_a" "$kind_b" "${clients[@]}"
  DEMO_ID=$id

  start_stun_server "$bin" "$WORK_DIR/stun-server.log"
  start_rendezvous "$bin" "$id" "$WORK_DIR/rendezvous.log"

  local passed=0 failed=0 step
  echo "   (lab ready after $(seconds_since "$demo_start") s)"
  echo
  echo "== 1. What each phone learns about its NAT"
  step=$(date +%s%N)
  if check_side "$bin" a "$kind_a" "$timeout_s"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  if check_side "$bin" b "$kind_b" "$timeout_s"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  show_ports "$bin" a "$kind_a"
  show_ports "$bin" b "$kind_b"
  echo "   (step 1: $(seconds_since "$step") s)"

  echo
  echo "== 2. a ($kind_a) connects to b ($kind_b); neither is told its NAT"
  step=$(date +%s%N)
  if connect_pair "$bin" "$id" a b "$timeout_s"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  echo "   (step 2: $(seconds_since "$step") s)"

  if ((!only_main)); then
    echo
    if ((${#clients[@]})); then
      echo "== 3. Same NAT: a connects to a2, both behind $kind_a (one LAN, no hairpinning)"
      step=$(date +%s%N)
      if connect_pair "$bin" "$id" a a2 "$timeout_s"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
      echo "   (step 3: $(seconds_since "$step") s)"
    else
      echo "== 3. Same NAT: skipped (kind $kind_a has one client per side)"
    fi

    local dual="${id}d"
    step=$(date +%s%N)
    echo
    echo "== 4. Dual stack: lab '$dual', a and b each behind a symmetric IPv4 NAT (random ports) and an IPv6 stateful firewall"
    lab_up "$dual" sym+v6fw sym+v6fw
    start_rendezvous "$bin" "$dual" "$WORK_DIR/rendezvous-dual.log"
    echo "   IPv6: a 2001:db8:1::2, b 2001:db8:2::2 (firewalls drop unsolicited inbound; a simple punch opens them)"
    if connect_pair "$bin" "$dual" a b "$timeout_s"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
    echo "   (step 4: $(seconds_since "$step") s)"
  fi

  if [[ -n $SERVER_PID ]] && ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "warning: natpunch stun-server died during the demo; its output:" >&2
    cat "$WORK_DIR/stun-server.log" >&2
  fi
  echo
  echo "demo: $passed passed, $failed failed ($(seconds_since "$demo_start") s)"
  ((failed == 0))
}

main "$@"
