#!/usr/bin/env python3
"""Watched-folder throughput: files per second from drop to queued for small PNGs in a burst,
and genqd's resident memory before and after. Prints one JSON line.

    GENQ_BIN_DIR=build python3 bench/watch_bench.py [--files 10000]

The queue is paused (POST /v1/pause) so nothing is submitted: the number measures the watcher,
the intake (validation, spool, commit) and the moves, not the provider. The files are written to
a staging folder on the same file system first, then renamed into the watched folder as fast as
Python can (the burst); "queued" is when the last file reached processing/ (after its job row
committed). Several rounds in a row show whether genqd's memory stays flat."""

import argparse
import json
import os
import sys
import tempfile
import time
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))

from genqtest import BIN_DIR, FakeApi, Genqd  # noqa: E402
from images import _png_chunk, make_png  # noqa: E402


def rss_kib(pid):
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def stage_files(directory, count, prefix=""):
    """count distinct valid 1024x576 PNGs: 64 pictures, each with a distinct text chunk."""
    bases = []
    for s in range(64):
        data = make_png(1024, 576, seed=s)
        # Cut the seed's tEXt chunk out, so a per-file one can be put in its place.
        head = data[:33]
        tail = data[33 + 12 + len(b"seed\x00" + str(s).encode()):]
        bases.append((head, tail))
    paths = []
    for i in range(count):
        head, tail = bases[i % 64]
        p = directory / ("%ss%05d.png" % (prefix, i))
        text = (prefix + str(i)).encode()
        p.write_bytes(head + _png_chunk(b"tEXt", b"n\x00" + text) + tail)
        paths.append(p)
    return paths


def count_entries(directory):
    with os.scandir(directory) as it:
        return sum(1 for _ in it)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=2,
                    help="bursts in a row (RSS after each shows whether memory stays flat)")
    ap.add_argument("--timeout", type=float, default=600)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="genq-watch-bench-"))
    try:
        run(tmp, args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def burst(paths, inbox, expected, timeout):
    """Renames the staged files in; returns (seconds to queue them all, seconds to drop)."""
    processing = inbox / "processing"
    t0 = time.monotonic()
    for p in paths:
        os.rename(p, inbox / p.name)
    dropped = time.monotonic() - t0
    while count_entries(processing) < expected and time.monotonic() < t0 + timeout:
        time.sleep(0.02)
    return time.monotonic() - t0, dropped


def run(tmp, args):
    inbox = tmp / "inbox"
    rounds = []
    with FakeApi(BIN_DIR, tmp / "api", keys=["test-key-0"], gen_time=3600) as api, \
            Genqd(tmp / "d", api, watches=[{"dir": str(inbox), "kind": "video"}]) as d:
        d.request("POST", "/v1/pause")
        time.sleep(0.5)
        rss_before = rss_kib(d.proc.pid)
        for r in range(args.rounds):
            stage = tmp / ("stage%d" % r)
            stage.mkdir()
            paths = stage_files(stage, args.files, prefix="r%d-" % r)
            seconds, dropped = burst(paths, inbox, args.files * (r + 1), args.timeout)
            queued = count_entries(inbox / "processing") - args.files * r
            time.sleep(1)
            rounds.append({"files": args.files, "queued": queued, "seconds": round(seconds, 3),
                           "files_per_s": round(queued / seconds, 1),
                           "drop_seconds": round(dropped, 3),
                           "rss_kib_after": rss_kib(d.proc.pid)})
        status = d.get_json("/v1/status")
        counts = status.get("counts", status.get("jobs", {}))
        print(json.dumps({
            "bench": "watch_burst", "file_bytes": (inbox / "processing" / "r0-s00000.png")
            .stat().st_size, "rss_kib_before": rss_before, "rounds": rounds,
            "queued_jobs": counts.get("queued"),
        }), flush=True)


if __name__ == "__main__":
    main()
