#!/usr/bin/env bash
# Builds genq and runs every test through CTest: the optimised build runs the whole suite, a
# second build with AddressSanitizer + UndefinedBehaviorSanitizer runs the unit tests and the
# core integration tests (GCC 12's coroutine miscompilations show up there).
#   scripts/test.sh            everything
#   GENQ_SKIP_ASAN=1 scripts/test.sh   the optimised build only
#   GENQ_SKIP_NSPAWN=1 scripts/test.sh without the systemd-nspawn run (scripts/systemd_nspawn.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh

jobs=$(nproc 2>/dev/null || echo 2)
build=${GENQ_BUILD_DIR:-build}

echo "== build ($build, RelWithDebInfo)"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C "$build" -j "$jobs"

echo "== tests ($build)"
# Unit tests in parallel; integration tests one at a time (they measure timing on 2 cores).
ctest --test-dir "$build" -L unit -j "$jobs" --output-on-failure
ctest --test-dir "$build" -L integration --output-on-failure

# genqd.service under a real systemd (a booted Debian 12 container); exit 77 = skipped, the
# script says why in one line (not root, no tools, no Debian mirror for the first tree).
if [ "${GENQ_SKIP_NSPAWN:-0}" != 1 ]; then
  echo "== systemd as PID 1 (scripts/systemd_nspawn.sh)"
  rc=0
  GENQ_BUILD_DIR="$build" bash scripts/systemd_nspawn.sh || rc=$?
  [ "$rc" -eq 0 ] || [ "$rc" -eq 77 ] || exit "$rc"
fi

if [ "${GENQ_SKIP_ASAN:-0}" != 1 ]; then
  echo "== build (build-asan, address + undefined sanitizers)"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DGENQ_SANITIZE=ON >/dev/null
  ninja -C build-asan -j "$jobs"
  echo "== tests (build-asan)"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  ctest --test-dir build-asan -L unit -j "$jobs" --output-on-failure
  ctest --test-dir build-asan -R 'integration\.test_(core|crash)' --output-on-failure
fi

echo "== all tests passed"
