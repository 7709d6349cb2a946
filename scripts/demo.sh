#!/usr/bin/env bash
# Sets everything up and runs the main job: the lab demo (two phones behind
# modelled carrier NATs learn their NATs, find each other and connect; then a
# same-NAT and a dual-stack pair). Builds only the CLI the demo needs.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$repo/scripts/setup.sh" "$repo/build" natpunch_cli
NATPUNCH_BIN="$repo/build/natpunch" exec "$repo/lab/demo.sh" "$@"
