"""Drives genq-fakeapi, the HTTPS stand-in for the Stability AI API, from integration tests.

    with FakeApi(bin_dir, workdir, keys=["k0", "k1"], gen_time=0.5, fault_5xx=0.1) as api:
        requests.post(api.base_url + "/v2beta/image-to-video", ..., verify=api.ca_file)
        api.stats(); api.generations(); api.log_entries()

Keyword options map to flags: gen_time=0.5 -> --gen-time 0.5, lists are comma-joined.
"""

import bisect
import collections
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import requests

SOURCE_DIR = Path(os.environ.get("GENQ_SOURCE_DIR", Path(__file__).resolve().parents[2]))
MAKE_CERTS = SOURCE_DIR / "tests" / "fakeapi" / "make_certs.sh"


def _flags(options):
    out = []
    for name, value in options.items():
        if value is None or value is False:
            continue
        if value is True:  # a flag without a value
            out.append("--" + name.replace("_", "-"))
            continue
        if isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        out += ["--" + name.replace("_", "-"), str(value)]
    return out


class FakeApi:
    def __init__(self, bin_dir, workdir, keys=("test-key-0",), start_timeout=15, **options):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.keys = list(keys)
        certs = self.workdir / "certs"
        subprocess.run(["bash", str(MAKE_CERTS), str(certs)], check=True)
        self.ca_file = str(certs / "ca.pem")
        self.port_file = self.workdir / "fakeapi.port"
        self.log_file = self.workdir / "fakeapi.log.jsonl"
        self.output_file = self.workdir / "fakeapi.out"
        for stale in (self.port_file, self.log_file):
            stale.unlink(missing_ok=True)
        cmd = [str(Path(bin_dir) / "tests" / "genq-fakeapi"), "--listen", "127.0.0.1:0",
               "--cert", str(certs / "server.pem"), "--key", str(certs / "server.key"),
               "--port-file", str(self.port_file), "--log", str(self.log_file),
               "--keys", ",".join(self.keys)] + _flags(options)
        with open(self.output_file, "wb") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        self.port = self._wait_for_port(start_timeout)
        self.base_url = "https://127.0.0.1:%d" % self.port

    def _wait_for_port(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.port_file.exists():
                text = self.port_file.read_text()
                if text.endswith("\n"):
                    return int(text)
            if self.proc.poll() is not None:
                raise RuntimeError("genq-fakeapi exited with %s: %s"
                                   % (self.proc.returncode, self.output_file.read_text()))
            time.sleep(0.02)
        self.proc.kill()
        raise RuntimeError("genq-fakeapi did not write its port file")

    def url(self, path):
        return self.base_url + path

    def session(self):
        """A requests session that trusts the stand-in's CA (never verify=False)."""
        s = requests.Session()
        s.verify = self.ca_file
        # REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE would override s.verify; proxies must not apply either.
        s.trust_env = False
        return s

    def _control(self, method, path):
        r = requests.request(method, self.url(path), verify=self.ca_file, timeout=10)
        r.raise_for_status()
        return r.json()

    def stats(self):
        return self._control("GET", "/__stats")

    def generations(self):
        return self._control("GET", "/__generations")

    def reset(self):
        return self._control("POST", "/__reset")

    def log_entries(self):
        if not self.log_file.exists():
            return []
        with open(self.log_file) as f:
            # Whole lines only: the stand-in may be writing the last one while this reads.
            return [json.loads(line) for line in f if line.endswith("\n") and line.strip()]

    def stop(self, timeout=10):
        """SIGTERM, wait; returns the exit code (0 on a clean stop)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def max_per_window(entries, window):
    """{key index: the most requests of that key in any sliding window of `window` seconds},
    from the log's arrival times; a window holds the requests in (t - window, t]."""
    times = collections.defaultdict(list)
    for e in entries:
        if e.get("key") is not None:
            times[e["key"]].append(e["t"])
    result = {}
    for key, ts in times.items():
        ts.sort()
        result[key] = max(i + 1 - bisect.bisect_right(ts, t - window) for i, t in enumerate(ts))
    return result


def window_violations(entries, limit, window):
    """{key index: max requests in a window} for the keys that went over `limit`; {} if none."""
    return {k: n for k, n in max_per_window(entries, window).items() if n > limit}
