#!/usr/bin/env bash
# Connects/s over loopback UDP against a running `natpunch rendezvous`, two
# server binaries interleaved run by run (issue 21: before / after in one
# run), with the two-thread load generator (bench/rendezvous_load.cpp).
# Bounded: --registrations identities, --connects connects, 60 s a phase.
#
#   bench/rendezvous_connect_bench.sh --before OLD_NATPUNCH --after NEW_NATPUNCH
#       [--build build] [--runs 3] [--registrations 20000] [--connects 100000]
#       [--window 2] [--perf DIR]
#
# --perf DIR: `perf record -g` of each server during its run (DIR/NAME-RUN.data).
# Prints one JSON line per run (the generator's, plus "server").
set -euo pipefail
build=build runs=3 registrations=20000 connects=100000 window=2 before="" after="" perf_dir=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build=$2 ;; --runs) runs=$2 ;; --registrations) registrations=$2 ;;
    --connects) connects=$2 ;; --window) window=$2 ;; --before) before=$2 ;; --after) after=$2 ;;
    --perf) perf_dir=$2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
[[ -x "$before" && -x "$after" ]] || { echo "--before and --after must name natpunch binaries" >&2; exit 2; }
load="$build/bench/natpunch_rendezvous_load"
[[ -x "$load" ]] || { echo "$load missing: build target natpunch_rendezvous_load" >&2; exit 2; }
port=$((20000 + RANDOM % 20000))
server_pid="" perf_pid=""
cleanup() {
  [[ -n "$perf_pid" ]] && kill -INT "$perf_pid" 2>/dev/null && wait "$perf_pid" 2>/dev/null || true
  [[ -n "$server_pid" ]] && kill -INT "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
}
trap cleanup EXIT
for run in $(seq 1 "$runs"); do
  for name in before after; do
    bin=${!name}
    "$bin" rendezvous --listen 127.0.0.1:$port --max-registrations 1100000 --max-pending 1000000 \
      --max-sessions 1000000 --max-puzzle-bits 0 --signature-checks-per-s 0 --registration-lifetime 3600 >/dev/null 2>&1 &
    server_pid=$!
    sleep 0.5
    if [[ -n "$perf_dir" ]]; then
      mkdir -p "$perf_dir"
      perf record -q -F 499 -g -p "$server_pid" -o "$perf_dir/$name-$run.data" >/dev/null 2>&1 &
      perf_pid=$!
    fi
    line=$(timeout 300 "$load" --server 127.0.0.1:$port --server-pid "$server_pid" --registrations "$registrations" \
      --connects "$connects" --register-window 1 --window "$window" --max-seconds 60)
    cleanup
    server_pid="" perf_pid=""
    echo "${line%\}},\"server\":\"$name\",\"run\":$run,\"load_average\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}"
    port=$((port + 1))
  done
done
