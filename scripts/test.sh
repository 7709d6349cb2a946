#!/usr/bin/env bash
# Sets everything up and runs every test: the unit tests under ASan+UBSan, a
# short libFuzzer smoke run of every fuzz target, then the whole suite (unit,
# RFC vectors, lab in network namespaces -- needs root) with the release
# build; that ctest summary is the last thing printed.
# Usage: scripts/test.sh        Environment: FUZZ_SECONDS (default 10)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

"$repo/scripts/setup.sh" "$repo/build"

# A lab left behind by a killed run must not break this one.
"$repo/lab/lab.sh" down-all >/dev/null 2>&1 || true

# One clang build serves steps 1 and 2: the library instrumented for
# libFuzzer with ASan + UBSan, the unit tests and the fuzz targets on top.
echo "== step 1/3: unit tests under AddressSanitizer + UBSan (clang)"
# -O1 with line tables only: sanitizer reports keep file:line, and this
# build (the second of two on a 2-core CI machine) compiles ~1/3 faster.
CXX=clang++ cmake -S "$repo" -B "$repo/build-fuzz" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" \
  -DNATPUNCH_FUZZ=ON -DNATPUNCH_TESTS=ON >/dev/null
cmake --build "$repo/build-fuzz" --target natpunch_unit_tests all_fuzzers
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir "$repo/build-fuzz" -L unit --output-on-failure -j2

echo "== step 2/3: fuzz smoke (${FUZZ_SECONDS:-10} s per target)"
for target in "$repo"/build-fuzz/tests/fuzz/fuzz_*; do
  [[ -x "$target" ]] || continue
  name="$(basename "$target")"
  corpus="$(mktemp -d)"
  seed_dir="$repo/tests/fuzz/corpus/${name#fuzz_}"   # fuzz_X's seeds live in corpus/X
  [[ -d "$seed_dir" ]] && cp "$seed_dir"/* "$corpus"/ 2>/dev/null || true
  echo "-- $name"
  status=0
  "$target" -max_total_time="${FUZZ_SECONDS:-10}" -print_final_stats=1 "$corpus" >"$corpus.log" 2>&1 || status=$?
  grep -E 'stat::number_of_executed_units|ERROR|SUMMARY' "$corpus.log" || true
  if [[ $status -ne 0 ]]; then tail -n 40 "$corpus.log" >&2; echo "fuzz target $name failed (exit $status)" >&2; exit 1; fi
  rm -rf "$corpus" "$corpus.log"
done
echo "== step 3/3: all tests (unit, vectors, lab)"
ctest --test-dir "$repo/build" --output-on-failure --timeout 600 -j2   # lab tests are RUN_SERIAL

