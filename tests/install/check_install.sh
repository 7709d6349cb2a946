#!/usr/bin/env bash
# Installs natpunch from BUILD_DIR into a temporary prefix, then builds and
# runs a consumer against it via the CMake package and via pkg-config.
set -euo pipefail
build_dir="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
test -f "$work/prefix/include/natpunch/nat_discovery.hpp"
test -f "$work/prefix/lib/pkgconfig/natpunch.pc" || test -f "$work/prefix/lib/x86_64-linux-gnu/pkgconfig/natpunch.pc"

echo "-- CMake package"
cmake -S "$here/consumer" -B "$work/cmake-build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/cmake-build" >/dev/null
"$work/cmake-build/consumer"

echo "-- pkg-config"
pcdir="$(dirname "$(find "$work/prefix" -name natpunch.pc | head -n1)")"
# The .pc file carries the configured prefix; point pkg-config at the temp one.
flags="$(PKG_CONFIG_PATH="$pcdir" pkg-config --define-variable=prefix="$work/prefix" --cflags --libs --static natpunch)"
# shellcheck disable=SC2086
c++ -std=c++20 "$here/consumer/main.cpp" -o "$work/pc-consumer" $flags
"$work/pc-consumer"
echo "install check passed"
