"""The control plane (SPEC §6) with real clients: curl over the Unix socket for every endpoint,
genqctl for every command (tables, --json, exit codes), an SSE subscriber across a job's life,
and the server's robustness (limits, timeouts, malformed and vanishing clients, many
connections)."""

import json
import os
import socket
import stat
import subprocess
import threading
import time

from genqtest import BIN_DIR, FakeApi, Genqd, run_tests, write_images

FAKE = dict(limit=50, window=1, lockout=2, poll_interval=0.2)
FINAL = ("succeeded", "failed", "canceled")


def curl(d, *args, method=None):
    """curl over the control socket: (status, body bytes)."""
    cmd = ["curl", "-sS", "--unix-socket", d.socket, "-o", "-", "-w", "\n%{http_code}"]
    if method:
        cmd += ["-X", method]
    r = subprocess.run(cmd + list(args), capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    body, _, code = r.stdout.rpartition(b"\n")
    return int(code), body


def curl_json(d, *args, method=None):
    status, body = curl(d, *args, method=method)
    return status, json.loads(body)


def url(path):
    return "http://localhost" + path


def wait_state(d, job_id, states, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        j = d.job(job_id)
        if j["state"] in states:
            return j
        time.sleep(0.05)
    raise AssertionError("job %s stayed %s" % (job_id, d.job(job_id)["state"]))


class SseClient:
    """Reads GET /v1/events on the control socket in a thread; .events holds (name, data)."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.sock.sendall(b"GET /v1/events HTTP/1.1\r\nHost: x\r\n"
                          b"Accept: text/event-stream\r\n\r\n")
        self.events = []
        self.header = b""
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        buf = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            if not self.header:
                if b"\r\n\r\n" not in buf:
                    continue
                self.header, buf = buf.split(b"\r\n\r\n", 1)
            while b"\n\n" in buf:
                frame, buf = buf.split(b"\n\n", 1)
                name, data = "message", []
                for line in frame.decode().split("\n"):
                    if line.startswith("event: "):
                        name = line[7:]
                    elif line.startswith("data: "):
                        data.append(line[6:])
                if data:
                    self.events.append((name, "\n".join(data)))

    def jobs(self, job_id):
        out = []
        for name, data in list(self.events):
            if name == "job":
                j = json.loads(data)
                if j["id"] == job_id:
                    out.append(j)
        return out

    def close(self):
        self.sock.close()


# ---- every endpoint with curl ------------------------------------------------------------------

def test_curl_every_endpoint(tmp):
    with FakeApi(BIN_DIR, tmp / "api", gen_time=0.3, video_bytes=200000, **FAKE) as api, \
            Genqd(tmp / "d", api) as d:
        assert stat.S_IMODE(os.stat(d.socket).st_mode) == 0o660
        img = write_images(tmp / "in", 2)
        status, job = curl_json(d, "-F", "image=@%s" % img[0], "-F", "seed=42",
                                "-F", "priority=5", url("/v1/jobs"))
        assert status == 201, job
        assert job["state"] == "queued" and job["priority"] == 5 and job["source"] == "socket"
        assert job["uid"] == os.getuid(), job  # SO_PEERCRED
        assert job["params"]["seed"] == 42 and job["input"]["name"] == "img000.png"
        jid = job["id"]
        d.wait_all([jid])
        status, got = curl_json(d, url("/v1/jobs/" + jid))
        assert status == 200 and got["state"] == "succeeded" and got["seed"] is not None
        status, ev = curl_json(d, url("/v1/jobs/%s/events" % jid))
        assert [e["to"] for e in ev["events"]] == ["queued", "submitting", "running", "succeeded"]
        assert ev["events"][0]["from"] is None
        status, body = curl(d, url("/v1/jobs/%s/output" % jid))
        assert status == 200 and body == open(got["output"], "rb").read()
        status, listing = curl_json(d, url("/v1/jobs?state=succeeded&limit=5"))
        assert status == 200 and [j["id"] for j in listing["jobs"]] == [jid]
        status, err = curl_json(d, url("/v1/jobs/%s/cancel" % jid), method="POST")
        assert status == 409 and err["code"] == "conflict", err
        status, err = curl_json(d, url("/v1/jobs/%s/retry" % jid), method="POST")
        assert status == 409 and err["code"] == "conflict", err
        status, err = curl_json(d, url("/v1/jobs/nosuchjob"))
        assert status == 404 and err["code"] == "not_found" and err["error"], err
        status, s = curl_json(d, url("/v1/pause"), method="POST")
        assert status == 200 and s["paused"] is True
        status, s = curl_json(d, url("/v1/resume"), method="POST")
        assert status == 200 and s["paused"] is False
        status, s = curl_json(d, url("/v1/status"))
        assert s["counts"]["succeeded"] == 1 and s["keys"][0]["name"] == "main", s
        assert {"version", "uptime_s", "counts", "keys", "budget"} <= set(s)
        key = s["keys"][0]
        assert {"state", "locked_until", "requests_in_window", "in_flight"} <= set(key), key
        status, r = curl_json(d, url("/v1/reload"), method="POST")
        assert status == 200 and r == {"reloaded": True}
        status, body = curl(d, url("/metrics"))
        assert status == 200 and b'genq_jobs{state="succeeded"} 1' in body
        # SSE: curl sees the hello event at once.
        r = subprocess.run(["curl", "-sN", "--max-time", "1", "--unix-socket", d.socket,
                            url("/v1/events")], capture_output=True, timeout=10)
        assert r.stdout.startswith(b"event: hello\ndata: {}\n\n"), r.stdout
        # The wrapper API on the same socket.
        status, w = curl_json(d, "-F", "image=@%s" % img[1], url("/api/img2video"))
        assert status == 200 and w["success"] is True, w
        d.wait_all([w["id"]])
        status, res = curl_json(d, url("/api/img2video/result/" + w["id"]))
        assert status == 200 and res["status"] == "complete", res
        status, body = curl(d, url(res["video_url"]))
        assert status == 200 and len(body) == 200000
        head = subprocess.run(["curl", "-sSI", "--unix-socket", d.socket, url(res["video_url"])],
                              capture_output=True, timeout=10, text=True)
        assert "200" in head.stdout.splitlines()[0] and "content-length: 200000" in \
            head.stdout.lower(), head.stdout
        status, err = curl_json(d, url("/v1/nothing"))
        assert status == 404 and err["code"] == "not_found"
        status, err = curl_json(d, "-d", "x=1", url("/v1/jobs"))
        assert status == 415, err
        status, err = curl_json(d, "-F", "image=@%s" % img[0], "-F", "cfg_scale=11",
                                url("/v1/jobs"))
        assert status == 422 and "cfg_scale" in err["error"], err
        assert api.stats()["submits_accepted"] == 2


def test_head_sends_no_body(tmp):
    with FakeApi(BIN_DIR, tmp / "api", gen_time=0.2, video_bytes=5000, **FAKE) as api, \
            Genqd(tmp / "d", api) as d:
        jid = d.submit(write_images(tmp / "in", 1))[0]
        out = d.wait_all([jid])[0]["output"]
        path = "/processed_videos/" + os.path.basename(out)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(d.socket)
        # Two requests on one connection: a body after the HEAD answer would be read as the
        # start of the second answer.
        s.sendall(("HEAD %s HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/status HTTP/1.1\r\nHost: x\r\n"
                   "Connection: close\r\n\r\n" % path).encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        first, rest = data.split(b"\r\n\r\n", 1)
        assert first.startswith(b"HTTP/1.1 200") and b"Content-Length: 5000" in first, first
        assert b"video/mp4" in first
        assert rest.startswith(b"HTTP/1.1 200"), rest[:80]


# ---- genqctl -----------------------------------------------------------------------------------

def test_genqctl_commands(tmp):
    with FakeApi(BIN_DIR, tmp / "api", gen_time=0.3, video_bytes=1000, **FAKE) as api, \
            Genqd(tmp / "d", api) as d:
        imgs = write_images(tmp / "in", 3)
        # All or nothing (SPEC §6): one missing file and nothing is queued ...
        r = d.ctl("--json", "submit", str(tmp / "in" / "img00*.png"), str(tmp / "nope.png"))
        assert r.returncode == 1 and "nope.png" in r.stderr, r
        assert json.loads(r.stdout) == [{"file": str(tmp / "nope.png"),
                                         "error": json.loads(r.stdout)[0]["error"]}], r.stdout
        # ... unless --skip-bad: the good files are queued, each entry a file and its id or error.
        r = d.ctl("--json", "submit", "--skip-bad", str(tmp / "in" / "img00*.png"),
                  str(tmp / "nope.png"))
        assert r.returncode == 0 and "nope.png" in r.stderr, r
        out = json.loads(r.stdout)
        ids = [o["id"] for o in out if "id" in o]
        assert len(ids) == 3 and out[3]["file"].endswith("nope.png") and out[3]["error"]
        r = d.ctl("wait", *ids, "--timeout", "60", check=0)
        assert all(("%s succeeded" % i) in r.stdout for i in ids), r.stdout
        r = d.ctl("--json", "wait", ids[0], check=0)  # already final: returns at once
        assert json.loads(r.stdout)[0]["state"] == "succeeded"
        r = d.ctl("status", check=0)
        assert "succeeded 3" in r.stdout and "KEY" in r.stdout and "main" in r.stdout, r.stdout
        s = json.loads(d.ctl("--json", "status", check=0).stdout)
        assert s["counts"]["succeeded"] == 3
        r = d.ctl("status", ids[0], check=0)
        assert "succeeded" in r.stdout and ids[0] in r.stdout
        assert json.loads(d.ctl("--json", "status", ids[0], check=0).stdout)["id"] == ids[0]
        r = d.ctl("list", check=0)
        lines = r.stdout.splitlines()
        assert lines[0].split()[:3] == ["ID", "KIND", "STATE"] and len(lines) == 4, r.stdout
        listing = json.loads(d.ctl("--json", "list", "--state", "succeeded", "--limit", "2",
                                   check=0).stdout)
        assert len(listing["jobs"]) == 2 and listing["next"] == listing["jobs"][1]["id"]
        r = d.ctl("events", ids[0], check=0)
        assert "submitting" in r.stdout and "AT" in r.stdout.splitlines()[0]
        ev = json.loads(d.ctl("--json", "events", ids[0], check=0).stdout)
        assert ev["events"][-1]["to"] == "succeeded"
        d.ctl("output", ids[0], "-o", str(tmp / "o.mp4"), check=0)
        assert (tmp / "o.mp4").read_bytes() == open(d.job(ids[0])["output"], "rb").read()
        r = d.ctl("cancel", ids[0])
        assert r.returncode == 1 and "already succeeded" in r.stderr, r.stderr
        r = d.ctl("retry", ids[0])
        assert r.returncode == 1 and "only failed or canceled" in r.stderr
        r = d.ctl("pause", check=0)
        assert r.stdout.strip() == "paused all submissions"
        assert json.loads(d.ctl("--json", "status", check=0).stdout)["paused"] is True
        r = d.ctl("--json", "resume", check=0)
        assert json.loads(r.stdout)["paused"] is False
        d.ctl("pause", "--key", "main", check=0)
        keys = json.loads(d.ctl("--json", "keys", check=0).stdout)
        assert keys[0]["name"] == "main" and keys[0]["state"] == "paused", keys
        assert "paused" in d.ctl("keys", check=0).stdout
        d.ctl("resume", "--key", "main", check=0)
        r = d.ctl("pause", "--key", "nokey")
        assert r.returncode == 1 and "nokey" in r.stderr
        assert d.ctl("reload", check=0).stdout.strip() == "configuration reloaded"
        assert json.loads(d.ctl("--json", "reload", check=0).stdout) == {"reloaded": True}
        # Usage errors: 2; unknown job: 1.
        assert d.ctl("frobnicate").returncode == 2
        assert d.ctl("list", "--limit", "0").returncode == 2
        r = d.ctl("status", "nosuchjob")
        assert r.returncode == 1 and "nosuchjob" in r.stderr
        r = d.ctl("wait", "nosuchjob")
        assert r.returncode == 1
    # genqd gone: exit 3 with the socket named.
    r = subprocess.run([str(BIN_DIR / "genqctl"), "--socket", d.socket, "status"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 3 and r.stderr.strip() == \
        "genqctl: genqd is not running at " + d.socket, r.stderr
    env = dict(os.environ, GENQ_SOCKET=str(tmp / "elsewhere.sock"))
    r = subprocess.run([str(BIN_DIR / "genqctl"), "list"], capture_output=True, text=True,
                       env=env, timeout=10)
    assert r.returncode == 3 and "elsewhere.sock" in r.stderr, r.stderr


def test_wait_exit_codes_and_timeout(tmp):
    with FakeApi(BIN_DIR, tmp / "api", gen_time=0.2, **FAKE) as api, Genqd(tmp / "d", api) as d:
        img = write_images(tmp / "in", 1)[0]
        bad = d.submit([img], "--seed", "4000000400")[0]  # the stand-in answers 400
        r = d.ctl("wait", bad, "--timeout", "30")
        assert r.returncode == 1 and "failed" in r.stdout, r
        d.ctl("pause", check=0)
        held = d.submit([img])[0]
        t0 = time.monotonic()
        r = d.ctl("wait", held, "--timeout", "1.5")
        assert r.returncode == 4 and "timed out" in r.stderr, r
        # Without its timeout the wait would last as long as the pause (genqctl's 120 s here);
        # 10 s leaves a loaded machine room for genqctl's start and exit (as in test_cli).
        assert time.monotonic() - t0 < 10
        # submit --wait follows the new job to its end once the queue runs again.
        threading.Timer(1.0, lambda: d.ctl("resume")).start()
        r = d.ctl("submit", str(img), "--seed", "7", "--wait", "--timeout", "30")
        assert r.returncode == 0 and "succeeded" in r.stdout, r


# ---- SSE across a job's life -------------------------------------------------------------------

def test_sse_follows_a_job(tmp):
    with FakeApi(BIN_DIR, tmp / "api", gen_time=0.5, **FAKE) as api, Genqd(tmp / "d", api) as d:
        sse = SseClient(d.socket)
        deadline = time.monotonic() + 30
        while not sse.events and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sse.events[0] == ("hello", "{}"), sse.events
        assert b"text/event-stream" in sse.header
        jid = d.submit(write_images(tmp / "in", 1))[0]
        d.wait_all([jid])
        deadline = time.monotonic() + 30
        while len(sse.jobs(jid)) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        seen = sse.jobs(jid)
        assert [(j["from"], j["state"]) for j in seen] == [
            (None, "queued"), ("queued", "submitting"), ("submitting", "running"),
            ("running", "succeeded")], seen
        assert seen[-1]["output"] and seen[2]["remote_id"]
        sse.close()


# ---- cancel, retry, pause/resume, reload, paging -----------------------------------------------

def test_cancel_running_job(tmp):
    with FakeApi(BIN_DIR, tmp / "api", gen_time=60, **FAKE) as api, Genqd(tmp / "d", api) as d:
        jid = d.submit(write_images(tmp / "in", 1))[0]
        job = wait_state(d, jid, ("running",))
        polls_of = lambda: sum(1 for e in api.log_entries()  # noqa: E731
                               if e["path"].endswith("/result/" + job["remote_id"]))
        deadline = time.monotonic() + 20
        while polls_of() < 1:
            assert time.monotonic() < deadline, "the running job is never polled"
            time.sleep(0.05)
        r = d.ctl("--json", "cancel", jid, check=0)
        assert json.loads(r.stdout)[0]["state"] == "canceled"
        before = polls_of()
        time.sleep(1.0)
        assert polls_of() <= before + 1, "the abandoned generation is still polled"
        j = d.job(jid)
        assert j["state"] == "canceled" and j["output"] is None
        events = d.get_json("/v1/jobs/%s/events" % jid)["events"]
        assert "abandoned" in events[-1]["detail"], events
        assert not any(d.output.iterdir()) if d.output.exists() else True


def provider_errors(d):
    """genq_provider_requests_total{class="error"} summed over keys: requests that ended
    without an answer (canceled, timed out, reset)."""
    _, body = d.request("GET", "/metrics")
    return sum(float(line.rsplit(" ", 1)[1]) for line in body.decode().splitlines()
               if line.startswith("genq_provider_requests_total") and 'class="error"' in line)


def test_cancel_stops_its_request_at_once(tmp):
    # Every answer of the stand-in hangs 30 s (genq's own timeout is 5 s): only the cancel can
    # end the submission's request within a second or two.
    with FakeApi(BIN_DIR, tmp / "api", gen_time=60, fault_slow=1.0, slow_seconds=30,
                 **FAKE) as api, Genqd(tmp / "d", api) as d:
        jid = d.submit(write_images(tmp / "in", 1))[0]
        wait_state(d, jid, ("submitting",))
        deadline = time.monotonic() + 10
        while api.stats()["submits"] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert api.stats()["submits"] == 1, "the submission never reached the stand-in"
        assert provider_errors(d) == 0
        r = d.ctl("--json", "cancel", jid, check=0)
        assert json.loads(r.stdout)[0]["state"] == "canceled"
        t0 = time.monotonic()
        while provider_errors(d) == 0 and time.monotonic() - t0 < 4:
            time.sleep(0.05)
        assert provider_errors(d) == 1, "the canceled job's request was not aborted"
        assert d.job(jid)["state"] == "canceled"


def test_retry_failed_and_canceled(tmp):
    with FakeApi(BIN_DIR, tmp / "api", gen_time=0.2, **FAKE) as api, Genqd(tmp / "d", api) as d:
        img = write_images(tmp / "in", 1)[0]
        bad = d.submit([img], "--seed", "4000000400")[0]
        assert d.wait_all([bad])[0]["state"] == "failed"
        r = d.ctl("retry", bad, check=0)
        assert r.stdout.strip() == bad + " queued"
        j = d.wait_all([bad])[0]
        assert j["state"] == "failed" and j["attempts"] == 1
        assert [e["detail"] for e in d.get_json("/v1/jobs/%s/events" % bad)["events"]].count(
            "retry requested") == 1
        d.ctl("pause", check=0)
        held = d.submit([img])[0]
        d.ctl("cancel", held, check=0)
        assert d.job(held)["state"] == "canceled"
        d.ctl("retry", held, check=0)
        d.ctl("resume", check=0)
        assert d.wait_all([held])[0]["state"] == "succeeded"


def test_pause_resume_global_and_per_key(tmp):
    with FakeApi(BIN_DIR, tmp / "api", keys=["test-key-0", "test-key-1"], gen_time=0.2,
                 **FAKE) as api, \
            Genqd(tmp / "d", api, keys={"main": 1, "second": 1},
                  extra="[budget]\ndaily_credits = 1000") as d:
        imgs = write_images(tmp / "in", 6)
        d.ctl("pause", check=0)
        ids = d.submit(imgs[:2])
        time.sleep(0.8)
        assert [d.job(i)["state"] for i in ids] == ["queued", "queued"]
        assert api.stats()["submits"] == 0
        d.ctl("resume", check=0)
        assert all(j["state"] == "succeeded" for j in d.wait_all(ids))
        d.ctl("pause", "--key", "main", check=0)
        ids = d.submit(imgs[2:])
        jobs = d.wait_all(ids)
        assert {j["key"] for j in jobs} == {"second"}, [j["key"] for j in jobs]
        d.ctl("resume", "--key", "main", check=0)
        # budget=1 lifts the daily cap only when asked, and only globally.
        s = d.get_json("/v1/status")
        assert s["budget"]["override"] is False
        status, _ = d.request("POST", "/v1/resume?key=main&budget=1")
        assert status == 400
        d.ctl("resume", "--budget", check=0)
        assert d.get_json("/v1/status")["budget"]["override"] is True


def test_reload(tmp):
    with FakeApi(BIN_DIR, tmp / "api", keys=["test-key-0", "test-key-1"], gen_time=0.2,
                 **FAKE) as api, \
            Genqd(tmp / "d", api, env={"GENQ_TEST_KEY_SECOND": "test-key-1"}) as d:
        assert [k["name"] for k in json.loads(d.ctl("--json", "keys", check=0).stdout)] == \
            ["main"]
        good = d.config.read_text()
        d.config.write_text(good + '[[keys]]\nname = "second"\nenv = "GENQ_TEST_KEY_SECOND"\n')
        d.ctl("reload", check=0)
        names = sorted(k["name"] for k in json.loads(d.ctl("--json", "keys", check=0).stdout))
        assert names == ["main", "second"], names
        assert "\nwindow = 1\n" in good
        d.config.write_text(good.replace("\nwindow = 1\n", "\nwindow = -3\n"))
        r = d.ctl("reload")
        assert r.returncode == 1 and "window" in r.stderr, r.stderr
        # The running configuration stays.
        names = sorted(k["name"] for k in json.loads(d.ctl("--json", "keys", check=0).stdout))
        assert names == ["main", "second"]
        ids = d.submit(write_images(tmp / "in", 2), "--key", "second")
        assert {j["key"] for j in d.wait_all(ids)} == {"second"}


def test_paging_with_cursor(tmp):
    with Genqd(tmp / "d") as d:
        d.ctl("pause", check=0)
        ids = d.submit(write_images(tmp / "in", 25))
        assert len(set(ids)) == 25
        seen, cursor, pages = [], None, 0
        while True:
            path = "/v1/jobs?limit=10" + ("&before=" + cursor if cursor else "")
            page = d.get_json(path)
            seen += [j["id"] for j in page["jobs"]]
            pages += 1
            cursor = page["next"]
            if cursor is None:
                break
        assert pages == 3 and seen == sorted(ids, reverse=True), (pages, seen)
        assert d.get_json("/v1/jobs?state=succeeded")["jobs"] == []
        assert len(d.get_json("/v1/jobs?state=queued,failed&kind=video&limit=1000")["jobs"]) == 25
        status, body = d.request("GET", "/v1/jobs?state=bogus")
        assert status == 400 and b"queued" in body
        status, _ = d.request("GET", "/v1/jobs?limit=0")
        assert status == 400
        # Newest first: the first page of one is the last job submitted.
        status, body = d.request("GET", "/v1/jobs?limit=1")
        assert json.loads(body)["jobs"][0]["id"] == max(ids)


def test_metrics_families(tmp):
    with FakeApi(BIN_DIR, tmp / "api", gen_time=0.2, **FAKE) as api, Genqd(tmp / "d", api) as d:
        d.wait_all(d.submit(write_images(tmp / "in", 2)))
        status, body = d.request("GET", "/metrics")
        text = body.decode()
        assert status == 200
        for family in ("genq_jobs", "genq_provider_requests_total",
                       "genq_provider_rate_limited_total", "genq_key_lockouts_total",
                       "genq_polls_total", "genq_downloaded_bytes_total",
                       "genq_request_duration_seconds", "genq_key_requests_in_window",
                       "genq_key_in_flight"):
            assert "# TYPE %s " % family in text, family
        assert 'genq_jobs{state="succeeded"} 2' in text
        assert "genq_request_duration_seconds_bucket{" in text


# ---- one daemon per socket and state directory -------------------------------------------------

def run_genqd(d, config, timeout=10):
    return subprocess.run([str(BIN_DIR / "genqd"), "--config", str(config)], capture_output=True,
                          text=True, env=d.env, timeout=timeout)


def test_second_daemon_refused_and_stale_socket(tmp):
    with Genqd(tmp / "d") as d:
        text = d.config.read_text()
        other = tmp / "other.toml"
        other.write_text(text.replace(str(d.state), str(tmp / "state2")))
        r = run_genqd(d, other)
        assert r.returncode == 1 and "another genqd is serving on " + d.socket in r.stdout + \
            r.stderr, r
        other.write_text(text.replace(d.socket, str(tmp / "other.sock")))
        r = run_genqd(d, other)
        assert r.returncode == 1 and "already using the state directory" in r.stdout + r.stderr
        assert d.get_json("/v1/status")["counts"] is not None  # the first one is unharmed
        d.kill()
        assert os.path.exists(d.socket)  # a crash leaves the socket file behind
        d.start()  # ... and the next genqd replaces it
        assert d.get_json("/v1/status")["paused"] is False


# ---- robustness --------------------------------------------------------------------------------

def raw(d, data, read=True, timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(d.socket)
    s.sendall(data)
    out = b""
    if read:
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
    s.close()
    return out


def test_robustness(tmp):
    with FakeApi(BIN_DIR, tmp / "api", gen_time=0.2, video_bytes=8_000_000, **FAKE) as api, \
            Genqd(tmp / "d", api) as d:
        # 413 before the body is read.
        r = raw(d, b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
                   b"boundary=b\r\nContent-Length: 40000000\r\n\r\n")
        assert r.startswith(b"HTTP/1.1 413") and b"payload_too_large" in r, r[:200]
        # Malformed HTTP: 400.
        r = raw(d, b"THIS IS NOT HTTP\r\n\r\n")
        assert r.startswith(b"HTTP/1.1 400") and b"bad_request" in r, r
        r = raw(d, b"GET /v1/status HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n")
        assert r.startswith(b"HTTP/1.1 400"), r
        # A header larger than the limit: 431.
        r = raw(d, b"GET /v1/status HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
        assert r.startswith(b"HTTP/1.1 431"), r[:100]
        # A slow client holding a half header does not hold anyone else up: held up, the status
        # would wait for the slow one's header timeout (10 s); 5 s tells that apart from a loaded
        # machine's slow answer (1 s left it little room).
        slow = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        slow.connect(d.socket)
        slow.sendall(b"GET /v1/sta")
        t0 = time.monotonic()
        assert d.get_json("/v1/status")["counts"] is not None
        assert time.monotonic() - t0 < 5.0
        # ... and a client that vanishes mid-response neither: a large result, read 1 KiB of it.
        jid = d.submit(write_images(tmp / "in", 1))[0]
        d.wait_all([jid])
        for _ in range(5):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(d.socket)
            s.sendall(("GET /v1/jobs/%s/output HTTP/1.1\r\nHost: x\r\n\r\n" % jid).encode())
            s.recv(1024)
            s.close()
        # A request cut off mid-body.
        raw(d, b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc", read=False)
        # 250 connections at once, all answered.
        socks = []
        for _ in range(250):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(20)
            s.connect(d.socket)
            socks.append(s)
        for s in socks:
            s.sendall(b"GET /v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        ok = 0
        for s in socks:
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            ok += data.startswith(b"HTTP/1.1 200")
            s.close()
        assert ok == 250, ok
        # The slow client is cut off by the header timeout (10 s).
        slow.settimeout(15)
        t0 = time.monotonic()
        rest = slow.recv(1024)
        assert time.monotonic() - t0 < 12 and (rest == b"" or rest.startswith(b"HTTP/1.1 4")), rest
        slow.close()
        # The daemon and its jobs carry on.
        more = d.submit(write_images(tmp / "in2", 2, prefix="more"))
        assert all(j["state"] == "succeeded" for j in d.wait_all(more))
        assert d.proc.poll() is None


def test_concurrent_submissions_group_commit(tmp):
    # Many clients at once: each gets its own job, all durable, none lost or mixed up.
    with Genqd(tmp / "d") as d:
        d.ctl("pause", check=0)
        imgs = write_images(tmp / "in", 40)
        results = [None] * len(imgs)

        def one(i):
            results[i] = curl_json(d, "-F", "image=@%s" % imgs[i], url("/v1/jobs"))

        threads = [threading.Thread(target=one, args=(i,)) for i in range(len(imgs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert all(r[0] == 201 for r in results), results
        names = {r[1]["input"]["name"] for r in results}
        assert names == {p.name for p in imgs}
        assert len(d.get_json("/v1/jobs?limit=1000")["jobs"]) == 40
        # A batch request with one bad image: the others are accepted.
        status, body = curl_json(d, "-F", "image=@%s" % imgs[0], "-F",
                                 "image=@%s" % (tmp / "d" / "genq.toml"), url("/v1/jobs/batch"))
        assert status == 200 and "job" in body["results"][0] and body["results"][1]["code"], body
        d.kill()
        d.start()
        assert len(d.get_json("/v1/jobs?limit=1000")["jobs"]) == 41


if __name__ == "__main__":
    run_tests([test_curl_every_endpoint, test_head_sends_no_body, test_genqctl_commands,
               test_wait_exit_codes_and_timeout, test_sse_follows_a_job, test_cancel_running_job,
               test_retry_failed_and_canceled, test_pause_resume_global_and_per_key, test_reload,
               test_paging_with_cursor, test_metrics_families,
               test_second_daemon_refused_and_stale_socket, test_robustness,
               test_concurrent_submissions_group_commit])
