"""Security checks (issue 7): the API key text never shows up in the log, the database, the API
answers or the results, also when the provider refuses a key (401); TLS verification is always
on (an untrusted provider certificate means no request is ever sent); another uid without the
socket's group is refused by the socket."""

import os
import subprocess
import time

from genqtest import (FakeApi, Genqd, BIN_DIR, GENQCTL, KEY_TEXTS, assert_outputs_match, run_tests,
                      write_images)

FAKE_LIMITS = dict(limit=10, window=1, lockout=2, poll_interval=0.5)


def grep_tree(root, needles):
    """{path: needle} for every file under root holding one of the needles (bytes)."""
    hits = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = os.path.join(dirpath, f)
            try:
                data = open(p, "rb").read()
            except OSError:
                continue
            for n in needles:
                if n in data:
                    hits[p] = n
    return hits


def test_key_text_never_leaks(tmp):
    # "main" works; "second" is unknown to the provider (401) and goes through the error paths.
    with FakeApi(BIN_DIR, tmp / "api", keys=["test-key-0"], gen_time=0.3, **FAKE_LIMITS) as api:
        d = Genqd(tmp / "d", api, keys={"main": 1, "second": 1})
        try:
            ids = d.submit(write_images(tmp / "in", 6))
            jobs = d.wait_all(ids)
            assert all(j["state"] == "succeeded" for j in jobs), [j["error"] for j in jobs]
            assert_outputs_match(api, jobs)
            answers = []
            for path in ["/v1/status", "/v1/jobs?limit=1000", "/metrics"] + \
                        ["/v1/jobs/%s" % i for i in ids] + ["/v1/jobs/%s/events" % i for i in ids]:
                answers.append(d.request("GET", path)[1])
            states = {k["name"]: k["state"] for k in d.get_json("/v1/status")["keys"]}
            assert states["second"] == "unauthorized", states
            r = d.ctl("keys")
            answers.append((r.stdout + r.stderr).encode())
        finally:
            d.stop()
        needles = [KEY_TEXTS["main"].encode(), KEY_TEXTS["second"].encode()]
        for a in answers:
            assert not any(n in a for n in needles), a[:500]
        hits = grep_tree(d.dir, needles)  # log, genq.db (+ -wal), spool, outputs, metadata
        hits.pop(str(d.config), None)  # (the config names the env variable, not the key)
        assert hits == {}, hits
        assert "unauthorized" in d.log() or "401" in d.log()


def test_tls_cannot_be_skipped(tmp):
    # Without the stand-in's CA the provider's certificate is untrusted: nothing gets through,
    # the job waits (retryable), and the log says why.
    with FakeApi(BIN_DIR, tmp / "api", keys=["test-key-0"], gen_time=0.3, **FAKE_LIMITS) as api:
        d = Genqd(tmp / "d", api, start=False)
        text = d.config.read_text().replace('ca_file = "%s"' % api.ca_file, 'ca_file = ""')
        d.config.write_text(text)
        d.start()
        try:
            ids = d.submit(write_images(tmp / "in", 1))
            deadline = time.monotonic() + 30
            while not ("certificate" in d.log().lower() or "verify" in d.log().lower()):
                assert time.monotonic() < deadline, d.log()[-2000:]
                time.sleep(0.1)
            job = d.job(ids[0])
            assert job["state"] in ("queued", "submitting", "failed"), job
        finally:
            d.stop()
        assert api.stats()["requests"] == 0, api.stats()


def test_socket_refuses_other_uid(tmp):
    if os.geteuid() != 0:
        print("SKIP: needs root to run a client as another uid")
        return
    os.chmod(tmp, 0o755)
    with Genqd(tmp / "d") as d:
        os.chmod(d.dir, 0o755)  # the directory is open; the socket's own mode must refuse
        mode = os.stat(d.socket).st_mode & 0o777
        assert mode & 0o006 == 0, oct(mode)
        r = subprocess.run([str(GENQCTL), "--socket", d.socket, "status"], user=65534,
                           group=65534, extra_groups=[], capture_output=True, text=True,
                           timeout=30)
        assert r.returncode == 3, (r.returncode, r.stdout, r.stderr)
        assert "permission" in r.stderr.lower() or "denied" in r.stderr.lower(), r.stderr
        # The owner still gets in.
        assert d.ctl("status").returncode == 0


if __name__ == "__main__":
    run_tests([test_key_text_never_leaks, test_tls_cannot_be_skipped,
               test_socket_refuses_other_uid])
