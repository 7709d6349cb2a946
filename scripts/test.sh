#!/usr/bin/env bash
# Sets everything up and runs every test: the whole suite (unit, RFC
# vectors, CLI, lab in network namespaces -- needs root) with the release
# build, the unit tests under ASan+UBSan, and a short libFuzzer smoke run of
# every fuzz target. The release suite's ctest summary is printed again at
# the end.
# Usage: scripts/test.sh
# Environment: FUZZ_SECONDS (default 10);
#   NATPUNCH_CI_OVERLAP=0 runs the sanitizer build, the sanitized unit tests
#   and the fuzz smoke before the release suite instead of beside it at idle
#   priority (see below).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

"$repo/scripts/setup.sh" "$repo/build"

# A lab left behind by a killed run must not break this one.
"$repo/lab/lab.sh" down-all >/dev/null 2>&1 || true

cores="$(nproc)"
# ctest counts a CPU-bound test (unit, CLI) as two processors and most lab
# tests as one (tests/CMakeLists.txt), so -j (2 x cores) keeps one CPU-bound
# test per core and lets the waiting lab tests share the rest.
ctest_jobs=$((2 * cores))
work="$(mktemp -d)"
fuzz_build_pid=
cleanup() {
  if [[ -n $fuzz_build_pid ]]; then kill -- "-$fuzz_build_pid" 2>/dev/null || kill "$fuzz_build_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# One clang build serves steps 2 and 3: the library instrumented for
# libFuzzer with ASan + UBSan, the unit tests and the fuzz targets on top.
# -O1 with line tables only: sanitizer reports keep file:line, and it
# compiles ~1/3 faster than -O2 -g.
CXX=clang++ cmake -S "$repo" -B "$repo/build-fuzz" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" \
  -DNATPUNCH_FUZZ=ON -DNATPUNCH_TESTS=ON >/dev/null

# Step 2: the unit tests under ASan + UBSan. Logs and statuses go to $work.
sanitized_unit_tests() {
  local status=0
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$repo/build-fuzz" -L unit --output-on-failure -j"$cores" >"$work/asan.log" 2>&1 || status=$?
  echo "$status" >"$work/asan.status"
}

# Step 3: libFuzzer runs one thread: one target per core at a time, each
# for FUZZ_SECONDS on a copy of its seed corpus.
fuzz_one() { # fuzz_one TARGET: log + exit status in $work
  local target=$1 name corpus seed_dir status=0
  name="$(basename "$target")"
  corpus="$work/$name.corpus"
  mkdir -p "$corpus"
  seed_dir="$repo/tests/fuzz/corpus/${name#fuzz_}"   # fuzz_X's seeds live in corpus/X
  [[ -d "$seed_dir" ]] && cp "$seed_dir"/* "$corpus"/ 2>/dev/null || true
  "$target" -max_total_time="${FUZZ_SECONDS:-10}" -print_final_stats=1 "$corpus" >"$work/$name.log" 2>&1 || status=$?
  echo "$status" >"$work/$name.status"
}
fuzz_smoke() {
  local target running=0
  for target in "$repo"/build-fuzz/tests/fuzz/fuzz_*; do
    [[ -x "$target" ]] || continue
    if ((running >= cores)); then wait -n || true; running=$((running - 1)); fi
    fuzz_one "$target" &
    running=$((running + 1))
  done
  wait
}

# Steps 2 and 3 after their build, as one pipeline (status in $work).
sanitizer_pipeline() {
  if ! cmake --build "$repo/build-fuzz" --target natpunch_unit_tests all_fuzzers >"$work/fuzz-build.log" 2>&1; then
    echo 1 >"$work/fuzz-build.status"
    return
  fi
  echo 0 >"$work/fuzz-build.status"
  sanitized_unit_tests
  fuzz_smoke
}

if [[ ${NATPUNCH_CI_OVERLAP:-1} != 0 ]] && command -v chrt >/dev/null; then
  # The lab tests mostly wait (NAT timeouts, keepalives), leaving the cores
  # idle: the sanitizer build, the sanitized unit tests and the fuzz smoke
  # run meanwhile, but only on CPU time nothing else wants (SCHED_IDLE,
  # nice 19, idle I/O class), so the release suite's timing is not
  # disturbed. Its own process group, so it can be stopped as one.
  echo "== steps 2-3 (sanitizer build, ASan unit tests, fuzz smoke) in the background at idle priority"
  export -f sanitizer_pipeline sanitized_unit_tests fuzz_smoke fuzz_one
  export repo work cores
  setsid --wait nice -n 19 ionice -c 3 chrt --idle 0 bash -c sanitizer_pipeline >"$work/pipeline.log" 2>&1 &
  fuzz_build_pid=$!
else
  echo "== sanitizer build (clang), ASan unit tests, fuzz smoke"
  sanitizer_pipeline
fi

echo "== step 1/3: all tests (unit, vectors, CLI, lab) with the release build"
# Lab tests are serial unless tests/lab/lab_schedule.cmake lets them share.
ctest --test-dir "$repo/build" --output-on-failure --timeout 600 -j"$ctest_jobs" 2>&1 | tee "$work/ctest.log"

if [[ -n $fuzz_build_pid ]]; then
  echo "== waiting for steps 2-3"
  wait "$fuzz_build_pid" || true
  fuzz_build_pid=
fi
if [[ "$(cat "$work/fuzz-build.status" 2>/dev/null)" != 0 ]]; then
  tail -n 60 "$work/fuzz-build.log" >&2
  cat "$work/pipeline.log" >&2 2>/dev/null || true
  echo "sanitizer build failed" >&2
  exit 1
fi
tail -n 1 "$work/fuzz-build.log"

echo "== step 2/3: unit tests under AddressSanitizer + UBSan (clang)"
sed -n '/tests passed/,$p' "$work/asan.log"
if [[ "$(cat "$work/asan.status" 2>/dev/null)" != 0 ]]; then
  tail -n 150 "$work/asan.log" >&2
  echo "unit tests under ASan/UBSan failed" >&2
  exit 1
fi

echo "== step 3/3: fuzz smoke (${FUZZ_SECONDS:-10} s per target, $cores at a time)"
for target in "$repo"/build-fuzz/tests/fuzz/fuzz_*; do
  [[ -x "$target" ]] || continue
  name="$(basename "$target")"
  echo "-- $name"
  grep -E 'stat::number_of_executed_units|ERROR|SUMMARY' "$work/$name.log" || true
  status="$(cat "$work/$name.status" 2>/dev/null || echo missing)"
  if [[ $status != 0 ]]; then
    tail -n 40 "$work/$name.log" >&2
    echo "fuzz target $name failed (exit $status)" >&2
    exit 1
  fi
done

echo "== all tests (unit, vectors, CLI, lab) with the release build: summary of step 1"
sed -n '/% tests passed/,$p' "$work/ctest.log"
