#!/usr/bin/env python3
"""Three genqd nodes on one PostgreSQL 15 (a throwaway server, tests/integration/pgserver.py)
sharing two keys against the stand-in with scaled limits: window 1 s, --limit requests per window
per key (15 = the provider's 150 per 10 s, per second), poll interval 1 s, generation times
3.5 s +- 25 % (the real ones over ten). --jobs videos are queued while every node is paused,
then all resume. Prints one JSON line; asserts nothing (compare with the README's targets).

  budget_used_while_waiting  requests / (keys x limit x elapsed / window), from the first
                             request to the last submission (work was waiting all along)
  requests_per_video         every request the stand-in saw, per job
  db_xacts_per_request       PostgreSQL transactions (= round trips of the autocommit
                             statements genq sends) per provider request
  cpu_ms_per_request         genqd (three nodes) and postgres (all backends) CPU per request
  reservation_p99_ms         the nodes' p99 of one reservation's round trip (their /metrics)

Usage: bench/pg_nodes_bench.py [--bin build] [--jobs 400] [--limit 15] [--margin 0.05]"""

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
from pgserver import PgServer, pg_bin_dir  # noqa: E402

WINDOW, INTERVAL, GEN = 1.0, 1.0, 3.5


def cpu_s(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(d))
            except OSError:
                pass
    return out


def postgres_cpu(pg):
    return cpu_s(pg.proc.pid) + sum(cpu_s(p) for p in children(pg.proc.pid))


def xacts(pg):
    return int(pg.psql("genq", "SELECT xact_commit + xact_rollback FROM pg_stat_database "
                               "WHERE datname = 'genq'"))


def metric(node, name):
    """(series, value) of every sample of `name` on the node's /metrics."""
    _, body = node.request("GET", "/metrics")
    for line in body.decode().splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            yield line.split()[0], float(line.split()[-1])


def run(tmp, args):
    limit, margin = args.limit, args.margin
    with PgServer(tmp) as pg, \
            FakeApi(genqtest.BIN_DIR, tmp / "api", keys=["test-key-0", "test-key-1"],
                    limit=limit, window=WINDOW, lockout=60, poll_interval=INTERVAL,
                    gen_time=GEN, gen_jitter=0.25, video_bytes=20000) as api:
        pg.createdb("genq")
        limits = {"requests_per_window": limit, "window": WINDOW, "safety_margin": margin,
                  "poll_interval": INTERVAL, "lockout": 60}
        nodes = []
        for n in "abc":
            extra = '[store]\nurl = "%s"\nnode = "%s"\nlease = 5\n' % (pg.url("genq"), n)
            nodes.append(genqtest.Genqd(tmp / n, api, keys={"main": 1, "second": 1},
                                        limits=limits, extra=extra))
        try:
            for d in nodes:
                d.ctl("pause", check=0)
            img = tmp / "frame.png"
            img.write_bytes(make_png(1024, 576, seed=1))
            ids = []
            for i in range(0, args.jobs, 200):
                ids += nodes[i // 200 % 3].submit([img] * min(200, args.jobs - i))
            x0, pg0 = xacts(pg), postgres_cpu(pg)
            cpu0 = [cpu_s(d.proc.pid) for d in nodes]
            r0 = api.stats()["requests"]
            start = time.time()
            for d in nodes:
                d.ctl("resume", check=0)
            final = ("SELECT count(*) FROM jobs WHERE state IN "
                     "('succeeded','failed','canceled')")
            while int(pg.psql("genq", final)) < len(ids):
                time.sleep(0.5)
            elapsed = time.time() - start
            requests = api.stats()["requests"] - r0
            genqd_cpu = sum(cpu_s(d.proc.pid) - c for d, c in zip(nodes, cpu0))
            pg_cpu = postgres_cpu(pg) - pg0
            db = xacts(pg) - x0
            p99 = [dict(metric(d, "genq_shared_reservation_seconds"))
                   .get('genq_shared_reservation_seconds{quantile="0.99"}', 0) for d in nodes]
            answers = {}
            for d in nodes:
                for k, v in metric(d, "genq_shared_reservations_total"):
                    a = k.split('"')[1]
                    answers[a] = answers.get(a, 0) + int(v)
            failed = int(pg.psql("genq", "SELECT count(*) FROM jobs WHERE state <> 'succeeded'"))
        finally:
            for d in nodes:
                d.stop()
        stats = api.stats()
        entries = api.log_entries()
        submits = sorted(e["t"] for e in entries if e["op"] == "submit")
        t_from = min(e["t"] for e in entries if e["t"] >= start - 1)  # the first after resume
        used = sum(1 for e in entries if t_from <= e["t"] <= submits[-1])
        share = used / (2 * limit * (submits[-1] - t_from) / WINDOW)
        return {
            "nodes": 3, "keys": 2, "limit_per_window": limit, "window_s": WINDOW,
            "jobs": len(ids), "not_succeeded": failed, "elapsed_s": round(elapsed, 1),
            "budget_used_while_waiting": round(share, 4),
            "safety_margin_s": margin,
            "budget_ceiling_with_margin": round(WINDOW / (WINDOW + margin), 4),
            "requests_per_video": round(requests / len(ids), 2),
            "max_requests_in_any_window": max(max_per_window(entries, WINDOW).values()),
            "http_429": stats["status_counts"].get("429", 0),
            "early_polls": stats["early_polls"],
            "reservations": answers,
            "db_xacts_per_request": round(db / requests, 2),
            "genqd_cpu_ms_per_request": round(1000 * genqd_cpu / requests, 3),
            "postgres_cpu_ms_per_request": round(1000 * pg_cpu / requests, 3),
            "reservation_p99_ms": [round(1000 * p, 2) for p in p99],
            "load_avg_1m": round(os.getloadavg()[0], 1),
        }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.environ.get("GENQ_BIN_DIR", str(HERE.parent / "build")))
    ap.add_argument("--jobs", type=int, default=400)
    ap.add_argument("--limit", type=int, default=15)
    # 0.05 s as bench/run_bench.py's one-node figure (the README's table): the scaled margin.
    ap.add_argument("--margin", type=float, default=0.05)
    args = ap.parse_args()
    if pg_bin_dir() is None:
        print("no PostgreSQL server installed (apt-get install postgresql)")
        return 2
    genqtest.BIN_DIR = Path(args.bin)
    genqtest.GENQD = genqtest.BIN_DIR / "genqd"
    genqtest.GENQCTL = genqtest.BIN_DIR / "genqctl"
    with tempfile.TemporaryDirectory(prefix="genq-pgnodes-") as tmp:
        print(json.dumps(run(Path(tmp), args)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
