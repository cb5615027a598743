#!/usr/bin/env python3
"""The core benchmark (issue 2): many jobs on --keys keys (default 2) against the stand-in provider with scaled
limits (window 1 s) and generation times shaped like the real ones (3.5 windows +- 25 %).
Prints one JSON line. Usage: bench/run_bench.py [--jobs 2000] [--keys 2] [--queued 100000]
[--bin build]. The heavy run of issue 12 is `--keys 4 --jobs 6000 --queued 0`: as many keys as
the stand-in serves at 150 requests per 1 s window, genqd's CPU per job.

It measures, it does not assert: compare with the targets in the README."""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))

from fakeapi import FakeApi, max_per_window  # noqa: E402
import genqtest  # noqa: E402
from images import make_png  # noqa: E402
from poll_bench import perf_start, perf_stop  # noqa: E402


def proc_stat(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick


def proc_mem(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def budget_share(entries, t_from, t_to, keys, limit, window):
    used = sum(1 for e in entries if t_from <= e["t"] <= t_to)
    return used / (keys * limit * (t_to - t_from) / window)


def run_throughput(tmp, args):
    limit, window, margin = 150, 1.0, args.margin
    names = ["main", "second"] + ["k%d" % i for i in range(2, args.keys)]
    names = names[:args.keys]
    for i, name in enumerate(names):
        genqtest.KEY_TEXTS.setdefault(name, "test-key-%d" % i)
    with FakeApi(genqtest.BIN_DIR, tmp / "api", keys=[genqtest.KEY_TEXTS[n] for n in names],
                 limit=limit, window=window, lockout=60, poll_interval=1.0,
                 gen_time=3.5 * window, gen_jitter=0.25, video_bytes=args.video_bytes) as api:
        d = genqtest.Genqd(tmp / "d", api, keys={n: 1 for n in names}, start=False,
                           limits={"requests_per_window": limit, "window": window,
                                   "safety_margin": margin, "poll_interval": 1.0, "lockout": 60},
                           extra="")
        if args.info_log:  # a production log level: debug formats a line per request
            d.config.write_text(d.config.read_text().replace('log_level = "debug"',
                                                             'log_level = "info"'))
        d.start()
        d.ctl("pause", check=0)
        img = tmp / "frame.png"
        img.write_bytes(make_png(1024, 576, seed=1))
        t0 = time.monotonic()
        ids = []
        batch = 500
        for i in range(0, args.jobs, batch):
            ids += d.submit([img] * min(batch, args.jobs - i))
        submit_s = time.monotonic() - t0
        rec = perf_start(d.proc.pid, args.perf) if args.perf else None
        cpu0 = proc_stat(d.proc.pid)
        start = time.time()
        d.ctl("resume", check=0)
        done = 0
        while done < len(ids):
            time.sleep(0.5)
            counts = d.get_json("/v1/status")["counts"]
            done = counts["succeeded"] + counts["failed"] + counts["canceled"]
        elapsed = time.time() - start
        cpu = proc_stat(d.proc.pid) - cpu0
        perf_stop(rec, args.perf, 30)
        peak_rss = proc_mem(d.proc.pid, "VmHWM")
        failed = d.get_json("/v1/status")["counts"]["failed"]
        d.stop()
        stats = api.stats()
        entries = api.log_entries()
        submits = sorted(e["t"] for e in entries if e["op"] == "submit")
        # "While work was waiting": from the first request until the last job was submitted.
        share = budget_share(entries, entries[0]["t"], submits[-1], len(names), limit, window)
        worst = max(max_per_window(entries, window).values())
        return {
            "keys": len(names),
            "jobs": len(ids),
            "failed": failed,
            "submit_jobs_per_s": round(len(ids) / submit_s, 1),
            "jobs_per_s": round(len(ids) / elapsed, 2),
            "requests_per_job": round(stats["requests"] / len(ids), 2),
            "budget_used_while_waiting": round(share, 4),
            "max_requests_in_any_window": worst,
            "limit_per_window": limit,
            "http_429": stats["status_counts"].get("429", 0),
            "poll_spacing_violations": stats["early_polls"],
            "genqd_cpu_ms_per_job": round(1000 * cpu / len(ids), 3),
            "genqd_peak_rss_mib": round(peak_rss / 2**20, 1),
            "tls_handshakes_per_1000_requests": round(1000 * stats["tls_handshakes"] /
                                                      stats["requests"], 2),
        }


def run_queued(tmp, count):
    d = genqtest.Genqd(tmp / "q", None, keys={"main": 1})
    d.ctl("pause", check=0)
    img = tmp / "frame.png"
    img.write_bytes(make_png(1024, 576, seed=2))
    rss0 = proc_mem(d.proc.pid, "VmRSS")
    t0 = time.monotonic()
    batch = 1000
    for i in range(0, count, batch):
        d.submit([img] * min(batch, count - i))
    elapsed = time.monotonic() - t0
    status = d.get_json("/v1/status")
    listed = d.get_json("/v1/jobs?limit=100&state=queued")
    out = {"queued": status["counts"]["queued"],
           "rss_before_mib": round(rss0 / 2**20, 1),
           "rss_with_queue_mib": round(proc_mem(d.proc.pid, "VmRSS") / 2**20, 1),
           "peak_rss_mib": round(proc_mem(d.proc.pid, "VmHWM") / 2**20, 1),
           "submit_jobs_per_s": round(count / elapsed, 1),
           "list_page_ok": len(listed["jobs"]) == 100}
    d.stop()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=2000)
    ap.add_argument("--keys", type=int, default=2)
    ap.add_argument("--perf", default="", help="perf.data path: profile genqd while the jobs run "
                    "and print the top entries on stderr")
    ap.add_argument("--info-log", action="store_true",
                    help="log at info (the default keeps the tests' debug level, as before)")
    ap.add_argument("--queued", type=int, default=100000)
    ap.add_argument("--margin", type=float, default=0.05, help="safety margin (s), scaled")
    ap.add_argument("--video-bytes", type=int, default=50000)
    ap.add_argument("--bin", default=os.environ.get("GENQ_BIN_DIR", str(HERE.parent / "build")))
    args = ap.parse_args()
    genqtest.BIN_DIR = Path(args.bin)
    genqtest.GENQD = genqtest.BIN_DIR / "genqd"
    genqtest.GENQCTL = genqtest.BIN_DIR / "genqctl"
    keep = os.environ.get("GENQ_BENCH_KEEP")
    with tempfile.TemporaryDirectory(prefix="genq-bench-") as tmp:
        tmp = keep or tmp
        result = {"throughput": run_throughput(Path(tmp), args)}
        if args.queued > 0:
            result["queued"] = run_queued(Path(tmp), args.queued)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
