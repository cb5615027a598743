#!/usr/bin/env python3
"""One node at scale (issue 12): a queue of --jobs (default 1,000,000) jobs on one genqd.

Prints one JSON line with:
- submission: jobs/s through POST /v1/jobs/batch (--batch images per request, --clients
  connections at once), durable answers;
- RSS (VmRSS and the peak VmHWM) before, with the full queue, and after the dispatch phase;
- GET /v1/status and GET /v1/jobs?limit=50 (first page): p50/p99/max latency with the full
  queue, --probes requests each, sequential, nothing else running;
- the same two while the submission runs (one probe every 0.2 s);
- the loop thread's CPU time and its time runnable but waiting for a CPU (schedstat), per phase;
- the largest WAL file seen while submitting, and the database's size with the full queue;
- the event loop's stalls from its lag probe (/metrics genq_loop_lag_*): the longest, and how
  many probe firings were 20 ms or more late in each phase;
- dispatch: --dispatch-s seconds of the queue being worked on by one key against the stand-in
  (150 requests per 1 s window), jobs finished and the loop's stalls meanwhile.

The jobs are `upscale` jobs of one 64x64 PNG (the smallest image a kind takes): the queue is
what is measured, not the upload of images. It measures, it does not assert.
Usage: bench/scale_bench.py [--jobs 1000000] [--batch 60] [--clients 4] [--bin build]"""

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))

from fakeapi import FakeApi  # noqa: E402
import genqtest  # noqa: E402
from images import make_png  # noqa: E402

BOUNDARY = "genq-scale-bench-boundary"


def proc_mem(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def loop_sched(pid):
    """The event loop thread's (the main thread's) CPU time and time spent runnable but waiting
    for a CPU, in seconds (/proc/PID/schedstat): on a loaded machine a stall the lag probe sees
    may be the scheduler's, not genqd's."""
    with open("/proc/%d/task/%d/schedstat" % (pid, pid)) as f:
        run_ns, wait_ns, _ = (int(x) for x in f.read().split())
    return run_ns / 1e9, wait_ns / 1e9


def batch_body(png, count):
    b = BOUNDARY.encode()
    parts = [b"--%s\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\nupscale\r\n" % b,
             b"--%s\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\na calm sea\r\n" % b]
    for i in range(count):
        parts.append(b"--%s\r\nContent-Disposition: form-data; name=\"image\"; "
                     b"filename=\"s%d.png\"\r\nContent-Type: image/png\r\n\r\n" %
                     (BOUNDARY.encode(), i) + png + b"\r\n")
    parts.append(b"--%s--\r\n" % BOUNDARY.encode())
    return b"".join(parts)


def lag_metrics(d):
    """The loop-lag histogram: {le: count} with 'count' and 'max'."""
    status, body = d.request("GET", "/metrics")
    assert status == 200, status
    out = {}
    for line in body.decode().splitlines():
        if line.startswith("genq_loop_lag_seconds_bucket"):
            le = line.split('le="')[1].split('"')[0]
            out[le] = int(line.split()[-1])
        elif line.startswith("genq_loop_lag_seconds_count"):
            out["count"] = int(line.split()[-1])
        elif line.startswith("genq_loop_lag_max_seconds"):
            out["max"] = float(line.split()[-1])
    return out


def late_between(a, b, le):
    """Probe firings later than `le` seconds between two scrapes. With the probe's 10 ms
    period a stall of S shows as a lag between S - 10 ms and S: a lag over 20 ms is a stall
    over 20 ms, and every stall over 30 ms has a lag over 20 ms."""
    return (b["count"] - b[le]) - (a["count"] - a[le])


def timed(d, path):
    t0 = time.perf_counter()
    status, _ = d.request("GET", path, timeout=60)
    dt = time.perf_counter() - t0
    assert status == 200, (path, status)
    return dt


def quantiles(xs):
    xs = sorted(xs)
    if not xs:
        return {}
    pick = lambda q: xs[min(len(xs) - 1, int(q * len(xs)))]  # noqa: E731
    return {"p50_ms": round(1000 * pick(0.5), 2), "p99_ms": round(1000 * pick(0.99), 2),
            "max_ms": round(1000 * xs[-1], 2), "n": len(xs)}


def submit_all(d, png, jobs, batch, clients):
    body_full = batch_body(png, batch)
    headers = {"Content-Type": "multipart/form-data; boundary=" + BOUNDARY}
    lock = threading.Lock()
    state = {"left": jobs, "done": 0, "errors": 0}

    def client():
        while True:
            with lock:
                n = min(batch, state["left"])
                state["left"] -= n
            if n == 0:
                return
            body = body_full if n == batch else batch_body(png, n)
            status, reply = d.request("POST", "/v1/jobs/batch", body=body, headers=headers,
                                      timeout=120)
            items = json.loads(reply).get("results", []) if status == 200 else []
            ok = sum(1 for it in items if it.get("job"))
            if ok < n and "first_error" not in state:
                bad = [it for it in items if not it.get("job")]
                state["first_error"] = bad[0] if bad else reply[:300].decode(errors="replace")
            with lock:
                state["done"] += ok
                state["errors"] += n - ok

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    return threads, t0, state


def wal_size(d):
    try:
        return (d.state / "genq.db-wal").stat().st_size
    except FileNotFoundError:
        return 0


def probe_during(d, threads, interval=0.2):
    """Status and listing latency while the threads run, and the largest WAL file seen (the
    checkpoint thread keeps it bounded)."""
    status, listing, wal = [], [], 0
    while any(t.is_alive() for t in threads):
        status.append(timed(d, "/v1/status"))
        listing.append(timed(d, "/v1/jobs?limit=50"))
        wal = max(wal, wal_size(d))
        time.sleep(interval)
    return status, listing, wal


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.environ.get("GENQ_BIN_DIR", str(HERE.parent / "build")))
    ap.add_argument("--jobs", type=int, default=1000000)
    ap.add_argument("--batch", type=int, default=60)  # a form takes at most 64 parts
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--probes", type=int, default=200)
    ap.add_argument("--dispatch-s", type=float, default=30)
    args = ap.parse_args()
    genqtest.BIN_DIR = Path(args.bin)
    genqtest.GENQD = genqtest.BIN_DIR / "genqd"
    genqtest.GENQCTL = genqtest.BIN_DIR / "genqctl"
    png = make_png(64, 64, seed=5)
    out = {"jobs": args.jobs, "batch": args.batch, "clients": args.clients}
    with tempfile.TemporaryDirectory(prefix="genq-scale-bench-") as tmp:
        tmp = Path(tmp)
        with FakeApi(genqtest.BIN_DIR, tmp / "api", keys=["test-key-0"], limit=150, window=1.0,
                     lockout=60, poll_interval=1.0, gen_time=3.5, gen_jitter=0.25,
                     video_bytes=20000) as api:
            d = genqtest.Genqd(tmp / "d", api, keys={"main": 1}, start=False,
                               limits={"requests_per_window": 150, "window": 1.0,
                                       "safety_margin": 0.05, "poll_interval": 1.0,
                                       "lockout": 60})
            d.config.write_text(d.config.read_text().replace('log_level = "debug"',
                                                             'log_level = "info"'))
            d.start()
            try:
                run(d, png, args, out)
            finally:
                d.stop()
    print(json.dumps(out), flush=True)


