"""Retention (issue 14): finished jobs, their events and the spool files nothing else uses are
pruned after [retention] finished_jobs by the daemon's sweeper, and on demand by genqctl purge;
jobs that are not finished and result files are never touched; a reload applies a new age."""

import json
import os
import sqlite3
import subprocess
import time

from genqtest import BIN_DIR, GENQD, FakeApi, Genqd, run_tests, sha256_file, write_images

FINAL = ("succeeded", "failed", "canceled")
# Video jobs stay running (a generation of 10 min); remove-background and erase end at once.
FAKE = dict(limit=50, window=1, lockout=2, poll_interval=0.2, gen_time=600)
SYNC = ["--kind", "remove-background"]  # synchronous: ends at once


def retention(age, every="1s"):
    return '[retention]\nfinished_jobs = "%s"\nsweep_every = "%s"\n' % (age, every)


def wait_for(what, cond, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def listed(d):
    return {j["id"]: j for j in d.get_json("/v1/jobs?limit=1000")["jobs"]}


def events_in_db(d, job_id):
    db = sqlite3.connect("file:%s?mode=ro" % (d.state / "genq.db"), uri=True, timeout=10)
    try:
        return db.execute("SELECT count(*) FROM job_events WHERE job_id=?", (job_id,)).fetchone()[0]
    finally:
        db.close()


def spool(d, sha):
    return d.state / "spool" / sha


def images(tmp):
    """Four 256x256 images and a mask, each different content."""
    paths = write_images(tmp / "in", 4, width=256, height=256, prefix="r")
    mask = write_images(tmp / "mask", 1, width=256, height=256, prefix="m")[0]
    return paths, mask


def test_sweeper_prunes_finished_jobs_only(tmp):
    (a, b, c, _), mask = images(tmp)
    video = write_images(tmp / "video", 1, prefix="v")[0]
    with FakeApi(BIN_DIR, tmp / "fake", **FAKE) as api:
        d = Genqd(tmp / "d", api, extra=retention("3s"))
        with d:
            running = d.submit([video])[0]
            wait_for("the video job to run", lambda: d.job(running)["state"] == "running")
            done = d.submit([a, b], "--kind", "erase", "--mask", str(mask))
            jobs = d.wait_all(done)
            # From here the sweeper may prune the two as soon as they are 3 s old: what is checked
            # before that (their hashes, their spool files) comes from what wait_all saw, at once
            # (on a loaded machine the genqctl calls below can take longer than the age, and a
            # job asked for after them may be gone).
            assert [j["state"] for j in jobs] == ["succeeded", "succeeded"], jobs
            sha_a, sha_b = (j["input"]["sha256"] for j in jobs)
            sha_mask = sha256_file(mask)
            assert spool(d, sha_b).exists() and spool(d, sha_mask).exists()
            outputs = [j["output"] for j in jobs]
            credits = d.get_json("/v1/status")["keys"][0]["credits_total"]
            assert credits > 0
            d.ctl("pause", check=0)
            queued = d.submit([a], *SYNC)[0]  # same content as done[0]: its spool file stays

            wait_for("the finished jobs to be pruned", lambda: not set(done) & set(listed(d)))
            for i in done:
                status, _ = d.request("GET", "/v1/jobs/%s/events" % i)
                assert status == 404, status
                assert events_in_db(d, i) == 0
            # (nothing else used the mask; the unlinks follow the prune's commit, one by one)
            wait_for("b's and the mask's spool files to go",
                     lambda: not spool(d, sha_b).exists() and not spool(d, sha_mask).exists())
            assert spool(d, sha_a).exists()                 # the queued job still uses it
            assert spool(d, d.job(running)["input"]["sha256"]).exists()
            assert all(p and os.path.exists(p) for p in outputs), outputs  # results stay
            assert d.job(running)["state"] == "running"
            assert d.job(queued)["state"] == "queued"
            assert events_in_db(d, queued) >= 1
            # The pruned jobs' credits still count.
            assert d.get_json("/v1/status")["keys"][0]["credits_total"] == credits
            # The report is logged when the sweep finishes, after the commit the listing shows.
            wait_for("the sweep's report", lambda: "retention: pruned" in d.log())
            # Later sweeps keep the unfinished jobs too.
            sweeps = d.log().count("retention: ")  # one line per sweep (debug when idle)
            wait_for("two more sweeps", lambda: d.log().count("retention: ") >= sweeps + 2)
            assert set(listed(d)) == {running, queued}


def test_purge_on_demand(tmp):
    (a, b, c, _), mask = images(tmp)
    with FakeApi(BIN_DIR, tmp / "fake", **FAKE) as api:
        with Genqd(tmp / "d", api) as d:  # default retention: a month
            done = d.submit([a, b], *SYNC)
            assert [j["state"] for j in d.wait_all(done)] == ["succeeded"] * 2
            d.ctl("pause", check=0)
            canceled = d.submit([c], *SYNC)[0]
            d.ctl("cancel", canceled, check=0)
            queued = d.submit([c], *SYNC)[0]  # same content as the canceled job
            before = listed(d)
            assert len(before) == 4
            shas = [d.job(i)["input"]["sha256"] for i in done + [canceled]]

            # Without --older-than: the configured month, so nothing yet.
            r = d.ctl("purge", "--dry-run", "--json", check=0)
            assert json.loads(r.stdout)["removed"]["jobs"] == 0, r.stdout
            r = d.ctl("purge", "--older-than", "0", "--dry-run", "--json", check=0)
            would = json.loads(r.stdout)
            assert would["dry_run"] is True
            assert would["removed"]["jobs"] == 3, would
            assert would["removed"]["events"] >= 3 * 2, would
            assert would["removed"]["inputs"] == 2, would  # c is still the queued job's
            assert listed(d).keys() == before.keys()         # a dry run changes nothing
            assert all(spool(d, s).exists() for s in shas)

            r = d.ctl("purge", "--older-than", "0", "--state", "canceled", check=0)
            assert r.stdout.startswith("removed 1 job(s)"), r.stdout
            assert canceled not in listed(d)
            r = d.ctl("purge", "--older-than", "0", "--json", check=0)
            got = json.loads(r.stdout)["removed"]
            assert got["jobs"] == 2 and got["inputs"] == 2, got
            assert set(listed(d)) == {queued}
            assert not spool(d, shas[0]).exists() and not spool(d, shas[1]).exists()
            assert spool(d, shas[2]).exists()

            # Refusals: a bad duration and a state that is not final.
            r = d.ctl("purge", "--older-than", "3x")
            assert r.returncode == 2 and "30d" in r.stderr, (r.returncode, r.stderr)
            r = d.ctl("purge", "--state", "running")
            assert r.returncode == 2, (r.returncode, r.stderr)
            status, body = d.request("POST", "/v1/purge?state=running")
            assert status == 422 and b"only finished jobs" in body, (status, body)
            status, body = d.request("POST", "/v1/purge?older_than=-1d")
            assert status == 422 and b"older_than" in body, (status, body)
            assert set(listed(d)) == {queued}


def test_watched_file_stays_a_duplicate_after_its_job_is_pruned(tmp):
    (a, _, _, _), _ = images(tmp)
    inbox = tmp / "inbox"
    inbox.mkdir()
    with FakeApi(BIN_DIR, tmp / "fake", **FAKE) as api:
        w = {"dir": str(inbox), "kind": "remove-background"}
        with Genqd(tmp / "d", api, watches=[w], extra=retention("2s")) as d:
            (inbox / "cat.png").write_bytes(a.read_bytes())
            wait_for("done/cat.png", lambda: (inbox / "done" / "cat.png").exists())
            wait_for("the job to be pruned", lambda: not listed(d))
            (inbox / "cat.png").write_bytes(a.read_bytes())  # the same name and content again
            note = inbox / "failed" / "cat.png.error.txt"
            wait_for("failed/cat.png.error.txt", note.exists)
            assert "since been pruned" in note.read_text(), note.read_text()
            assert (inbox / "failed" / "cat.png").exists()
            assert not listed(d)  # never a second job for the same file


def plant(path, content, age_s):
    path.write_bytes(content)
    t = time.time() - age_s
    os.utime(path, (t, t))


def test_orphan_spool_files_are_removed(tmp):
    """A spool file no job references (a crash between a prune's commit and its unlink, or in
    the middle of a write) is deleted by the scan at start-up and after each sweep, once older
    than the scan's grace (1 h); a referenced input, a young file and a foreign one stay."""
    import hashlib
    a = write_images(tmp / "video", 1, prefix="v")[0]
    d = Genqd(tmp / "d", None, extra=retention("30d", "1s"))
    try:
        d.ctl("pause", check=0)  # the job stays queued, its input referenced
        queued = d.submit([a])[0]
        sha_a = d.job(queued)["input"]["sha256"]
        assert d.stop() == 0
        d.logf.close()
        old = 2 * 3600
        orphan = hashlib.sha256(b"an input whose last job was pruned").hexdigest()
        plant(spool(d, orphan), b"an input whose last job was pruned", old)
        partial = spool(d, "." + orphan + ".tmp123456")
        plant(partial, b"half an inp", old)
        young = hashlib.sha256(b"written a minute ago").hexdigest()
        plant(spool(d, young), b"written a minute ago", 60)
        plant(spool(d, "notes.txt"), b"not genq's", old)
        t = time.time() - old
        os.utime(spool(d, sha_a), (t, t))  # old, but its job still needs it

        d.start()  # the start-up scan
        # The scan logs what it removed after the unlinks: wait for the line too.
        wait_for("the orphan and the partial write removed",
                 lambda: not spool(d, orphan).exists() and not partial.exists() and
                 "spool: removed" in d.log())
        assert spool(d, sha_a).exists() and spool(d, young).exists()
        assert spool(d, "notes.txt").exists()
        assert d.job(queued)["state"] == "queued"
        lines = [l for l in d.log().splitlines() if "spool: removed" in l]
        assert lines and "removed 2 file(s)" in lines[0], lines

        # Left while genqd runs (as a crash of a sweep would, before its restart): the scan
        # after the next sweep takes it.
        later = hashlib.sha256(b"another orphan").hexdigest()
        plant(spool(d, later), b"another orphan", old)
        wait_for("the orphan removed after a sweep", lambda: not spool(d, later).exists())
        assert spool(d, sha_a).exists() and spool(d, young).exists()
        d.ctl("resume", check=0)
        assert d.proc.poll() is None
        print("  spool scan: %s" % lines[0].split("spool: ", 1)[1])
    finally:
        d.stop()


def db_file_bytes(d):
    return (d.state / "genq.db").stat().st_size


def test_database_file_shrinks_after_retention(tmp):
    """The database file gives back what retention frees: a database made before incremental
    auto-vacuum (auto_vacuum=NONE) is converted by one VACUUM at start-up (it is small), 20,000
    finished jobs with their events are pruned, and the freed pages are cut off the file in
    bounded steps after the sweep; the file ends at a fraction of its size."""
    d = Genqd(tmp / "d", None, extra=retention("1d", "1s"))
    try:
        d.ctl("pause", check=0)
        a = write_images(tmp / "video", 1, prefix="v")[0]
        kept = d.submit([a])[0]  # queued: never pruned
        assert d.stop() == 0
        d.logf.close()
        db = sqlite3.connect(str(d.state / "genq.db"), isolation_level=None)
        assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # a new database: incremental
        # As an older genq made it: no auto-vacuum.
        db.execute("PRAGMA auto_vacuum=NONE")
        db.execute("VACUUM")
        assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == 0
        # 20,000 jobs finished two days ago, copies of the queued one, four events each.
        old = int((time.time() - 2 * 86400) * 1000)
        cols = [r[1] for r in db.execute("PRAGMA table_info(jobs)")]
        sel = ", ".join({"id": "?1", "state": "'succeeded'", "finished_at": "?2",
                         "updated_at": "?2", "created_at": "?2"}.get(c, c) for c in cols)
        db.execute("BEGIN")
        for n in range(20000):
            jid = "old%017d" % n
            db.execute("INSERT INTO jobs (%s) SELECT %s FROM jobs WHERE id = ?3" %
                       (", ".join(cols), sel), (jid, old, kept))
            for st in ("queued", "submitting", "running", "succeeded"):
                db.execute("INSERT INTO job_events (job_id, at, from_state, to_state, detail) "
                           "VALUES (?, ?, NULL, ?, 'an event of an old job')", (jid, old, st))
        db.execute("COMMIT")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.close()
        before = db_file_bytes(d)
        assert before > 4 * 1024 * 1024, before

        d.start()
        wait_for("the old jobs pruned", lambda: len(listed(d)) == 1, timeout=120)
        wait_for("the file to shrink", lambda: db_file_bytes(d) < before / 4, timeout=120)
        after = db_file_bytes(d)
        # The checkpoint that shrank the file comes just before the line that reports it.
        log = wait_for("the compaction reported",
                       lambda: (lambda t: t if "free page(s) of the database back" in t
                                else None)(d.log()))
        assert "converted to incremental auto-vacuum" in log, log[-3000:]
        ro = sqlite3.connect("file:%s?mode=ro" % (d.state / "genq.db"), uri=True, timeout=10)
        try:
            assert ro.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
            assert ro.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            ro.close()
        assert d.job(kept)["state"] == "queued"
        steps = [l for l in log.splitlines() if "free page(s) of the database back" in l]
        print("  database file %.2f MiB with 20,000 finished jobs -> %.2f MiB after retention; %s"
              % (before / 1048576, after / 1048576, steps[0].split("retention: ", 1)[1]))
    finally:
        d.stop()


def test_config_check_and_reload(tmp):
    (a, _, _, _), _ = images(tmp)
    with FakeApi(BIN_DIR, tmp / "fake", **FAKE) as api:
        d = Genqd(tmp / "d", api, start=False)
        good = d.config.read_text()
        d.config.write_text(good + retention("3x"))
        r = subprocess.run([str(GENQD), "--config", str(d.config), "--check-config"], env=d.env,
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 2, (r.returncode, r.stderr)
        assert "retention.finished_jobs" in r.stderr and "\"30d\"" in r.stderr, r.stderr
        d.config.write_text(good)
        d.start()
        with d:
            job = d.submit([a], *SYNC)[0]
            assert d.wait_all([job])[0]["state"] == "succeeded"
            assert job in listed(d)  # the default month keeps it; a reload to 1 s prunes it
            d.config.write_text(good + retention("1s"))
            d.ctl("reload", check=0)
            wait_for("the job to be pruned after the reload", lambda: job not in listed(d))


if __name__ == "__main__":
    run_tests([test_sweeper_prunes_finished_jobs_only, test_purge_on_demand,
               test_orphan_spool_files_are_removed, test_database_file_shrinks_after_retention,
               test_watched_file_stays_a_duplicate_after_its_job_is_pruned,
               test_config_check_and_reload])
