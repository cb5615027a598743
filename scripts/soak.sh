#!/usr/bin/env bash
# The soak run: genqd for GENQ_SOAK_MINUTES against the stand-in with a steady flow of jobs;
# prints RSS, open fds, database/WAL/spool size and status latency over time (first/last/max).
#   GENQ_SOAK_MINUTES=30 scripts/soak.sh [--rate 10] [--faults] [--kill-every 300] [--keep]
#                                        [--retention 2m] [--sweep-every 30s]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
build=${GENQ_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C "$build" genqd genqctl genq-fakeapi
python3 scripts/soak.py --bin-dir "$build" --minutes "${GENQ_SOAK_MINUTES:-30}" "$@"
