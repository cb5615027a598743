#!/usr/bin/env python3
"""The soak run: genqd for MINUTES against the stand-in with a steady flow of jobs, sampling its
resident memory, open file descriptors, database + WAL size, spool and output size, and the
latency of GET /v1/status (a stand-in for event-loop lag: the loop answers it between jobs).
Prints a sample table and first/last/max of each figure. Run through scripts/soak.sh.

    soak.py --bin-dir BUILD --minutes 30 [--rate 10] [--faults] [--kill-every 300]
            [--retention 2m] [--sweep-every 30s]

With --retention, finished jobs are pruned after that age ([retention] finished_jobs), so the
database should stay flat; jobs are then counted by their results (result files are never
pruned): succeeded = result files written, failed = the rest of the finished ones.
"""

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

SOURCE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(SOURCE_DIR / "tests" / "integration"))
import genqtest  # noqa: E402
from genqtest import FakeApi, Genqd, write_images  # noqa: E402

FINAL = ("succeeded", "failed", "canceled")
FAULTS = dict(fault_5xx=0.02, fault_drop=0.01, fault_429=0.01, fault_slow=0.01, slow_seconds=2)


def count_results(path):
    n = 0
    for _, _, files in os.walk(path):
        n += sum(1 for f in files if not f.endswith(".json") and ".part" not in f)
    return n


def dir_size(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass  # removed while walking
    return total


class Sampler:
    def __init__(self, d, pruned):
        self.d = d
        self.pruned = pruned  # jobs vanish from the counts once pruned
        self.rows = []

    def sample(self, t0, submitted, restarts):
        pid = self.d.proc.pid
        status = Path("/proc/%d/status" % pid).read_text()
        rss_kb = int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("VmRSS:")))
        kinds = {}
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue  # closed while listing
            kind = target.split(":", 1)[0] if ":" in target else "file"
            kinds[kind] = kinds.get(kind, 0) + 1
        fds = sum(kinds.values())
        db = self.d.state / "genq.db"
        t = time.monotonic()
        s = self.d.get_json("/v1/status")
        lag = time.monotonic() - t
        counts = s["counts"]
        active = sum(n for k, n in counts.items() if k not in FINAL)
        if self.pruned:
            done = count_results(self.d.output)
            failed = max(0, submitted - active - done)
        else:
            done, failed = counts.get("succeeded", 0), counts.get("failed", 0)
        row = dict(t=t - t0, rss=rss_kb / 1024, fds=fds,
                   db=db.stat().st_size / 2**20,
                   wal=(Path(str(db) + "-wal").stat().st_size / 2**20
                        if Path(str(db) + "-wal").exists() else 0.0),
                   spool=dir_size(self.d.state / "spool") / 2**20,
                   out=dir_size(self.d.output) / 2**20,
                   lag=lag * 1000, submitted=submitted,
                   done=done, failed=failed, active=active, restarts=restarts,
                   kept=sum(counts.get(k, 0) for k in FINAL),
                   fd_kinds=kinds)
        self.rows.append(row)
        return row


COLUMNS = [("t", "t s", "%6.0f"), ("rss", "RSS MiB", "%8.1f"), ("fds", "fds", "%4d"),
           ("db", "db MiB", "%7.2f"), ("wal", "wal MiB", "%7.2f"), ("spool", "spool MiB", "%9.2f"),
           ("out", "out MiB", "%8.1f"), ("lag", "status ms", "%9.1f"),
           ("submitted", "submitted", "%9d"), ("done", "succeeded", "%9d"),
           ("failed", "failed", "%6d"), ("active", "active", "%6d"), ("kept", "kept", "%6d"),
           ("restarts", "kills", "%5d")]


