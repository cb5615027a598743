"""Faults (issue 7): the stand-in provider misbehaves in every way it can, the output file system
fills up, the state directory is unusable or taken. Every accepted job still ends correctly, the
limiter holds, nothing partial is left behind, and start-up problems end in a clear exit 1."""

import os
import resource
import signal
import sqlite3
import subprocess
import time

from genqtest import (FakeApi, Genqd, BIN_DIR, GENQD, assert_outputs_match, run_tests,
                      write_images)
from fakeapi import window_violations

FAKE_LIMITS = dict(limit=10, window=1, lockout=2, poll_interval=0.5)


def with_api_timeout(d, seconds):
    """The harness writes `timeout = 5` under [api]; a fault test wants it shorter."""
    text = d.config.read_text()
    assert "timeout = 5\n" in text
    d.config.write_text(text.replace("timeout = 5\n", "timeout = %s\n" % seconds, 1))


def retrying(fn, tries=20):
    """The stand-in's own control endpoints share its TLS fault rate: retry them."""
    import requests

    def call(*a, **kw):
        for i in range(tries):
            try:
                return fn(*a, **kw)
            except requests.exceptions.RequestException:
                if i == tries - 1:
                    raise
                time.sleep(0.05)
    return call


def no_partial_files(d):
    hidden = [p.name for p in d.output.iterdir() if p.name.startswith(".")]
    assert hidden == [], hidden


def test_fault_run(tmp):
    """6 % 5xx, 5 % dropped connections, 5 % truncated bodies, 5 % 429s, 5 % answers slower
    than genqd's timeout, 50 % failed TLS handshakes (connections are kept alive, so handshakes
    are few: about 15); 60 jobs on 2 keys all succeed. The run must meet every kind, whatever
    order the requests take the stand-in's one random stream in: about 7 of each in ~150
    requests (at 2 % a kind expected 3, so none now and then; at 20 % TLS had none in 2 runs of
    16)."""
    faults = dict(fault_5xx=0.06, fault_drop=0.05, fault_truncate=0.05, fault_429=0.05,
                  fault_slow=0.05, slow_seconds=2, fault_tls=0.5)
    with FakeApi(BIN_DIR, tmp / "api", keys=["test-key-0", "test-key-1"], gen_time=0.6,
                 gen_jitter=0.25, video_bytes=150000, seed=int(os.environ.get("GENQ_FAULT_SEED", 7)),
                 **faults, **FAKE_LIMITS) as api:
        api.stats = retrying(api.stats)
        api.generations = retrying(api.generations)
        d = Genqd(tmp / "d", api, keys={"main": 1, "second": 1}, start=False,
                  limits={"lockout": 0.5}, retry={"max_attempts": 12, "max_delay": 1})
        with_api_timeout(d, 1)
        d.start()
        try:
            ids = d.submit(write_images(tmp / "in", 60))
            assert len(ids) == 60
            jobs = d.wait_all(ids, timeout=150)
        finally:
            d.stop()
        bad = [(j["id"], j["state"], j["error"]) for j in jobs if j["state"] != "succeeded"]
        assert not bad, bad
        assert_outputs_match(api, jobs)
        assert len({j["output"] for j in jobs}) == 60
        no_partial_files(d)
        stats = api.stats()
        assert stats["rate_limited_real"] == 0, stats
        assert stats["early_polls"] == 0, stats
        assert window_violations(api.log_entries(), 10, 1.0) == {}
        injected = stats["faults"]
        for kind in ("5xx", "drop", "truncate", "429", "slow", "tls"):
            assert injected[kind] > 0, ("no %s fault was injected" % kind, stats)
        # A timed-out submission may have been accepted by the provider: at most one per slow
        # or dropped submission beyond the jobs themselves.
        assert stats["submits_accepted"] <= 60 + injected["slow"] + injected["drop"], stats
        print("faults injected: %s (requests %d, jobs 60, lost 0)"
              % (", ".join("%s=%d" % kv for kv in sorted(injected.items())), stats["requests"]))


