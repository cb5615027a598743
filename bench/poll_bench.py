#!/usr/bin/env python3
"""Requests per video and result delay at three loads (issue 12), one key against the stand-in
with scaled limits: window 1 s, 150 requests per window, poll interval 1 s, generation times
3.5 s +- 0.9 s (uniform). Prints one JSON line per load, then a summary line.

  light    a job every half interval
  medium   jobs at 70 % of what the key's budget completes at 2 requests per video
  backlog  --backlog jobs queued while paused, then resumed: budget share and violations

Delay is from "generation ready" (the stand-in's ready_at) to "result fetched" (the arrival of
the poll answered 200), in poll intervals. The first --warmup jobs of a load teach the planner
and are not counted. It measures, it does not assert: compare with the README's targets.
Usage: bench/poll_bench.py [--bin build] [--light 120] [--medium-s 40] [--backlog 1500]"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))

from fakeapi import FakeApi, max_per_window  # noqa: E402
import genqtest  # noqa: E402
from images import make_png  # noqa: E402

LIMIT, WINDOW, INTERVAL, GEN, JITTER = 150, 1.0, 1.0, 3.5, 0.9 / 3.5


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start(tmp, name, margin):
    api = FakeApi(genqtest.BIN_DIR, tmp / (name + "-api"), keys=["test-key-0"], limit=LIMIT,
                  window=WINDOW, lockout=60, poll_interval=INTERVAL, gen_time=GEN,
                  gen_jitter=JITTER, video_bytes=20000)
    api.__enter__()
    d = genqtest.Genqd(tmp / name, api, keys={"main": 1}, start=False,
                       limits={"requests_per_window": LIMIT, "window": WINDOW,
                               "safety_margin": margin, "poll_interval": INTERVAL, "lockout": 60})
    # A production log level: the tests' debug level formats a line per request.
    d.config.write_text(d.config.read_text().replace('log_level = "debug"', 'log_level = "info"'))
    d.start()
    return api, d


def wait_done(d, total, timeout=600):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        c = d.get_json("/v1/status")["counts"]
        if c["succeeded"] + c["failed"] + c["canceled"] >= total:
            return c
        time.sleep(0.25)
    raise RuntimeError("jobs not done in time")


def figures(api, since):
    """Requests per video and delays for the generations created at or after `since`."""
    gens = {g: v for g, v in api.generations().items() if v["created_at"] >= since}
    entries = api.log_entries()
    requests = {g: 1 for g in gens}  # the accepted submit
    fetched = {}
    for e in entries:
        g = e.get("gen")
        if e["op"] == "poll" and g in gens:
            requests[g] += 1
            if e["status"] == 200 and g not in fetched:
                fetched[g] = e["t"]
    delays = sorted((fetched[g] - gens[g]["ready_at"]) / INTERVAL for g in fetched)
    n = len(fetched)
    if n == 0:
        return {"videos": 0}
    return {"videos": n,
            "requests_per_video": round(sum(requests[g] for g in fetched) / n, 3),
            "delay_mean_intervals": round(sum(delays) / n, 3),
            "delay_p90_intervals": round(delays[int(0.9 * (n - 1))], 3)}


def paced_submit(d, img, rate, seconds, batch):
    """Submits `rate` jobs/s for `seconds`, `batch` at a time; returns how many."""
    count, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < seconds:
        due = int((time.monotonic() - t0) * rate) + 1
        if due > count:
            n = min(batch, due - count)
            d.submit([img] * n)
            count += n
        else:
            time.sleep(0.01)
    return count


def run_load(tmp, name, rate, seconds, warmup, margin, batch):
    api, d = start(tmp, name, margin)
    img = tmp / "frame.png"
    try:
        # Teach the planner (or not: --warmup 0 shows the first minutes of a fresh install).
        for _ in range(warmup):
            d.submit([img])
            time.sleep(1.0 / min(rate, 4))
        wait_done(d, warmup)
        since = time.time()
        cpu0 = cpu_s(d.proc.pid)
        n = paced_submit(d, img, rate, seconds, batch)
        wait_done(d, warmup + n)
        cpu = cpu_s(d.proc.pid) - cpu0
        out = {"load": name, "jobs_per_s": rate, "jobs": n}
        out.update(figures(api, since - 0.5))
        stats = api.stats()
        out["http_429"] = stats["status_counts"].get("429", 0)
        out["poll_spacing_violations"] = stats["early_polls"]
        out["genqd_cpu_ms_per_job"] = round(1000 * cpu / max(n, 1), 3)
        return out
    finally:
        d.stop()
        api.__exit__(None, None, None)


def perf_start(pid, out):
    """perf record of genqd's call graphs (Debian's linux-perf), or None without perf."""
    if shutil.which("perf") is None:
        print("perf not found: apt-get install linux-perf", file=sys.stderr)
        return None
    # GENQ_PERF_CALLGRAPH=dwarf: call graphs through code built without frame pointers.
    graph = os.environ.get("GENQ_PERF_CALLGRAPH", "")
    how = ["--call-graph", graph, "-F", "199"] if graph else ["-g", "-F", "999"]
    return subprocess.Popen(["perf", "record"] + how + ["-p", str(pid), "-o", out],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def perf_stop(rec, out, top):
    if rec is None:
        return
    rec.send_signal(signal.SIGINT)
    rec.wait(60)
    report = subprocess.run(["perf", "report", "-i", out, "--stdio", "--no-children",
                             "--sort", "symbol", "-g", "none", "--percent-limit", "0.7"],
                            capture_output=True, text=True).stdout
    lines = [l for l in report.splitlines() if l.strip() and not l.startswith("#")]
    print("\n".join(lines[:top]), file=sys.stderr)


def run_backlog(tmp, jobs, warmup, margin, perf_out=None, top=25):
    api, d = start(tmp, "backlog", margin)
    img = tmp / "frame.png"
    try:
        for _ in range(warmup):
            d.submit([img])
            time.sleep(0.25)
        wait_done(d, warmup)
        d.ctl("pause", check=0)
        for i in range(0, jobs, 500):
            d.submit([img] * min(500, jobs - i))
        since = time.time()
        rec = perf_start(d.proc.pid, perf_out) if perf_out else None
        cpu0 = cpu_s(d.proc.pid)
        d.ctl("resume", check=0)
        wait_done(d, warmup + jobs)
        cpu = cpu_s(d.proc.pid) - cpu0
        perf_stop(rec, perf_out, top)
        entries = [e for e in api.log_entries() if e["t"] >= since]
        if os.environ.get("GENQ_BENCH_DUMP"):  # the stand-in's request log, for a closer look
            Path(os.environ["GENQ_BENCH_DUMP"]).write_text(json.dumps(entries))
        submits = sorted(e["t"] for e in entries if e["op"] == "submit")
        used = sum(1 for e in entries if e["t"] <= submits[-1])
        share = used / (LIMIT * (submits[-1] - entries[0]["t"]) / WINDOW)
        out = {"load": "backlog", "jobs": jobs}
        out.update(figures(api, since - 0.5))
        stats = api.stats()
        out.update({"budget_used_while_waiting": round(share, 4),
                    "budget_ceiling_with_margin": round(WINDOW / (WINDOW + margin), 4),
                    "max_requests_in_any_window": max(max_per_window(entries, WINDOW).values()),
                    "http_429": stats["status_counts"].get("429", 0),
                    "poll_spacing_violations": stats["early_polls"],
                    "genqd_cpu_ms_per_job": round(1000 * cpu / jobs, 3)})
        return out
    finally:
        d.stop()
        api.__exit__(None, None, None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.environ.get("GENQ_BIN_DIR", str(HERE.parent / "build")))
    ap.add_argument("--light-s", type=float, default=60)
    ap.add_argument("--medium-s", type=float, default=30)
    ap.add_argument("--backlog", type=int, default=1500)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--margin", type=float, default=0.05)
    ap.add_argument("--only", default="light,medium,backlog")
    ap.add_argument("--perf", default="", help="perf.data path: profile genqd in the backlog run "
                    "and print the top entries on stderr")
    args = ap.parse_args()
    genqtest.BIN_DIR = Path(args.bin)
    genqtest.GENQD = genqtest.BIN_DIR / "genqd"
    genqtest.GENQCTL = genqtest.BIN_DIR / "genqctl"
    only = args.only.split(",")
    results = []
    with tempfile.TemporaryDirectory(prefix="genq-poll-bench-") as tmp:
        tmp = Path(tmp)
        (tmp / "frame.png").write_bytes(make_png(1024, 576, seed=3))
        if "light" in only:
            results.append(run_load(tmp, "light", 2.0 / INTERVAL, args.light_s, args.warmup,
                                    args.margin, 1))
            print(json.dumps(results[-1]), flush=True)
        if "medium" in only:
            rate = round(0.7 * LIMIT / WINDOW / 2.0, 1)
            results.append(run_load(tmp, "medium", rate, args.medium_s, args.warmup, args.margin,
                                    20))
            print(json.dumps(results[-1]), flush=True)
        if "backlog" in only:
            results.append(run_backlog(tmp, args.backlog, args.warmup, args.margin,
                                       args.perf or None))
            print(json.dumps(results[-1]), flush=True)
    print(json.dumps({"summary": {r["load"]: {k: r.get(k) for k in
                                              ("requests_per_video", "delay_mean_intervals",
                                               "delay_p90_intervals", "genqd_cpu_ms_per_job")}
                                  for r in results}}))


if __name__ == "__main__":
    main()
