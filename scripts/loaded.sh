#!/usr/bin/env bash
# The loaded run: the integration suite RUNS times in a row (default 3) while a busy loop keeps
# one core busy. Prints, per run, the test files and test functions that passed and failed.
#   scripts/loaded.sh [RUNS] [CTEST_REGEX]      e.g. scripts/loaded.sh 3 'test_(core|crash)'
# Exit 0 only when every run passed. Logs: $GENQ_LOADED_LOGS (default /tmp/genq-loaded).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
filter=${2:-}
build=${GENQ_BUILD_DIR:-build}
logs=${GENQ_LOADED_LOGS:-/tmp/genq-loaded}
mkdir -p "$logs"
# The tests' scratch directories live under $logs, not in the shared /tmp: on a machine where
# other sessions clean up /tmp/genq-it-* a test must not lose its directory mid-run.
export TMPDIR="$logs/tmp"
rm -rf "$TMPDIR"
mkdir -p "$TMPDIR"
[ -x "$build/genqd" ] || { echo "loaded: build $build first (scripts/test.sh)"; exit 2; }

# The competing load: one shell spinning on a core at the tests' own priority.
bash -c 'while :; do :; done' &
hog=$!
trap 'kill "$hog" 2>/dev/null || true' EXIT
echo "loaded: busy loop pid $hog on $(nproc) cores; $runs runs of the integration suite${filter:+ (-R $filter)}"

failed_runs=0
for i in $(seq 1 "$runs"); do
  log="$logs/run$i.log"
  t0=$(date +%s)
  rc=0
  ctest --test-dir "$build" -L integration ${filter:+-R "$filter"} -V >"$log" 2>&1 || rc=$?
  took=$(( $(date +%s) - t0 ))
  # Each test file prints "N passed, N failed"; ctest -V prefixes its lines with "NN: ".
  read -r passed failed < <(sed -n 's/^[0-9]*: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$log" |
                            awk '{p += $1; f += $2} END {print p + 0, f + 0}')
  files=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\)/\2 files, \1 failed/p' "$log")
  echo "run $i: ${files:-no ctest summary}; $passed tests passed, $failed failed; ${took} s"
  if [ "$rc" -ne 0 ] || [ "$failed" -ne 0 ]; then
    failed_runs=$((failed_runs + 1))
    grep -E '^[0-9]+: FAIL ' "$log" | sed 's/^/    /' || true
  fi
done
echo "loaded: $runs runs, $failed_runs with failures (logs in $logs)"
[ "$failed_runs" -eq 0 ]