def run(d, png, args, out):
    pid = d.proc.pid
    d.ctl("pause", check=0)
    out["rss_empty_mib"] = round(proc_mem(pid, "VmRSS") / 2**20, 1)
    lag0 = lag_metrics(d)
    cpu0 = cpu_s(pid)
    sched0 = loop_sched(pid)
    threads, t0, state = submit_all(d, png, args.jobs, args.batch, args.clients)
    during_status, during_list, wal_max = probe_during(d, threads)
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    lag1 = lag_metrics(d)
    sched1 = loop_sched(pid)
    out["submit_s"] = round(elapsed, 1)
    out["submit_loop_cpu_s"] = round(sched1[0] - sched0[0], 1)
    out["submit_loop_runqueue_wait_s"] = round(sched1[1] - sched0[1], 1)
    out["submitted"] = state["done"]
    out["submit_errors"] = state["errors"]
    if "first_error" in state:
        out["first_submit_error"] = state["first_error"]
    out["submit_jobs_per_s"] = round(state["done"] / elapsed, 1)
    out["submit_genqd_cpu_us_per_job"] = round(1e6 * (cpu_s(pid) - cpu0) / max(1, state["done"]), 1)
    out["wal_max_mib_submit"] = round(wal_max / 2**20, 1)
    out["db_mib_full"] = round((d.state / "genq.db").stat().st_size / 2**20, 1)
    out["status_during_submit"] = quantiles(during_status)
    out["list_during_submit"] = quantiles(during_list)
    out["loop_lag_over_10ms_submit"] = late_between(lag0, lag1, "0.01")
    out["loop_lag_over_20ms_submit"] = late_between(lag0, lag1, "0.02")
    out["rss_full_mib"] = round(proc_mem(pid, "VmRSS") / 2**20, 1)
    status = [timed(d, "/v1/status") for _ in range(args.probes)]
    listing = [timed(d, "/v1/jobs?limit=50") for _ in range(args.probes)]
    out["queued"] = d.get_json("/v1/status")["counts"]["queued"]
    out["status_full_queue"] = quantiles(status)
    out["list_first_page_full_queue"] = quantiles(listing)
    lag2 = lag_metrics(d)
    sched2 = loop_sched(pid)
    d.ctl("resume", check=0)
    t_end = time.monotonic() + args.dispatch_s
    disp_status = []
    while time.monotonic() < t_end:
        disp_status.append(timed(d, "/v1/status"))
        time.sleep(0.2)
    lag3 = lag_metrics(d)
    sched3 = loop_sched(pid)
    out["dispatch_loop_cpu_s"] = round(sched3[0] - sched2[0], 1)
    out["dispatch_loop_runqueue_wait_s"] = round(sched3[1] - sched2[1], 1)
    counts = d.get_json("/v1/status")["counts"]
    out["dispatch_s"] = args.dispatch_s
    out["dispatch_succeeded"] = counts["succeeded"]
    out["status_during_dispatch"] = quantiles(disp_status)
    out["loop_lag_over_10ms_dispatch"] = late_between(lag2, lag3, "0.01")
    out["loop_lag_over_20ms_dispatch"] = late_between(lag2, lag3, "0.02")
    out["loop_lag_max_ms"] = round(1000 * lag3["max"], 1)
    out["rss_after_dispatch_mib"] = round(proc_mem(pid, "VmRSS") / 2**20, 1)
    out["peak_rss_mib"] = round(proc_mem(pid, "VmHWM") / 2**20, 1)


if __name__ == "__main__":
    main()
