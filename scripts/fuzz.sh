#!/usr/bin/env bash
# Fuzzes genq's parsers with libFuzzer (clang, ASan + UBSan): the multipart parser, the image
# header reader, --fit's image decoders, the config loader and the provider-response parser. CI does not run this; it
# replays the corpus (tests/fuzz/corpus/*) through the same targets in the unit tests.
#   scripts/fuzz.sh                      every target, FUZZ_SECONDS (60) each
#   FUZZ_SECONDS=600 scripts/fuzz.sh multipart config
# New interesting inputs are added to tests/fuzz/corpus/<target>/; a crash leaves
# build-fuzz/crash-<target>-* (fix it, then copy the input into the corpus as a regression).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds=${FUZZ_SECONDS:-60}
out=${FUZZ_BUILD_DIR:-build-fuzz}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(multipart image_info image_decode config response)

cxx=${CXX_FUZZ:-}
if [ -z "$cxx" ]; then
  for c in clang++-14 clang++; do command -v "$c" >/dev/null && { cxx=$c; break; }; done
fi
if [ -z "$cxx" ] || ! echo 'extern "C" int LLVMFuzzerTestOneInput(const char*, unsigned long){return 0;}' |
    "$cxx" -x c++ -fsanitize=fuzzer - -o /dev/null 2>/dev/null; then
  echo "== installing clang-14 and libFuzzer"
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd=sudo
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq clang-14 libclang-rt-14-dev
  cxx=clang++-14
fi
bash scripts/deps.sh >/dev/null

mkdir -p "$out"
flags=(-std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize=function
       -fno-sanitize-recover=undefined -I"$root/lib" -I"$root/tests/fuzz")
# Only the parsers and what they need: no Asio, no database.
common=(lib/provider/multipart.cpp lib/provider/image_info.cpp lib/provider/response.cpp
        lib/provider/base64.cpp lib/provider/utf8.cpp lib/core/config.cpp lib/core/config_values.cpp
        lib/core/config_tables.cpp lib/core/config_services.cpp
        lib/provider/image_codec.cpp lib/provider/image_fit.cpp)
# Objects are built once and shared by all the targets.
objs=()
for src in "${common[@]}"; do
  obj="$out/$(echo "$src" | tr / _).o"
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ]; then
    echo "== compile $src"
    "$cxx" "${flags[@]}" -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
  fi
  objs+=("$obj")
done

total_execs=0
crashes=0
for t in "${targets[@]}"; do
  bin="$out/fuzz_$t"
  echo "== build $bin"
  "$cxx" "${flags[@]}" "tests/fuzz/fuzz_$t.cpp" "${objs[@]}" -lboost_url -lcrypto -lpng16 -ljpeg -lwebp \
      -o "$bin"
  corpus="tests/fuzz/corpus/$t"
  mkdir -p "$corpus" "$out/new-$t"
  echo "== fuzz $t for ${seconds}s"
  set +e
  "$bin" "$out/new-$t" "$corpus" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$out/crash-$t-" 2>"$out/fuzz_$t.log"
  rc=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out/fuzz_$t.log" | awk '{s+=$2} END {print s+0}')
  total_execs=$((total_execs + execs))
  if [ $rc -ne 0 ]; then
    crashes=$((crashes + 1))
    echo "!! $t: fuzzer stopped with $rc; see $out/fuzz_$t.log and $out/crash-$t-*"
    grep -m5 -E 'ERROR|SUMMARY|invariant' "$out/fuzz_$t.log" || true
  fi
  # Keep the corpus small: the named files (seeds, regression-*) stay; the fuzzer's own finds
  # (named by their sha1) are replaced by a minimal set that covers everything seen.
  rm -rf "$out/min-$t" && mkdir -p "$out/min-$t"
  "$bin" -set_cover_merge=1 -use_counters=0 -max_len=4096 "$out/min-$t" "$corpus" "$out/new-$t" >/dev/null 2>&1 || true
  if [ -n "$(ls -A "$out/min-$t")" ]; then
    named=$(find "$corpus" -regextype posix-basic -type f ! -regex '.*/[0-9a-f]\{40\}' -exec sha1sum {} + | cut -c1-40)
    find "$corpus" -regextype posix-basic -type f -regex '.*/[0-9a-f]\{40\}' -delete
    for f in "$out/min-$t"/*; do
      echo "$named" | grep -q "^$(basename "$f")$" || cp "$f" "$corpus/"
    done
  fi
  rm -rf "$out/new-$t" "$out/min-$t"
  echo "   $t: $execs executions, corpus $(ls "$corpus" | wc -l) files"
done
echo "== fuzz: $total_execs executions, $crashes target(s) crashed"
[ "$crashes" = 0 ]
