"""genqctl as people expect it (SPEC §6, issue 13): global options anywhere, --version and help,
id prefixes in either case, all-or-nothing submit and --skip-bad, idempotency keys (also across a
restart of genqd and on the wrapper API), wait --timeout exiting 4, one JSON document per command,
unknown --kind refused, unmatched globs named, and the terminal-only behaviour (live progress,
colour, NO_COLOR) under a real pseudo-terminal."""

import json
import os
import fcntl
import pty
import re
import select
import shutil
import socket
import struct
import subprocess
import tempfile
import termios
import time
from pathlib import Path

from genqtest import BIN_DIR, FakeApi, Genqd, run_tests, write_images

FAKE = dict(limit=50, window=1, lockout=2, poll_interval=0.2)
GENQCTL = str(BIN_DIR / "genqctl")
CONTRIB = Path(__file__).resolve().parents[2] / "contrib"


def bad_file(path):
    path.write_bytes(b"this is not an image\n")
    return path


def count_jobs(d):
    return len(d.get_json("/v1/jobs?limit=1000")["jobs"])


def test_global_options_version_help(tmp):
    r = subprocess.run([GENQCTL, "--version"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and r.stdout.startswith("genqctl "), r
    r = subprocess.run([GENQCTL, "help", "submit"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and "--idempotency-key" in r.stdout and "--skip-bad" in r.stdout, r
    r = subprocess.run([GENQCTL, "help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and "wait" in r.stdout and "submit" in r.stdout, r
    r = subprocess.run([GENQCTL, "help", "frobnicate"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "frobnicate" in r.stderr, r
    with Genqd(tmp / "d", None) as d:
        # --socket and --json after the command, before it, or around it.
        after = subprocess.run([GENQCTL, "status", "--json", "--socket", d.socket],
                               capture_output=True, text=True, timeout=10, env=d.env)
        assert after.returncode == 0 and json.loads(after.stdout)["counts"] is not None, after
        mixed = subprocess.run([GENQCTL, "--socket", d.socket, "list", "--json"],
                               capture_output=True, text=True, timeout=10, env=d.env)
        assert mixed.returncode == 0 and json.loads(mixed.stdout)["jobs"] == [], mixed


def test_prefixes_in_either_case(tmp):
    with Genqd(tmp / "d", None) as d:
        d.ctl("pause", check=0)  # the jobs stay queued: no provider needed
        ids = d.submit(write_images(tmp / "in", 2))
        a, b = ids
        common = os.path.commonprefix([a, b])
        # A unique prefix (upper case) resolves, for reads and for actions.
        pre = a[:len(common) + 1].upper()
        j = json.loads(d.ctl("--json", "status", pre, check=0).stdout)
        assert j["id"] == a, (pre, j)
        assert json.loads(d.ctl("--json", "events", pre, check=0).stdout)["job"] == a
        r = d.ctl("cancel", pre, check=0)
        assert r.stdout.split() == [a, "canceled"], r.stdout
        # Ambiguous: 1 and both candidates named; unknown: 1 and said so.
        if common:
            r = d.ctl("status", common)
            assert r.returncode == 1 and "ambiguous" in r.stderr and a in r.stderr, r.stderr
        r = d.ctl("status", "zzzz")
        assert r.returncode == 1 and "no job zzzz" in r.stderr, r.stderr
        status, body = d.request("GET", "/v1/jobs/zzzz")
        assert status == 404 and json.loads(body)["code"] == "not_found"
        if common:
            status, body = d.request("GET", "/v1/jobs/" + common)
            assert status == 409 and "ambiguous" in json.loads(body)["error"]


def test_submit_all_or_nothing_and_skip_bad(tmp):
    with Genqd(tmp / "d", None) as d:
        d.ctl("pause", check=0)
        good = write_images(tmp / "in", 2)
        bad = bad_file(tmp / "in" / "broken.png")
        r = d.ctl("submit", str(good[0]), str(bad), str(good[1]))
        assert r.returncode == 1 and r.stdout == "", r
        assert "broken.png" in r.stderr and "nothing queued" in r.stderr, r.stderr
        assert count_jobs(d) == 0
        # A missing file is refused before anything is sent; an unmatched pattern is named.
        r = d.ctl("submit", str(good[0]), str(tmp / "nope.png"), str(tmp / "in" / "*.webp"))
        assert r.returncode == 1 and "nope.png" in r.stderr, r.stderr
        assert "*.webp: no file matches this pattern" in r.stderr, r.stderr
        assert count_jobs(d) == 0
        # More files than one request carries (16): still all or nothing.
        many = write_images(tmp / "many", 20, width=1024, height=576)
        r = d.ctl("submit", *[str(p) for p in many], str(bad))
        assert r.returncode == 1 and "broken.png" in r.stderr and count_jobs(d) == 0, r
        # --skip-bad: the good ones are queued, every line pairs a file with its id or error.
        r = d.ctl("submit", "--skip-bad", str(good[0]), str(bad), str(good[1]))
        assert r.returncode == 0, r
        lines = [l.split("\t") for l in r.stdout.splitlines()]
        assert [l[0] for l in lines] == [str(good[0]), str(bad), str(good[1])], lines
        assert lines[1][1].startswith("error: ") and d.job(lines[0][1])["state"] == "queued"
        assert count_jobs(d) == 2
        r = d.ctl("--json", "submit", "--skip-bad", str(bad), str(good[0]))
        out = json.loads(r.stdout)
        assert out[0]["file"] == str(bad) and out[0]["error"] and out[1]["id"], out
        # All good: ids only, one per line.
        r = d.ctl("submit", *[str(p) for p in many], check=0)
        assert len(r.stdout.split()) == 20 and count_jobs(d) == 23


def multipart(fields, files):
    boundary = "b0undary%d" % time.monotonic_ns()
    out = b""
    for k, v in fields.items():
        out += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n"
                % (boundary, k, v)).encode()
    for k, (name, data) in files.items():
        out += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                "Content-Type: image/png\r\n\r\n" % (boundary, k, name)).encode() + data + b"\r\n"
    out += ("--%s--\r\n" % boundary).encode()
    return out, "multipart/form-data; boundary=" + boundary


def test_idempotency_keys(tmp):
    with Genqd(tmp / "d", None) as d:
        d.ctl("pause", check=0)
        imgs = write_images(tmp / "in", 2)
        first = d.ctl("submit", "--idempotency-key", "run-1", str(imgs[0]), check=0).stdout.split()
        again = d.ctl("submit", "--idempotency-key", "run-1", str(imgs[0]), check=0).stdout.split()
        assert first == again and len(first) == 1 and count_jobs(d) == 1, (first, again)
        r = d.ctl("submit", "--idempotency-key", "run-1", str(imgs[1]))
        assert r.returncode == 1 and "different request" in r.stderr and count_jobs(d) == 1, r
        # POST /v1/jobs: 201 first, 200 with the same job after, 409 for another body.
        body, ct = multipart({"seed": "5"}, {"image": ("a.png", imgs[0].read_bytes())})
        h = {"Content-Type": ct, "Idempotency-Key": "raw-1"}
        s1, b1 = d.request("POST", "/v1/jobs", body, h)
        body2, ct2 = multipart({"seed": "5"}, {"image": ("a.png", imgs[0].read_bytes())})
        s2, b2 = d.request("POST", "/v1/jobs", body2, dict(h, **{"Content-Type": ct2}))
        assert (s1, s2) == (201, 200) and json.loads(b1)["id"] == json.loads(b2)["id"], (s1, s2)
        body3, ct3 = multipart({"seed": "6"}, {"image": ("a.png", imgs[0].read_bytes())})
        s3, b3 = d.request("POST", "/v1/jobs", body3, dict(h, **{"Content-Type": ct3}))
        assert s3 == 409 and json.loads(b3)["code"] == "conflict", (s3, b3)
        # The wrapper API honours the header too.
        wb, wct = multipart({}, {"image": ("w.png", imgs[1].read_bytes())})
        wh = {"Content-Type": wct, "Idempotency-Key": "wrap-1"}
        w1 = json.loads(d.request("POST", "/api/img2video", wb, wh)[1])
        w2 = json.loads(d.request("POST", "/api/img2video", wb, wh)[1])
        assert w1["success"] and w1["id"] == w2["id"], (w1, w2)
        n = count_jobs(d)
        # Across a restart: the keys are in the database.
        d.stop()
        d.start()
        again = d.ctl("submit", "--idempotency-key", "run-1", str(imgs[0]), check=0).stdout.split()
        assert again == first and count_jobs(d) == n, (again, first)
        s4, b4 = d.request("POST", "/v1/jobs", body, h)
        assert s4 == 200 and json.loads(b4)["id"] == json.loads(b1)["id"]


def test_wait_timeout_and_json_documents(tmp):
    with FakeApi(BIN_DIR, tmp / "api", gen_time=0.2, **FAKE) as api, Genqd(tmp / "d", api) as d:
        img = write_images(tmp / "in", 1)[0]
        d.ctl("pause", check=0)
        held = d.submit([img])[0]
        t0 = time.monotonic()
        r = d.ctl("wait", held, "--timeout", "1")
        assert r.returncode == 4 and "timed out" in r.stderr and "1 queued" in r.stdout, r
        assert time.monotonic() - t0 < 10
        r = d.ctl("wait", held[:20], "--timeout", "1", "--json")
        assert r.returncode == 4 and json.loads(r.stdout)[0]["id"] == held, r
        # pause/resume/reload: one document each.
        assert json.loads(d.ctl("resume", "--json", check=0).stdout)["paused"] is False
        assert json.loads(d.ctl("pause", "--json", check=0).stdout)["paused"] is True
        assert json.loads(d.ctl("reload", "--json", check=0).stdout) == {"reloaded": True}
        d.ctl("resume", check=0)
        # submit --wait --json: one array, each entry with the job's final state.
        r = d.ctl("submit", str(img), "--seed", "9", "--wait", "--timeout", "60", "--json")
        assert r.returncode == 0, r
        out = json.loads(r.stdout)
        assert len(out) == 1 and out[0]["job"]["state"] == "succeeded", out
        # output --json: the file written and its size.
        jid = out[0]["id"]
        o = json.loads(d.ctl("output", jid, "-o", str(tmp / "o.mp4"), "--json", check=0).stdout)
        assert o["file"] == str(tmp / "o.mp4") and o["bytes"] == (tmp / "o.mp4").stat().st_size
        # Unknown --kind is refused like an unknown --state.
        r = d.ctl("list", "--kind", "vidoe")
        assert r.returncode == 1 and "unknown kind" in r.stderr and "video" in r.stderr, r.stderr
        r = d.ctl("list", "--state", "done")
        assert r.returncode == 1 and "unknown state" in r.stderr, r.stderr
        # 405 with Allow for a wrong method; Content-Disposition on the download.
        status, _ = d.request("DELETE", "/v1/status")
        assert status == 405
        r = subprocess.run(["curl", "-sS", "-D", "-", "-o", "/dev/null", "--unix-socket",
                            d.socket, "http://localhost/v1/jobs/%s/output" % jid],
                           capture_output=True, text=True, timeout=30)
        assert "content-disposition: attachment; filename=" in r.stdout.lower(), r.stdout
        r = subprocess.run(["curl", "-sS", "-D", "-", "-o", "/dev/null", "-X", "PUT",
                            "--unix-socket", d.socket, "http://localhost/v1/status"],
                           capture_output=True, text=True, timeout=30)
        assert "allow: get" in r.stdout.lower(), r.stdout


def run_in_pty(args, env, timeout=60, cols=200):
    """Runs a program on a pseudo-terminal; returns (exit code, everything it wrote)."""
    pid, fd = pty.fork()
    if pid == 0:  # a 200-column terminal, set before the program looks
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 50, cols, 0, 0))
        os.execve(args[0], args, env)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")


def test_terminal_progress_and_colour(tmp):
    with FakeApi(BIN_DIR, tmp / "api", gen_time=2.5, **FAKE) as api, Genqd(tmp / "d", api) as d:
        imgs = write_images(tmp / "in", 2)
        ids = d.submit(imgs)
        env = dict(d.env, TERM="xterm")
        env.pop("NO_COLOR", None)
        rc, out = run_in_pty([GENQCTL, "--socket", d.socket, "wait", *ids, "--timeout", "60"], env)
        assert rc == 0, out
        assert "\033[32msucceeded\033[0m" in out, out          # coloured on a terminal
        assert "[" + "#" * 30 + "] 2/2 done" in out, out       # the batch's bar, full at the end
        assert out.count("/2 done") >= 2, out                  # redrawn while the jobs ran
        assert "2 succeeded (2 jobs," in out, out               # the summary line
        assert "polls " in out
        # NO_COLOR: the same view without colour.
        rc, out = run_in_pty([GENQCTL, "--socket", d.socket, "list"], dict(env, NO_COLOR="1"))
        assert rc == 0 and "\033[" not in out and "succeeded" in out, out
        rc, out = run_in_pty([GENQCTL, "--socket", d.socket, "list"], env)
        assert "\033[32msucceeded" in out, out
        # Not a terminal: no colour, no escape codes at all.
        r = d.ctl("list", check=0)
        assert "\033" not in r.stdout
        # Local time with its zone; a queued job says why it waits.
        d.ctl("pause", check=0)
        held = d.submit([imgs[0]])[0]
        r = subprocess.run([GENQCTL, "--socket", d.socket, "list"], capture_output=True,
                           text=True, env=dict(d.env, TZ="UTC"), timeout=30)
        assert " UTC " in r.stdout and "waiting: submissions paused" in r.stdout, r.stdout
        r = d.ctl("status", held, check=0)
        assert "submissions paused" in r.stdout, r.stdout
        d.ctl("cancel", held, check=0)
        d.ctl("resume", check=0)  # (a global resume also resumes every key)
        d.ctl("pause", "--key", "main", check=0)
        held = d.submit([imgs[1]])[0]
        r = d.ctl("status", held, check=0)
        assert "no usable key (main paused)" in r.stdout, r.stdout


def test_path_keeps_its_file_name(tmp):
    with FakeApi(BIN_DIR, tmp / "api", gen_time=0.1, **FAKE) as api, Genqd(tmp / "d", api) as d:
        img = write_images(tmp / "in", 1, prefix="x" * 40 + "the-file-name")[0]
        jid = d.submit([img])[0]
        d.ctl("wait", jid, "--timeout", "60", check=0)
        output = d.job(jid)["output"]
        rc, out = run_in_pty([GENQCTL, "--socket", d.socket, "list"], d.env, cols=130)
        line = [l for l in out.splitlines() if jid in l][0].rstrip()
        assert len(output) > 60 and line.endswith("the-file-name000.mp4"), (output, out)
        assert "~" in line and output not in line, line  # cut from the left


class Sse:
    """A raw subscriber of /v1/events: connected (its hello read) when constructed."""

    def __init__(self, d, last_event_id=None, timeout=30):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(d.socket)
        extra = "Last-Event-ID: %s\r\n" % last_event_id if last_event_id else ""
        self.sock.sendall(("GET /v1/events HTTP/1.1\r\nHost: x\r\n%s\r\n" % extra).encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:  # the response header
            chunk = self.sock.recv(65536)
            assert chunk, "no answer"
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 200") and b"chunked" not in head.lower(), head
        assert self.next()[1] == "hello"

    def next(self):
        """The next event: (id, name, data)."""
        while True:
            while b"\n\n" in self.buf:
                frame, self.buf = self.buf.split(b"\n\n", 1)
                fields = {}
                for line in frame.decode().splitlines():
                    if ":" in line and not line.startswith(":"):
                        k, v = line.split(":", 1)
                        fields[k] = v.strip()
                if "event" in fields:
                    return fields.get("id"), fields["event"], json.loads(fields.get("data", "{}"))
            chunk = self.sock.recv(65536)
            assert chunk, "stream ended"
            self.buf += chunk

    def close(self):
        self.sock.close()


def test_sse_ids_and_resume(tmp):
    with Genqd(tmp / "d", None) as d:
        d.ctl("pause", check=0)
        ids = d.submit(write_images(tmp / "in", 2))
        live = Sse(d)
        d.ctl("cancel", ids[0], check=0)
        d.ctl("cancel", ids[1], check=0)
        got = [live.next(), live.next()]
        live.close()
        assert [g[2]["id"] for g in got] == ids and all(g[2]["state"] == "canceled" for g in got)
        assert all(g[0] and "-" in g[0] for g in got), got
        # Reconnecting with the first one's id: the second is replayed after the hello.
        resumed = Sse(d, last_event_id=got[0][0])
        again = resumed.next()
        resumed.close()
        assert again[0] == got[1][0] and again[2]["id"] == ids[1], (again, got)


def test_operations(tmp):
    # --check-config with no file says so.
    # (as an unprivileged user when run as root: root reads /etc/genq/genq.toml, which a machine
    # may have)
    home = Path(tempfile.mkdtemp(prefix="genq-home-"))
    os.chmod(home, 0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENQ_")}
    env.pop("INVOCATION_ID", None)
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / "xdg"), STABILITY_API_KEY="sk-test")
    as_user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] \
        if os.geteuid() == 0 else []
    r = subprocess.run(as_user + [str(BIN_DIR / "genqd"), "--check-config"], capture_output=True,
                       text=True, env=env, timeout=30)
    shutil.rmtree(home, ignore_errors=True)
    assert r.returncode == 0 and "no configuration file (looked for " in r.stdout, r
    assert "; defaults" in r.stdout, r
    with Genqd(tmp / "d", None) as d:
        # Every series exists at 0 from the start.
        metrics = d.request("GET", "/metrics")[1].decode()
        for series in ('genq_provider_rate_limited_total{key="main"} 0',
                       'genq_key_lockouts_total{key="main"} 0',
                       'genq_provider_requests_total{key="main",class="5xx"} 0',
                       'genq_jobs{state="failed"} 0', 'genq_jobs{state="running"} 0'):
            assert series in metrics, (series, metrics)
        # The contrib files: alert rules and the metrics pass promtool; the dashboard's queries
        # name only series genqd exports.
        promtool = shutil.which("promtool")
        assert promtool, "promtool missing (scripts/deps.sh installs Debian's prometheus)"
        r = subprocess.run([promtool, "check", "rules", str(CONTRIB / "prometheus" / "genq-alerts.yml")],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and "SUCCESS" in r.stdout, r
        r = subprocess.run([promtool, "check", "metrics"], input=metrics, capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, r
        dash = json.loads((CONTRIB / "grafana" / "genq-dashboard.json").read_text())
        exported = set(re.findall(r"^(genq_[a-z_]+)", metrics, re.M))
        for p in dash["panels"]:
            for t in p["targets"]:
                for name in re.findall(r"genq_[a-z_]+", t["expr"]):
                    assert name in exported, (name, p["title"])
        # A reload that changes a restart-only key says so and keeps the running value.
        with open(d.config, "a") as f:
            f.write('[http]\nlisten = "127.0.0.1:29999"\n')
        assert json.loads(d.ctl("reload", "--json", check=0).stdout) == {"reloaded": True}
        assert "[http] listen changed" in d.log() and "needs a restart" in d.log(), d.log()


if __name__ == "__main__":
    run_tests([test_global_options_version_help, test_prefixes_in_either_case,
               test_submit_all_or_nothing_and_skip_bad, test_idempotency_keys,
               test_wait_timeout_and_json_documents, test_terminal_progress_and_colour,
               test_path_keeps_its_file_name, test_sse_ids_and_resume,
               test_operations])
