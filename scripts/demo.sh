#!/usr/bin/env bash
# End-to-end demo: images become videos on disk.
#   STABILITY_API_KEY set:   against the real API (1 image, 20 credits)
#   not set:                 against genq's local stand-in of the API (HTTPS on loopback with a
#                            throwaway CA), 3 images, no account needed
# Installs what is missing (apt), builds with CMake, runs genqd in the foreground of this script
# and stops it at the end. Work files: _out/demo (or $GENQ_DEMO_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh

build=${GENQ_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C "$build" genqd genqctl genq-fakeapi

demo=${GENQ_DEMO_DIR:-$PWD/_out/demo}
rm -rf "$demo"
mkdir -p "$demo/in"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

count=3
if [ -n "${STABILITY_API_KEY:-}" ]; then
  count=1
  echo "== using the real Stability AI API (one image: 20 credits)"
  base_url=${GENQ_BASE_URL:-https://api.stability.ai}
  ca_file=""
  key_env=STABILITY_API_KEY
  poll=10
else
  echo "== no STABILITY_API_KEY: using the local stand-in of the API"
  bash tests/fakeapi/make_certs.sh "$demo/certs" >/dev/null
  export GENQ_DEMO_KEY=demo-key-0
  "$build/tests/genq-fakeapi" --listen 127.0.0.1:0 --cert "$demo/certs/server.pem" \
    --key "$demo/certs/server.key" --port-file "$demo/api.port" --keys "$GENQ_DEMO_KEY" \
    --gen-time 4 --poll-interval 2 --videos zoom --video-bytes 0 >"$demo/fakeapi.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$demo/api.port" ] && break; sleep 0.1; done
  base_url="https://127.0.0.1:$(cat "$demo/api.port")"
  ca_file="$demo/certs/ca.pem"
  key_env=GENQ_DEMO_KEY
  poll=2
fi

python3 - "$demo/in" "$count" <<'PY'
import sys
sys.path.insert(0, "tests/integration")
from images import make_scene
for i in range(int(sys.argv[2])):
    open("%s/frame-%d.png" % (sys.argv[1], i + 1), "wb").write(make_scene(1024, 576, seed=i))
PY

cat >"$demo/genq.toml" <<TOML
state_dir  = "$demo/state"
output_dir = "$demo/output"
socket     = "$demo/genq.sock"
[api]
base_url = "$base_url"
ca_file  = "$ca_file"
[[keys]]
name = "demo"
env  = "$key_env"
[limits]
poll_interval = $poll
TOML

"$build/genqd" --config "$demo/genq.toml" 2>"$demo/genqd.log" &
pids+=($!)
ctl() { "$build/genqctl" --socket "$demo/genq.sock" "$@"; }
for _ in $(seq 100); do ctl status >/dev/null 2>&1 && break; sleep 0.1; done

echo "== submitting $count image(s) and waiting"
ctl submit "$demo"/in/*.png --wait
echo
echo "== jobs"
ctl list
echo
echo "== results in $demo/output"
ls -l "$demo/output"
if command -v ffprobe >/dev/null; then
  echo
  echo "== every result is a playable MP4 (ffprobe: codec, size, seconds); play one with ffplay"
  for f in "$demo"/output/*.mp4; do
    printf '%s: %s\n' "$(basename "$f")" "$(ffprobe -v error -select_streams v:0 -of csv=p=0 \
      -show_entries stream=codec_name,width,height:format=duration "$f" | paste -sd' ')"
  done
fi