def print_row(row):
    print(" ".join(fmt % row[k] for k, _, fmt in COLUMNS), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--rate", type=float, default=10, help="jobs submitted per second")
    ap.add_argument("--max-active", type=int, default=200,
                    help="submission pauses while this many jobs are not final")
    ap.add_argument("--sample", type=float, default=10, help="seconds between samples")
    ap.add_argument("--faults", action="store_true", help="stand-in fault mix: %s" % FAULTS)
    ap.add_argument("--kill-every", type=float, default=0, help="SIGKILL + restart every S s")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    ap.add_argument("--retention", default="",
                    help='[retention] finished_jobs, e.g. "2m" (default: genqd\'s, 30 days)')
    ap.add_argument("--sweep-every", default="30s", help="[retention] sweep_every with --retention")
    a = ap.parse_args()
    genqtest.BIN_DIR = Path(a.bin_dir)
    genqtest.GENQD = genqtest.BIN_DIR / "genqd"
    genqtest.GENQCTL = genqtest.BIN_DIR / "genqctl"

    tmp = Path(tempfile.mkdtemp(prefix="genq-soak-"))
    images = write_images(tmp / "images", 20)
    options = dict(gen_time=0.5, gen_jitter=0.3, limit=60, window=1, lockout=2,
                   poll_interval=0.5, video_bytes=20000)
    if a.faults:
        options.update(FAULTS)
    with FakeApi(a.bin_dir, tmp / "fakeapi", keys=[genqtest.KEY_TEXTS["main"]], **options) as api:
        extra = ""
        if a.retention:
            extra = '[retention]\nfinished_jobs = "%s"\nsweep_every = "%s"\n' % (
                a.retention, a.sweep_every)
        d = Genqd(tmp / "genqd", api, limits=dict(requests_per_window=50, window=1),
                  retry=dict(max_attempts=8, base_delay=0.2, max_delay=2), extra=extra,
                  start=False)
        # info, not the harness's debug: a month-long daemon does not log every request
        d.config.write_text(d.config.read_text().replace('log_level = "debug"',
                                                         'log_level = "info"'))
        d.start()
        sampler = Sampler(d, bool(a.retention))
        stop = threading.Event()
        lock = threading.Lock()
        state = dict(submitted=0, restarts=0, errors=0)

        def submitter():
            i = 0
            batch = max(1, int(round(a.rate)))
            while not stop.wait(batch / a.rate):
                try:
                    with lock:
                        counts = d.get_json("/v1/status")["counts"]
                        if sum(n for k, n in counts.items() if k not in FINAL) >= a.max_active:
                            continue
                        paths = [images[(i + k) % len(images)] for k in range(batch)]
                        r = d.ctl("submit", *[str(p) for p in paths], timeout=60)
                    if r.returncode == 0:
                        state["submitted"] += len(r.stdout.split())
                    else:
                        state["errors"] += 1
                    i += batch
                except (OSError, RuntimeError, subprocess.TimeoutExpired):
                    state["errors"] += 1  # genqd being restarted: try again next tick

        th = threading.Thread(target=submitter, daemon=True)
        th.start()
        t0 = time.monotonic()
        end = t0 + a.minutes * 60
        next_kill = t0 + a.kill_every if a.kill_every else None
        print("soak: %g min, %g jobs/s offered, faults %s, SIGKILL every %s, retention %s" % (
            a.minutes, a.rate, "on" if a.faults else "off",
            "%.0f s" % a.kill_every if a.kill_every else "never",
            "%s (sweep every %s)" % (a.retention, a.sweep_every) if a.retention else "default"))
        print(" ".join(head.rjust(len(fmt % 0)) for _, head, fmt in COLUMNS), flush=True)
        try:
            while time.monotonic() < end:
                time.sleep(min(a.sample, max(0.0, end - time.monotonic())))
                if next_kill and time.monotonic() >= next_kill:
                    with lock:
                        d.kill(signal.SIGKILL)
                        d.start()
                    state["restarts"] += 1
                    next_kill += a.kill_every
                print_row(sampler.sample(t0, state["submitted"], state["restarts"]))
        finally:
            stop.set()
            th.join(70)
        # Drain: everything submitted ends final.
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            counts = d.get_json("/v1/status")["counts"]
            if sum(n for k, n in counts.items() if k not in FINAL) == 0:
                break
            time.sleep(1)
        last = sampler.sample(t0, state["submitted"], state["restarts"])
        print_row(last)
        d.stop()
        total_jobs = sum(last[k] for k in ("done", "failed"))
        print()
        print("soak: %d jobs submitted, %d succeeded, %d failed, %d still active, %d submit "
              "errors, %d SIGKILLs, %.1f min" % (
                  state["submitted"], last["done"], last["failed"], last["active"],
                  state["errors"], state["restarts"], last["t"] / 60))
        rows = sampler.rows
        # The first sample after warm-up (10 % of the run) is the baseline of "flat".
        warm = rows[min(len(rows) - 1, max(1, len(rows) // 10))]
        for key, head, fmt in COLUMNS[1:8] + [c for c in COLUMNS if c[0] == "kept"]:
            values = [r[key] for r in rows]
            print("  %-10s first %s  after warm-up %s  last %s  max %s" % (
                head, (fmt % values[0]).strip(), (fmt % warm[key]).strip(),
                (fmt % values[-1]).strip(), (fmt % max(values)).strip()))
        print("  fds by kind: first %s, last %s" % (rows[0]["fd_kinds"], last["fd_kinds"]))
        if total_jobs:
            per_job = (last["db"] - rows[0]["db"]) * 2**20 / total_jobs
            out_per_job = (last["out"] - rows[0]["out"]) * 2**20 / total_jobs
            print("  per finished job: database +%.0f bytes, output +%.0f bytes (%s)" % (
                per_job, out_per_job,
                "history pruned after %s; results are kept" % a.retention if a.retention
                else "history and results are kept"))
            if a.retention:
                half = rows[len(rows) // 2:]
                print("  second half of the run: database %.2f-%.2f MiB, WAL at most %.2f MiB, "
                      "kept jobs %d-%d" % (min(r["db"] for r in half), max(r["db"] for r in half),
                                           max(r["wal"] for r in half),
                                           min(r["kept"] for r in half),
                                           max(r["kept"] for r in half)))
        (tmp / "soak.json").write_text(json.dumps(rows))
        print("  samples: %s" % (tmp / "soak.json" if a.keep else "(removed; --keep keeps them)"))
    if not a.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if last["active"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
