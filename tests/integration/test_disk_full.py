"""The state disk full (issue 14 item 4): the state directory on a small tmpfs, filled while jobs
run against the stand-in. New submissions (HTTP, genqctl, watched folders) are refused with 503
naming the directory, the daemon stays up, the jobs under way keep their state and none is lost
or paid twice, and once the filler is removed everything resumes without a restart. The database
passes PRAGMA integrity_check afterwards. The systemd STATUS= line (a fake NOTIFY_SOCKET) names
the full disk and the changes held, and goes back to the counts when space returns.

Needs root (mount -t tmpfs); otherwise it prints a SKIP line and counts as skipped."""

import json
import os
import re
import sqlite3
import subprocess
import sys
import time

from genqtest import FakeApi, Genqd, BIN_DIR, assert_outputs_match, run_tests, write_images
from test_systemd import NotifySocket

FAKE_LIMITS = dict(limit=10, window=1, lockout=2, poll_interval=0.5)
TMPFS_SIZE = 8 * 1024 * 1024


def wait_for(what, cond, timeout=60, log=None):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for %s%s" % (what, "\n" + log()[-4000:]
                                                                 if log else ""))
        time.sleep(0.05)


def fill(path):
    """Writes zeros until the file system says ENOSPC; returns the bytes written."""
    written = 0
    block = b"\0" * (64 * 1024)
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                written += f.write(block)
        except OSError as e:
            assert e.errno == 28, e  # ENOSPC
        # The last partial block, byte-exact, so not a page is left.
        try:
            while True:
                written += f.write(b"\0" * 512)
        except OSError:
            pass
    return written


def post_job(d, image, name="late.png", path="/v1/jobs"):
    boundary = "genqdiskfull"
    body = (("--%s\r\ncontent-disposition: form-data; name=\"image\"; filename=\"%s\"\r\n"
             "content-type: image/png\r\n\r\n" % (boundary, name)).encode() + image +
            ("\r\n--%s--\r\n" % boundary).encode())
    return d.request("POST", path, body=body,
                     headers={"content-type": "multipart/form-data; boundary=" + boundary})


def status(d):
    return d.get_json("/v1/status")


def metric(d, name):
    _, body = d.request("GET", "/metrics")
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("no metric " + name)


def full_lines(d):
    return [l for l in d.log().splitlines() if "is full:" in l and "state directory" in l]


