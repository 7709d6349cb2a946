#!/usr/bin/env bash
# demo.sh — natpunch's end-to-end demo: two clients behind two modelled
# carrier NATs (natpunch natd running carrier profiles, or kernel NATs) in a
# namespace lab; natpunch detects each NAT's type and shows how its ports are
# allocated, and the demo checks that natpunch names the NAT the lab built.
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
demo.sh — natpunch against two modelled carrier NATs in a namespace lab

USAGE
  lab/demo.sh [--a KIND] [--b KIND] [--id ID] [--timeout S]

  Builds natpunch if needed (cmake -S . -B build -G Ninja && cmake --build
  build), brings up a lab (lab/lab.sh) with client a behind KIND a (default
  profile:kpn-nl: KPN's symmetric NAT with 256-port blocks, run by natpunch
  natd) and client b behind KIND b (default profile:vodafone-nl: Vodafone
  NL's restricted cone with Beta-distributed ports), starts
    natpunch stun-server --listen 203.0.113.10:3478 --alt 203.0.113.11:3479
  in the server namespace, runs
    natpunch nat-type 203.0.113.10:3478 --json
  in each client namespace and compares what natpunch detected with the NAT
  the lab built, then sends STUN requests from 8 fresh local ports of each
  client to show the external ports the carrier's allocator hands out. The
  lab is always torn down on exit (also on Ctrl-C).

OPTIONS
  --a KIND, --b KIND  NAT kinds: kernel NATs none prc sym block fw fc rc, or
                      natd kinds profile:NAME (profiles/NAME.json) and
                      model:M/F/ALLOCATOR (see lab.sh --help)
  --id ID             lab ID (default: demo<pid>)
  --timeout S         limit for each nat-type run (default 60)

ENVIRONMENT
  NATPUNCH_BIN        natpunch binary (default build/natpunch, relative to the
                      repository root). When set explicitly it is never built.

EXIT STATUS
  0 natpunch agreed with the lab on both sides; 1 it disagreed, a run failed
  or the lab could not be built; 2 usage error. Needs root (namespaces).
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

DEMO_ID=""
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
  if [[ -n $DEMO_ID ]]; then
    "$LAB" down --id "$DEMO_ID" >/dev/null || printf '%s: warning: lab %s teardown failed; run %s down --id %s\n' "$PROG" "$DEMO_ID" "$LAB" "$DEMO_ID" >&2
  fi
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
    (cd "$REPO_ROOT" && cmake -S . -B build -G Ninja && cmake --build build) >&2 ||
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

main() {
  local kind_a=profile:kpn-nl kind_b=profile:vodafone-nl timeout_s=60 id=""
  while (($# > 0)); do
    case $1 in
      --a) kind_a=${2-}; shift 2 || usage_error "--a needs a KIND" ;;
      --b) kind_b=${2-}; shift 2 || usage_error "--b needs a KIND" ;;
      --id) id=${2-}; shift 2 || usage_error "--id needs a value" ;;
      --timeout) timeout_s=${2-}; shift 2 || usage_error "--timeout needs seconds" ;;
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
  [[ $id =~ ^[A-Za-z0-9]{1,12}$ ]] || usage_error "invalid --id '$id': use 1-12 letters or digits"
  [[ $EUID -eq 0 ]] || die "must run as root: the lab uses network namespaces"

  local bin
  bin=$(resolve_binary)
  bin=$(realpath "$bin")
  export NATPUNCH_BIN=$bin  # lab.sh runs natd from this binary
  if is_natd_kind "$kind_a"; then load_natd_expectation "$bin" a "$kind_a"; fi
  if is_natd_kind "$kind_b"; then load_natd_expectation "$bin" b "$kind_b"; fi

  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/natpunch-demo.XXXXXX")

  echo "== natpunch: $bin"
  echo "== bringing up lab '$id' (a: $kind_a, b: $kind_b)"
  # DEMO_ID is set only once the lab is ours: a failed `up` (for example
  # because lab ID already exists) cleans up after itself and must not make
  # the trap tear down somebody else's lab.
  "$LAB" up --id "$id" --a "$kind_a" --b "$kind_b" | sed 's/^/   /'
  DEMO_ID=$id

  start_stun_server "$bin" "$WORK_DIR/stun-server.log"

  local passed=0 failed=0
  if check_side "$bin" a "$kind_a" "$timeout_s"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  if check_side "$bin" b "$kind_b" "$timeout_s"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  show_ports "$bin" a "$kind_a"
  show_ports "$bin" b "$kind_b"

  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "warning: natpunch stun-server died during the demo; its output:" >&2
    cat "$WORK_DIR/stun-server.log" >&2
  fi
  echo
  echo "demo: $passed passed, $failed failed"
  ((failed == 0))
}

main "$@"
