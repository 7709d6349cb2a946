#!/usr/bin/env bash
# Installs every Debian package natpunch needs and builds it.
# Usage: scripts/setup.sh [BUILD_DIR [TARGET...]]   (default: build, every target;
#        scripts/demo.sh builds only natpunch_cli)
# Environment: NATPUNCH_SKIP_APT=1 skips the apt step (offline rebuilds).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${1:-$repo/build}"
targets=("${@:2}")

packages=(
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
  libasio-dev libcli11-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  libsodium-dev libboost-math-dev libssl-dev zlib1g-dev libnats-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  iproute2 nftables conntrack procps iputils-ping iputils-tracepath
  stun-server stun-client coturn nats-server openssl
  python3 python3-matplotlib python3-sklearn libeigen3-dev
  jq
)

if [[ "${NATPUNCH_SKIP_APT:-0}" != 1 ]]; then
  if [[ $EUID -ne 0 ]]; then
    echo "setup: installing packages needs root (run as root, or set NATPUNCH_SKIP_APT=1 if they are installed)" >&2
    exit 1
  fi
  echo "== apt-get update && install (${#packages[@]} packages)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi

echo "== configure + build ($build_dir${targets[*]:+, only ${targets[*]}})"
# RelWithDebInfo's -O2, with -g1 instead of -g: line tables and function
# names (backtraces and perf still show file:line), no variable or type info;
# compiles take ~26 % less CPU time, the code (and every benchmark figure) is
# the same. The test programs' own code at -O1 (another ~20 % off their
# compiles); the library and CLI they test stay at -O2.
cmake -S "$repo" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DNATPUNCH_TEST_COMPILE_OPTIONS=-O1 \
  -DNATPUNCH_WERROR=ON >/dev/null
cmake --build "$build_dir" ${targets[@]:+--target "${targets[@]}"}
