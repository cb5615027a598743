#!/usr/bin/env bash
# The long chaos run (issue 7): 300 jobs through genqd while it is SIGKILLed 20 times at random
# moments and restarted, the stand-in dropping connections and answering 5xx. Prints the figures.
#   GENQ_CHAOS_JOBS=300 GENQ_CHAOS_KILLS=20 GENQ_CRASH_SEED=1 scripts/chaos.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
build=${GENQ_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C "$build" genqd genqctl genq-fakeapi
cd tests/integration
GENQ_BIN_DIR="$PWD/../../$build" GENQ_CHAOS_JOBS=${GENQ_CHAOS_JOBS:-300} \
  GENQ_CHAOS_KILLS=${GENQ_CHAOS_KILLS:-20} python3 test_crash.py test_sigkill_loop
