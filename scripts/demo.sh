#!/usr/bin/env bash
# Sets everything up and runs the main job: the lab demo (two peers behind
# modelled NATs discover their NAT types and mapped addresses).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$repo/scripts/setup.sh" "$repo/build"
NATPUNCH_BIN="$repo/build/natpunch" exec "$repo/lab/demo.sh" "$@"
