"""Harness for integration tests: a real genqd process (its own state directory, config,
control socket), genqctl, and a tiny test runner that prints 'N passed, N failed'.

    with FakeApi(...) as api, Genqd(tmp, api) as d:
        ids = d.submit(paths)
        d.ctl("wait", *ids)
"""

import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import zlib
from pathlib import Path

from fakeapi import FakeApi  # noqa: F401  (re-exported for tests)

BIN_DIR = Path(os.environ.get("GENQ_BIN_DIR", Path(__file__).resolve().parents[2] / "build"))
GENQD = BIN_DIR / "genqd"
GENQCTL = BIN_DIR / "genqctl"

KEY_TEXTS = {"main": "test-key-0", "second": "test-key-1", "third": "test-key-2"}


def free_port():
    """A loopback TCP port that is free now. Only a guess: another process (a connection of
    another test, say) may take it before genqd binds it; genqd_on_free_port tries again then."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_taken(log_text):
    """Whether genqd's output says its TCP listener's port was in use."""
    return "cannot listen on" in log_text and "Address already in use" in log_text


class PortTaken(RuntimeError):
    """genqd could not listen on the port free_port() found free: it was taken in between."""


def genqd_on_free_port(make, tries=5):
    """make(port) starts a Genqd listening on the port; returns it, the port in .listen_port.
    A port taken between free_port() and genqd's bind is not the test's failure: another one is
    tried."""
    for _ in range(tries):
        port = free_port()
        try:
            d = make(port)
        except PortTaken:
            continue
        d.listen_port = port
        return d
    raise RuntimeError("no free port for genqd after %d tries" % tries)


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, dict):
        return "{ " + ", ".join("%s = %s" % (k, toml_value(x)) for k, x in v.items()) + " }"
    return json.dumps(str(v))


class Genqd:
    """One genqd under test. keys: {name: weight}; their secrets come from the environment."""

    def __init__(self, workdir, api=None, keys=None, limits=None, retry=None, extra="",
                 watches=(), env=None, start=True, base_url=None, top=""):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.state = self.dir / "state"
        self.output = self.dir / "output"
        self.socket = str(self.dir / "genq.sock")
        self.config = self.dir / "genq.toml"
        self.log_path = self.dir / "genqd.log"
        self.keys = keys or {"main": 1}
        self.env = dict(os.environ)
        for name in self.keys:
            self.env["GENQ_TEST_KEY_" + name.upper()] = KEY_TEXTS[name]
        self.env.pop("GENQ_SOCKET", None)
        self.env.pop("GENQ_CONFIG", None)
        self.env.update(env or {})
        lim = {"requests_per_window": 10, "window": 1, "safety_margin": 0.25,
               "poll_interval": 0.5, "lockout": 2}
        lim.update(limits or {})
        ret = {"max_attempts": 4, "base_delay": 0.05, "max_delay": 0.5}
        ret.update(retry or {})
        lines = [
            'state_dir = %s' % toml_value(self.state),
            'output_dir = %s' % toml_value(self.output),
            'socket = %s' % toml_value(self.socket),
            'log_level = "debug"',
            top,  # top-level keys (before the first table)
            "[api]",
            "base_url = %s" % toml_value(base_url or (api.base_url if api else "https://127.0.0.1:9")),
            "ca_file = %s" % toml_value(api.ca_file if api else ""),
            "timeout = 5",
        ]
        for name, weight in self.keys.items():
            lines += ["[[keys]]", "name = %s" % toml_value(name),
                      'env = "GENQ_TEST_KEY_%s"' % name.upper(), "weight = %s" % toml_value(weight)]
        lines.append("[limits]")
        lines += ["%s = %s" % (k, toml_value(v)) for k, v in lim.items()]
        lines.append("[retry]")
        lines += ["%s = %s" % (k, toml_value(v)) for k, v in ret.items()]
        for w in watches:
            lines.append("[[watch]]")
            lines += ["%s = %s" % (k, toml_value(v)) for k, v in w.items()]
        lines.append(extra)
        self.config.write_text("\n".join(lines) + "\n")
        self.proc = None
        if start:
            self.start()

    # ---- process ---------------------------------------------------------------------------
    def start(self, timeout=20):
        logged = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.logf = open(self.log_path, "ab")
        # GENQ_TEST_WRAP runs genqd under a tool, e.g. "gdb -batch -ex run -ex bt --args".
        wrap = os.environ.get("GENQ_TEST_WRAP", "").split()
        self.proc = subprocess.Popen(wrap + [str(GENQD), "--config", str(self.config)], env=self.env,
                                     stdout=self.logf, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.logf.close()
                if port_taken(self.log_path.read_bytes()[logged:].decode(errors="replace")):
                    raise PortTaken(self.log())
                raise RuntimeError("genqd exited with %s:\n%s" % (self.proc.returncode, self.log()))
            try:
                status, _ = self.request("GET", "/v1/status", timeout=2)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("genqd did not answer on its socket:\n" + self.log())

    def kill(self, sig=signal.SIGKILL):
        self.proc.send_signal(sig)
        self.proc.wait(20)
        self.logf.close()
        return self.proc.returncode

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise
        return self.proc.returncode if self.proc else None

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # ---- talking to it -------------------------------------------------------------------
    def request(self, method, path, body=None, headers=None, timeout=30):
        conn = UnixHTTPConnection(self.socket, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def get_json(self, path):
        status, body = self.request("GET", path)
        assert status == 200, (path, status, body)
        return json.loads(body)

    def job(self, job_id):
        return self.get_json("/v1/jobs/" + job_id)

    def ctl(self, *args, check=None, timeout=120, input=None):
        r = subprocess.run([str(GENQCTL), "--socket", self.socket] + list(args), env=self.env,
                           capture_output=True, text=True, timeout=timeout, input=input)
        if check is not None:
            assert r.returncode == check, "genqctl %s -> %d\nstdout: %s\nstderr: %s" % (
                " ".join(args), r.returncode, r.stdout, r.stderr)
        return r

    def submit(self, paths, *options):
        r = self.ctl("submit", *[str(p) for p in paths], *options, check=0)
        return r.stdout.split()

    def wait_all(self, ids, timeout=120):
        """Polls the jobs (not genqctl) until each is final; returns them."""
        deadline = time.monotonic() + timeout
        while True:
            jobs = [self.job(i) for i in ids]
            if all(j["state"] in ("succeeded", "failed", "canceled") for j in jobs):
                return jobs
            if time.monotonic() > deadline:
                raise AssertionError("jobs not final: %s" % [(j["id"], j["state"]) for j in jobs
                                                            if j["state"] not in
                                                            ("succeeded", "failed", "canceled")])
            time.sleep(0.1)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def write_images(directory, count, width=1024, height=576, prefix="img"):
    from images import make_png
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        p = directory / ("%s%03d.png" % (prefix, i))
        # The prefix is written into the file: images of different prefixes never share content
        # (Python's hash() of a string changes per process, so it once made two of them equal).
        seed = i + zlib.crc32(prefix.encode()) % 1000
        p.write_bytes(make_png(width, height, seed=seed, label=prefix + ":"))
        paths.append(p)
    return paths


def assert_outputs_match(api, jobs):
    """Every succeeded job's output equals what the stand-in served for its generation."""
    gens = api.generations()
    for j in jobs:
        if j["state"] != "succeeded":
            continue
        g = gens[j["remote_id"]] if j["remote_id"] else None
        assert g is not None, "no generation %s for job %s" % (j["remote_id"], j["id"])
        assert sha256_file(j["output"]) == g["sha256"], "output of %s differs" % j["id"]
        assert Path(j["output"] + ".json").exists(), "no metadata beside " + j["output"]


def run_tests(tests):
    """Runs each test function with a fresh temporary directory; prints a closing line."""
    passed = failed = 0
    only = sys.argv[1:]
    for t in tests:
        if only and t.__name__ not in only:
            continue
        tmp = tempfile.mkdtemp(prefix="genq-it-")
        start = time.monotonic()
        try:
            t(Path(tmp))
            passed += 1
            print("PASS %s (%.1f s)" % (t.__name__, time.monotonic() - start), flush=True)
            shutil.rmtree(tmp, ignore_errors=True)
        except Exception:  # noqa: BLE001 - report every failure and go on
            failed += 1
            print("FAIL %s (%.1f s)\n%s\n(kept %s)" % (t.__name__, time.monotonic() - start,
                                                     traceback.format_exc(), tmp), flush=True)
            for log in Path(tmp).rglob("genqd.log"):
                print("---- %s (last 60 lines)" % log)
                print("\n".join(log.read_text(errors="replace").splitlines()[-60:]))
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)