def test_state_disk_full(tmp):
    state = tmp / "d" / "state"
    state.mkdir(parents=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%d" % TMPFS_SIZE, "genq-state",
                        str(state)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    inbox = tmp / "inbox"
    filler = state / "filler"
    d = None
    notify = NotifySocket(tmp / "notify.sock")
    try:
        with FakeApi(BIN_DIR, tmp / "api", keys=["test-key-0"], gen_time=3, video_bytes=200000,
                     **FAKE_LIMITS) as api:
            d = Genqd(tmp / "d", api, watches=[{"dir": str(inbox), "kind": "video"}],
                      env={"NOTIFY_SOCKET": notify.path})
            normal = re.compile(r"^\d+ queued, \d+ running, \d+ succeeded, \d+ failed$")
            assert normal.match(notify.wait_for("STATUS")[2]["STATUS"]), notify.messages
            pid = d.proc.pid
            images = write_images(tmp / "in", 8)
            ids = d.submit(images[:4])
            wait_for("four generations under way",
                     lambda: all(d.job(i)["state"] == "running" for i in ids), log=d.log)
            # Two more wait, queued, while submissions are paused.
            assert d.request("POST", "/v1/pause")[0] == 200
            waiting = d.submit(images[6:8])

            # ---- the disk fills --------------------------------------------------------------
            filled = fill(filler)
            # The next write (a poll's progress, or the claim of a queued job, which is then
            # given back) finds no space: the daemon knows, and sends nothing queued.
            assert d.request("POST", "/v1/resume")[0] == 200
            wait_for("a write to find the disk full",
                     lambda: status(d)["state_disk"]["full"], log=d.log)
            t_full = time.monotonic()
            # systemd hears of it, naming the directory (sent when the disk fills, not at the next
            # 5 s report).
            line = notify.wait_for("STATUS", after=t_full - 1, timeout=30,
                                   match=lambda v: v.startswith("state disk full: "))
            assert line[2]["STATUS"].startswith("state disk full: %s (no space)" % state), line
            assert [d.job(i)["state"] for i in waiting] == ["queued"] * 2
            assert [d.job(i)["attempts"] for i in waiting] == [0, 0]
            assert api.stats()["submits"] == 4, api.stats()
            code, body = post_job(d, images[4].read_bytes())
            err = json.loads(body)
            assert code == 503, (code, body)
            assert err["code"] == "state_disk_full", err
            assert str(state) in err["error"] and "full" in err["error"], err
            code, body = post_job(d, images[4].read_bytes(), path="/api/img2video")
            assert code == 503 and str(state) in json.loads(body)["error"], (code, body)
            # A cancel would need a write too: refused, and the job goes on.
            code, body = d.request("POST", "/v1/jobs/%s/cancel" % ids[0])
            assert code == 503 and json.loads(body)["code"] == "state_disk_full", (code, body)
            r = d.ctl("submit", str(images[5]))
            assert r.returncode != 0, r
            assert "state_disk_full" in r.stderr or "is full" in r.stderr, r.stderr
            assert str(state) in r.stderr, r.stderr

            # A watched file is left where it is.
            inbox.joinpath("watched.png").write_bytes(images[5].read_bytes())
            wait_for("the watcher holding the file", lambda: "wait in their folders" in d.log(),
                     log=d.log)
            assert inbox.joinpath("watched.png").exists()
            assert not list((inbox / "processing").glob("*")), list(inbox.rglob("*"))

            # The generations finish at the provider while the disk is full: their results wait
            # (in the output directory's temporary files), their jobs stay running.
            wait_for("the four results fetched", lambda: api.stats()["results_served"] >= 4,
                     log=d.log)
            s = wait_for("the results waiting to be written",
                         lambda: (lambda s: s if s["state_disk"]["unsaved"] >= 4 else None)(
                             status(d)), log=d.log)
            assert s["state_disk"]["full"] is True, s
            assert s["state_disk"]["dir"] == str(state), s
            assert s["state_disk"]["since"], s
            states = [d.job(i)["state"] for i in ids]
            assert states == ["running"] * 4, states
            assert metric(d, "genq_state_disk_full") == 1
            assert metric(d, "genq_state_disk_unsaved") >= 4
            held = notify.wait_for("STATUS", timeout=30, match=lambda v: re.match(
                r"^state disk full: %s \(no space\); ([4-9]|\d\d+) changes held; \d+ queued, "
                r"4 running, 0 succeeded, 0 failed$" % re.escape(str(state)), v))
            print("  STATUS=%s" % held[2]["STATUS"])
            r = d.ctl("status", check=0)
            assert "STATE DISK FULL" in r.stdout and str(state) in r.stdout, r.stdout
            assert d.proc.poll() is None, d.log()[-3000:]
            assert len(full_lines(d)) == 1, full_lines(d)  # logged once, not per write
            assert api.stats()["submits_accepted"] == 4, api.stats()  # nothing new was sent

            # ---- space returns: everything resumes, no restart -------------------------------
            filler.unlink()
            freed = time.monotonic()
            d.wait_all(ids, timeout=60)
            resumed = time.monotonic() - freed  # the four results held: about one probe period
            jobs = d.wait_all(ids + waiting, timeout=60)  # the two held ones: + a generation
            assert all(j["state"] == "succeeded" for j in jobs), [(j["state"], j["error"])
                                                                 for j in jobs]
            assert_outputs_match(api, jobs)
            # Each result under the name it was meant to have (no "-1" from a failed reservation).
            assert sorted(os.path.basename(j["output"]) for j in jobs) == [
                "img%03d.mp4" % n for n in (0, 1, 2, 3, 6, 7)], [j["output"] for j in jobs]
            assert [j["attempts"] for j in jobs] == [1] * 6
            wait_for("the disk seen clear", lambda: not status(d)["state_disk"]["full"],
                     log=d.log)
            assert status(d)["state_disk"]["unsaved"] == 0
            # The line goes back to the counts (at once, when the probe found space).
            cleared = notify.wait_for("STATUS", after=freed, timeout=30,
                                      match=lambda v: normal.match(v))
            assert not [m for m in notify.messages if m[0] >= cleared[0] and
                        "STATUS" in m[2] and not normal.match(m[2]["STATUS"])], notify.messages
            assert metric(d, "genq_state_disk_full") == 0
            code, body = post_job(d, images[4].read_bytes())
            assert code == 201, (code, body)
            late = json.loads(body)["id"]
            watched = wait_for("the watched file queued",
                               lambda: [j for j in d.get_json("/v1/jobs?limit=100")["jobs"]
                                        if j["source"] == "watch"], log=d.log)
            more = d.wait_all([late, watched[0]["id"]], timeout=60)
            assert all(j["state"] == "succeeded" for j in more), more
            assert d.proc.pid == pid and d.proc.poll() is None
            assert len(full_lines(d)) == 1, full_lines(d)
            # Each job sent and paid once: 4 + 2 held + the late one + the watched one.
            stats = api.stats()
            assert stats["submits"] == 8, stats
            assert stats["submits_accepted"] == 8, stats
            assert stats["generations"] == 8, stats
            assert d.stop() == 0, d.log()[-3000:]
            db = sqlite3.connect(str(state / "genq.db"))
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            n = db.execute("SELECT COUNT(*) FROM jobs WHERE state='succeeded'").fetchone()[0]
            assert n == 8, n
            db.close()
            print("state disk full: %d bytes of filler, 1 error line, queued jobs held, 4 results "
                  "held and written %.1f s after the filler went, 8 jobs sent and paid once, "
                  "integrity_check ok" % (filled, resumed))
    finally:
        if d:
            d.stop()
        notify.close()
        subprocess.run(["umount", "-l", str(state)])


def test_shared_store_disk_full(tmp):
    """The queue in PostgreSQL, its database in a tablespace on a small tmpfs: once the tmpfs is
    full, PostgreSQL answers 53100 disk_full and the node holds what it cannot write, as for the
    state disk: new submissions get 503 naming the shared store, STATUS= says so, the node stays
    up, and once space returns (a probe write fits) everything goes on; each job sent once."""
    from pgserver import PgServer, pg_bin_dir
    if pg_bin_dir() is None:
        print("  SKIP: no PostgreSQL server installed")
        return
    space = tmp / "pgspace"
    space.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%d" % (24 * 1024 * 1024),
                        "genq-pgspace", str(space)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    filler = space / "filler"
    d = None
    notify = NotifySocket(tmp / "notify.sock")
    try:
        # gen_time: the three must be seen running at once (between the last submission and the
        # first result) and still run when the tablespace fills; 2 s left ~1.7 s for that.
        with PgServer(tmp) as pg, \
                FakeApi(BIN_DIR, tmp / "api", keys=["test-key-0"], gen_time=4,
                        video_bytes=200000, **FAKE_LIMITS) as api:
            if pg.user:
                import pwd
                pw = pwd.getpwnam(pg.user)
                os.chown(space, pw.pw_uid, pw.pw_gid)
            pg.psql("postgres", "CREATE TABLESPACE small LOCATION '%s'" % space)
            pg.psql("postgres", "CREATE DATABASE genq TABLESPACE small")
            store = '[store]\nurl = "%s"\nnode = "a"\nlease = 3\n' % pg.url("genq")
            d = Genqd(tmp / "d", api, extra=store, env={"NOTIFY_SOCKET": notify.path})
            images = write_images(tmp / "in", 6)
            ids = d.submit(images[:3])
            wait_for("three generations under way",
                     lambda: all(d.job(i)["state"] == "running" for i in ids), log=d.log)

            fill(filler)  # the tablespace's file system: PostgreSQL's next extension fails
            code, body = post_job(d, images[3].read_bytes())
            assert code == 503, (code, body)
            err = json.loads(body)
            assert err["code"] == "state_disk_full" and "shared store" in err["error"], err
            s = wait_for("the node to see the shared store full",
                         lambda: (lambda s: s if s["state_disk"]["full"] else None)(status(d)),
                         log=d.log)
            assert "shared store" in s["state_disk"]["message"], s
            line = notify.wait_for("STATUS", timeout=30,
                                   match=lambda v: v.startswith("shared store disk full: "))
            print("  STATUS=%s" % line[2]["STATUS"])
            assert d.proc.poll() is None, d.log()[-3000:]

            filler.unlink()
            freed = time.monotonic()
            jobs = d.wait_all(ids, timeout=90)
            assert all(j["state"] == "succeeded" for j in jobs), [(j["state"], j["error"])
                                                                 for j in jobs]
            wait_for("the shared store seen clear", lambda: not status(d)["state_disk"]["full"],
                     log=d.log)
            back = time.monotonic() - freed
            late = d.submit(images[4:6])
            more = d.wait_all(late, timeout=90)
            assert all(j["state"] == "succeeded" for j in more), more
            assert_outputs_match(api, jobs + more)
            stats = api.stats()
            assert stats["submits_accepted"] == 5, stats  # each sent once, the refused one never
            notify.wait_for("STATUS", after=freed, timeout=30,
                            match=lambda v: re.match(r"^\d+ queued, \d+ running", v))
            assert d.stop() == 0, d.log()[-3000:]
            print("  shared store disk full: 503 naming it, node up, clear %.1f s after the "
                  "filler went, 5 jobs sent and paid once" % back)
    finally:
        if d:
            d.stop()
        notify.close()
        subprocess.run(["umount", "-l", str(space)])


if __name__ == "__main__":
    probe = None
    if os.geteuid() != 0:
        probe = "not root"
    else:
        import tempfile
        where = tempfile.mkdtemp(prefix="genq-mount-probe-")
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "genq-probe", where],
                           capture_output=True, text=True)
        if r.returncode != 0:
            probe = "mount -t tmpfs failed: " + r.stderr.strip()
        else:
            subprocess.run(["umount", where])
        os.rmdir(where)
    if probe:
        print("SKIP: the state disk full test needs to mount a tmpfs (%s)" % probe)
        print("0 passed, 0 failed")
        sys.exit(0)
    run_tests([test_state_disk_full, test_shared_store_disk_full])
