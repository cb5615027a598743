#!/usr/bin/env bash
# genqd under a real systemd as PID 1: boots Debian 12 with systemd-nspawn, installs genq's .deb
# and checks start/READY, hardening, sandbox writes, a job, LoadCredential, reload, journald,
# watchdog, stop, socket activation and `systemd-analyze security` (scripts/systemd_nspawn.py).
#
#   sudo scripts/systemd_nspawn.sh      exit 0 all checks passed, 1 a check failed,
#                                       77 skipped (the line says why: not root, no tools, ...)
# The Debian 12 minbase tree is made once with debootstrap (needs the Debian mirror) and kept in
# $GENQ_NSPAWN_CACHE (default /var/cache/genq-nspawn/base); each run boots a throwaway copy.
# Environment: GENQ_BUILD_DIR (default build), GENQ_NSPAWN_MIRROR (default deb.debian.org).
set -euo pipefail
cd "$(dirname "$0")/.."

skip() { echo "systemd_nspawn: SKIP: $*"; exit 77; }

build=${GENQ_BUILD_DIR:-build}
cache=${GENQ_NSPAWN_CACHE:-/var/cache/genq-nspawn}
mirror=${GENQ_NSPAWN_MIRROR:-http://deb.debian.org/debian}

[ "$(id -u)" -eq 0 ] || skip "needs root (systemd-nspawn boots a container)"
if ! command -v systemd-nspawn >/dev/null || ! command -v debootstrap >/dev/null; then
  command -v apt-get >/dev/null || skip "systemd-nspawn/debootstrap missing and no apt-get"
  echo "systemd_nspawn: installing systemd-container debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    systemd-container debootstrap >/dev/null 2>&1 ||
    skip "cannot install systemd-container and debootstrap (no package mirror?)"
fi
for tool in nsenter cpack dpkg-deb python3; do
  command -v "$tool" >/dev/null || skip "$tool is not installed"
done

if [ ! -x "$build/genqd" ] || [ ! -x "$build/tests/genq-fakeapi" ]; then
  echo "systemd_nspawn: building $build"
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  ninja -C "$build" genqd genqctl genq-fakeapi
fi

work=$(mktemp -d /tmp/genq-nspawn.XXXXXX)
mkdir -p "$cache"
exec 9>"$cache/lock"
flock 9  # one run at a time per cache
run_tree=""
cleanup() {
  if [ -n "$run_tree" ] && [ -d "$run_tree" ]; then rm -rf --one-file-system "$run_tree"; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "systemd_nspawn: packaging the .deb"
cpack -G DEB -B "$work/deb" --config "$build/CPackConfig.cmake" >"$work/cpack.log" 2>&1 ||
  { cat "$work/cpack.log"; exit 1; }
deb=$(ls "$work"/deb/genq_*.deb)

# The base tree holds systemd and every package genq's .deb depends on, so that a run needs no
# network: dpkg -i only. It is rebuilt when the .deb comes to depend on something it lacks.
real_package() {  # a virtual package (libspdlog1.10-fmt9) -> the package providing it
  if dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed" ||
     ! command -v apt-cache >/dev/null; then
    echo "$1"
  else
    apt-cache showpkg "$1" | sed -n '/^Reverse Provides/{n;p;q}' | awk '{print $1}' | grep . ||
      echo "$1"
  fi
}
deps=$(for p in $(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed -e 's/|.*//' -e 's/(.*)//'); do
         real_package "$p"
       done | sort -u | paste -sd, -)
include="systemd,systemd-sysv,dbus,$deps"
base="$cache/base"
marker="$base/.genq-nspawn-base"
have_all() {  # a finished debootstrap whose dpkg database has every package of $include
  [ -f "$marker" ] || return 1
  local p
  for p in ${include//,/ }; do
    dpkg-query --admindir="$base/var/lib/dpkg" -W -f='${Status}' "$p" 2>/dev/null |
      grep -q "install ok installed" || return 1
  done
}
if ! have_all; then
  wget -q --spider --timeout=15 "$mirror/dists/bookworm/Release" ||
    skip "no cached tree in $base and no network to the Debian mirror $mirror"
  echo "systemd_nspawn: debootstrap bookworm minbase into $base (a few minutes, once)"
  rm -rf --one-file-system "$base.tmp"
  debootstrap --variant=minbase --include="$include" bookworm "$base.tmp" "$mirror" \
    >"$cache/debootstrap.log" 2>&1 ||
    { tail -20 "$cache/debootstrap.log"; rm -rf --one-file-system "$base.tmp"; exit 1; }
  date -u +%FT%TZ >"$base.tmp/.genq-nspawn-base"
  rm -rf --one-file-system "$base"
  mv "$base.tmp" "$base"
fi

run_tree="$cache/run.$$"
cp -a --reflink=auto "$base" "$run_tree"
python3 scripts/systemd_nspawn.py --tree "$run_tree" --deb "$deb" --bin-dir "$build" \
  --work "$work"
