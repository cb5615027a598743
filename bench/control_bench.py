#!/usr/bin/env python3
"""Control-socket throughput: submissions per second through the socket (one genqctl process
with many small images over one connection; 50 concurrent curl clients), and the latency of
GET /v1/status while that runs. Prints one JSON line.

    GENQ_BIN_DIR=build python3 bench/control_bench.py [--genqctl-jobs 3000] [--curl-jobs 40]

The queue is paused (POST /v1/pause) and base_url points at a closed port, so nothing goes to a
provider: the numbers measure the server, the intake (validation, spool, group commit) and the
clients. Every job is durable before its answer (spool synced, row committed with fsync)."""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))

from genqtest import BIN_DIR, Genqd  # noqa: E402
from images import _png_chunk  # noqa: E402


def small_pngs(directory, count, prefix):
    """count distinct valid 1024x576 PNGs of about 2 KB: one flat picture, a distinct text chunk
    each (the spool is content-addressed, so equal files would be stored once)."""
    directory.mkdir(parents=True, exist_ok=True)
    ihdr = _png_chunk(b"IHDR", (1024).to_bytes(4, "big") + (576).to_bytes(4, "big") +
                      bytes([8, 2, 0, 0, 0]))
    idat = _png_chunk(b"IDAT", zlib.compress(b"\x00" * ((1024 * 3 + 1) * 576), 9))
    paths = []
    for i in range(count):
        text = _png_chunk(b"tEXt", b"n\x00" + ("%s%d" % (prefix, i)).encode())
        p = directory / ("%s%05d.png" % (prefix, i))
        p.write_bytes(b"\x89PNG\r\n\x1a\n" + ihdr + text + idat + _png_chunk(b"IEND", b""))
        paths.append(p)
    return paths


class StatusProbe:
    """GET /v1/status on one kept-alive connection every `period` seconds, in a thread."""

    def __init__(self, path, period=0.005):
        self.path, self.period = path, period
        self.samples = []
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.path)
        f = s.makefile("rb")
        while self.running:
            t0 = time.perf_counter()
            s.sendall(b"GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n")
            length = 0
            while True:
                line = f.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
                elif line.startswith(b"HTTP/1.1 ") and not line.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(line)
            f.read(length)
            self.samples.append(time.perf_counter() - t0)
            time.sleep(self.period)
        s.close()

    def stop(self):
        self.running = False
        self.thread.join()
        return self.samples


def percentile(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))] if v else None


def latency(samples):
    ms = [x * 1000 for x in samples]
    return {"n": len(ms), "p50_ms": round(percentile(ms, 50), 2),
            "p99_ms": round(percentile(ms, 99), 2), "max_ms": round(max(ms), 2)}


def run_genqctl(d, directory):
    t0 = time.perf_counter()
    r = subprocess.run([str(BIN_DIR / "genqctl"), "--socket", d.socket, "submit",
                        str(directory / "*.png")], capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-2000:])
    return len(r.stdout.split()), elapsed


def run_curls(d, groups):
    """One curl process per group; each sends its images one job per request, over one
    connection (--next keeps the connection)."""
    procs = []
    t0 = time.perf_counter()
    for paths in groups:
        cmd = ["curl"]
        for i, p in enumerate(paths):
            if i:
                cmd.append("--next")
            cmd += ["-s", "--unix-socket", d.socket, "-o", "/dev/null", "-w", "%{http_code}\n",
                    "-F", "image=@%s" % p, "http://localhost/v1/jobs"]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True))
    codes = []
    for p in procs:
        out, _ = p.communicate(timeout=600)
        codes += out.split()
    elapsed = time.perf_counter() - t0
    bad = [c for c in codes if c != "201"]
    if bad or len(codes) != sum(len(g) for g in groups):
        raise RuntimeError("curl answers: %d, not 201: %s" % (len(codes), bad[:5]))
    return len(codes), elapsed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--genqctl-jobs", type=int, default=3000)
    ap.add_argument("--curl-clients", type=int, default=50)
    ap.add_argument("--curl-jobs", type=int, default=40, help="jobs per curl client")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="genq-ctlbench-") as tmp:
        tmp = Path(tmp)
        ctl_dir = tmp / "ctl"
        small_pngs(ctl_dir, args.genqctl_jobs, "c")
        curl_paths = small_pngs(tmp / "curl", args.curl_clients * args.curl_jobs, "u")
        groups = [curl_paths[i::args.curl_clients] for i in range(args.curl_clients)]
        # genqd syncs the spool's file system (syncfs): flush the staged files now, so the
        # numbers do not include writing back the benchmark's own input.
        os.sync()
        d = Genqd(tmp / "d", start=False)
        # Debug logging writes a line per request; a production daemon runs at info.
        d.config.write_text(d.config.read_text().replace('log_level = "debug"',
                                                         'log_level = "info"'))
        d.start()
        with d:
            status, _ = d.request("POST", "/v1/pause")
            assert status == 200
            probe = StatusProbe(d.socket)
            time.sleep(0.2)
            idle = probe.samples[:]
            n_ctl, t_ctl = run_genqctl(d, ctl_dir)
            during_ctl = probe.samples[len(idle):]
            mark = len(probe.samples)
            n_curl, t_curl = run_curls(d, groups)
            during_curl = probe.samples[mark:]
            mark = len(probe.samples)
            time.sleep(0.5)  # idle again, with every job in the table: the cost of status itself
            idle_after = probe.samples[mark:]
            probe.stop()
            counts = d.get_json("/v1/status")["counts"]
            assert counts.get("queued") == n_ctl + n_curl, counts
        print(json.dumps({
            "genqctl_jobs": n_ctl, "genqctl_seconds": round(t_ctl, 3),
            "genqctl_jobs_per_s": round(n_ctl / t_ctl, 1),
            "curl_clients": args.curl_clients, "curl_jobs": n_curl,
            "curl_seconds": round(t_curl, 3), "curl_jobs_per_s": round(n_curl / t_curl, 1),
            "status_idle": latency(idle) if idle else None,
            "status_during_genqctl": latency(during_ctl),
            "status_during_curl": latency(during_curl),
            "status_idle_after": latency(idle_after),
        }))


if __name__ == "__main__":
    main()
