#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to build, test and demo genq (apt, as root or
# through sudo). Installs nothing when everything is present. Sourced or run by the other scripts.
set -euo pipefail

GENQ_PACKAGES=(
  g++ cmake ninja-build pkgconf make
  libboost1.81-dev libboost-url1.81-dev libssl-dev libsqlite3-dev nlohmann-json3-dev
  libspdlog-dev libfmt-dev doctest-dev libcli11-dev libsystemd-dev libtomlplusplus-dev
  libpng-dev libjpeg62-turbo-dev libwebp-dev libpq-dev
  python3 python3-requests openssl curl systemd dpkg-dev file procps strace
  # bench/poll_bench.py --perf profiles genqd with perf.
  linux-perf
  # The demo's videos (the stand-in encodes them; ffprobe checks them) and the browser test of the
  # web page (Debian's chromium, driven by playwright-core from npm: tests/web/).
  ffmpeg chromium nodejs
  # A real systemd as PID 1 in the tests (scripts/systemd_nspawn.sh).
  systemd-container debootstrap wget
  # The shared store's tests start their own PostgreSQL 15 server (section 11).
  postgresql
  # promtool checks contrib/'s alert rules and genqd's /metrics (tests/integration/test_cli.py).
  prometheus
  # The manual pages are built from docs/man/*.scd with scdoc; the completion test loads the
  # zsh and fish completions in those shells (tests/integration/test_completion_man.py).
  scdoc zsh fish
  # tests/integration/test_readme_examples.py runs the README's examples, which use jq.
  jq
)
# npm comes with nodejs from some sources (NodeSource); Debian packages it apart.
command -v npm >/dev/null 2>&1 || GENQ_PACKAGES+=(npm)

missing=()
for p in "${GENQ_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