# ---- the output file system fills up ---------------------------------------------------------
class FullDisk:
    """A real full output file system: a 1 MiB tmpfs when running as root (CI), else a file-size
    limit (RLIMIT_FSIZE, with SIGXFSZ ignored so write() fails with EFBIG) on genqd itself."""

    def __init__(self, d, size_bytes):
        self.d = d
        self.size = size_bytes
        self.tmpfs = False
        if os.geteuid() == 0:
            d.output.mkdir(parents=True, exist_ok=True)
            r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%d" % size_bytes, "genq-full",
                                str(d.output)], capture_output=True)
            self.tmpfs = r.returncode == 0

    def start(self):
        if self.tmpfs:
            self.d.start()
            return
        size = self.size

        def limit():
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (size, resource.RLIM_INFINITY))

        # Genqd.start with a pre-exec hook: the same code, the limit in place from the start.
        real_popen = subprocess.Popen

        def popen(*a, **kw):
            kw["preexec_fn"] = limit
            return real_popen(*a, **kw)

        subprocess.Popen = popen
        try:
            self.d.start()
        finally:
            subprocess.Popen = real_popen

    def free(self):
        if self.tmpfs:
            subprocess.run(["mount", "-o", "remount,size=64m", str(self.d.output)], check=True)
        else:
            resource.prlimit(self.d.proc.pid, resource.RLIMIT_FSIZE,
                             (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

    def close(self):
        if self.tmpfs:
            subprocess.run(["umount", "-l", str(self.d.output)])


def write_failures(d):
    """Failed result writes so far: while streaming (ENOSPC, or EFBIG under RLIMIT_FSIZE) or
    while saving a decoded result."""
    return sum(1 for line in d.log().splitlines()
               if "No space left on device" in line or "File too large" in line
               or "result not saved" in line)


def test_output_disk_full(tmp):
    with FakeApi(BIN_DIR, tmp / "api", keys=["test-key-0"], gen_time=0.2, video_bytes=3000000,
                 **FAKE_LIMITS) as api:
        d = Genqd(tmp / "d", api, start=False)
        disk = FullDisk(d, 1024 * 1024)
        try:
            disk.start()
            ids = d.submit(write_images(tmp / "in", 2))
            # The results (3 MB) cannot be written: the jobs wait (still running), retry, and
            # leave nothing partial behind.
            deadline = time.monotonic() + 20
            while write_failures(d) == 0:
                assert time.monotonic() < deadline, d.log()[-3000:]
                time.sleep(0.1)
            while write_failures(d) < 2:  # a few more attempts
                assert time.monotonic() < deadline, d.log()[-3000:]
                time.sleep(0.1)
            attempts = write_failures(d)
            jobs = [d.job(i) for i in ids]
            assert all(j["state"] == "running" for j in jobs), [(j["state"], j["error"])
                                                               for j in jobs]
            no_partial_files(d)
            assert [p for p in d.output.iterdir() if p.suffix == ".mp4"] == []
            # Space returns: the jobs succeed with the right bytes.
            disk.free()
            jobs = d.wait_all(ids, timeout=60)
            assert all(j["state"] == "succeeded" for j in jobs), [j["error"] for j in jobs]
            assert_outputs_match(api, jobs)
            no_partial_files(d)
            d.stop()
            print("disk full via %s: %d failed writes, then success"
                  % ("tmpfs" if disk.tmpfs else "RLIMIT_FSIZE", attempts))
        finally:
            d.stop()
            disk.close()


# ---- start-up refusals -----------------------------------------------------------------------
def run_genqd(d, timeout=15):
    r = subprocess.run([str(GENQD), "--config", str(d.config)], env=d.env, capture_output=True,
                       text=True, timeout=timeout)
    return r.returncode, r.stdout + r.stderr


def test_state_dir_unusable(tmp):
    # A file where the state directory should be (chmod 0555 means nothing to root).
    d = Genqd(tmp / "a", start=False)
    d.state.write_text("not a directory\n")
    code, out = run_genqd(d)
    assert code == 1, (code, out)
    assert str(d.state) in out, out

    # A read-only state directory: a read-only tmpfs as root, chmod 0555 otherwise.
    d = Genqd(tmp / "b", start=False)
    d.state.mkdir(parents=True)
    mounted = False
    if os.geteuid() == 0:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "genq-ro",
                                  str(d.state)], capture_output=True).returncode == 0
    else:
        os.chmod(d.state, 0o555)
    try:
        if mounted or os.geteuid() != 0:
            code, out = run_genqd(d)
            assert code == 1, (code, out)
            assert str(d.state) in out, out
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(d.state)])
        os.chmod(d.state, 0o755)


def test_corrupt_database(tmp):
    d = Genqd(tmp / "d", start=False)
    d.state.mkdir(parents=True)
    db = d.state / "genq.db"
    db.write_bytes(b"this is not an SQLite database at all\n" * 200)
    code, out = run_genqd(d)
    assert code == 1, (code, out)
    assert str(db) in out, out
    assert db.read_bytes().startswith(b"this is not"), "genqd overwrote the corrupt database"


def test_locked_database(tmp):
    # Another program holds an exclusive lock on the database: genqd says so and exits 1.
    d = Genqd(tmp / "d")
    d.stop()
    db = sqlite3.connect(str(d.state / "genq.db"), timeout=0, isolation_level=None)
    try:
        db.execute("PRAGMA locking_mode=EXCLUSIVE")
        db.execute("BEGIN EXCLUSIVE")
        code, out = run_genqd(d, timeout=60)
        assert code == 1, (code, out)
        assert str(d.state / "genq.db") in out, out
        assert "lock" in out.lower(), out
    finally:
        db.close()


def test_second_genqd_refuses(tmp):
    with FakeApi(BIN_DIR, tmp / "api", keys=["test-key-0"], gen_time=0.2, **FAKE_LIMITS) as api, \
            Genqd(tmp / "d", api) as d:
        # Same state directory, another socket: the state directory is what is shared.
        other = tmp / "other.toml"
        other.write_text(d.config.read_text().replace(d.socket, str(tmp / "other.sock")))
        r = subprocess.run([str(GENQD), "--config", str(other)], env=d.env, capture_output=True,
                           text=True, timeout=15)
        assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
        out = r.stdout + r.stderr
        assert "another genqd" in out and str(d.state) in out, out
        # The first one is unaffected.
        ids = d.submit(write_images(tmp / "in", 1))
        assert d.wait_all(ids)[0]["state"] == "succeeded"


if __name__ == "__main__":
    run_tests([test_fault_run, test_output_disk_full, test_state_dir_unusable,
               test_corrupt_database, test_locked_database, test_second_genqd_refuses])
