"""Watched directories end to end (SPEC §7): real files, real inotify, a real genqd and the
stand-in provider. Files dropped by cp, mv, slow writers and download tools become jobs exactly
once, move to processing/, done/ and failed/ (with a plain-words error note), and survive
restarts and reloads."""

import os
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

from genqtest import BIN_DIR, FakeApi, Genqd, run_tests
from images import make_png

FAKE_LIMITS = dict(limit=10, window=1, lockout=2, poll_interval=0.5)


def png(seed=0, width=1024, height=576):
    return make_png(width, height, seed=seed)


def wait_for(cond, timeout=30, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.05)


def watch_jobs(d):
    """Every job whose source is the watched folder, oldest first (follows the paging)."""
    jobs, cursor = [], ""
    while True:
        page = d.get_json("/v1/jobs?limit=1000" + ("&before=" + cursor if cursor else ""))
        jobs += [j for j in page["jobs"] if j["source"] == "watch"]
        cursor = page.get("next")
        if not cursor:
            return list(reversed(jobs))


def names(directory):
    p = Path(directory)
    return sorted(x.name for x in p.iterdir()) if p.exists() else []


def images_in(directory):
    return [n for n in names(directory) if n.endswith((".png", ".jpg"))]


def job_by_name(d, name):
    found = [j for j in watch_jobs(d) if j["input"]["name"] == name]
    assert len(found) <= 1, found
    return found[0] if found else None


def wait_job(d, name, timeout=30):
    return wait_for(lambda: job_by_name(d, name), timeout, "a job for " + name)


def wait_final(d, name, timeout=60):
    return d.wait_all([wait_job(d, name)["id"]], timeout)[0]


def daemon(tmp, api, inbox, params=None, **kw):
    w = {"dir": str(inbox), "kind": "video", "params": params or {"cfg_scale": 1.8}}
    return Genqd(tmp / "d", api, watches=[w], **kw)


def fake(tmp, **kw):
    opts = dict(FAKE_LIMITS)
    opts.update(kw)
    return FakeApi(BIN_DIR, tmp / "api", keys=["test-key-0"], **opts)


# ---- arrival patterns ------------------------------------------------------------------------

def test_cp_and_mv_become_jobs(tmp):
    """cp into the folder, mv within the file system, mv from another file system."""
    inbox, src = tmp / "inbox", tmp / "src"
    src.mkdir()
    for i, n in enumerate(["copied.png", "moved.png", "crossfs.png"]):
        (src / n).write_bytes(png(seed=i))
    other_fs = Path(shutil.os.environ.get("GENQ_OTHER_FS", "/dev/shm")) / ("genq-%d" % os.getpid())
    other_fs.mkdir(parents=True, exist_ok=True)
    shutil.move(str(src / "crossfs.png"), other_fs / "crossfs.png")
    try:
        with fake(tmp, gen_time=0.3) as api, daemon(tmp, api, inbox) as d:
            subprocess.run(["cp", str(src / "copied.png"), str(inbox)], check=True)
            subprocess.run(["mv", str(src / "moved.png"), str(inbox)], check=True)
            subprocess.run(["mv", str(other_fs / "crossfs.png"), str(inbox)], check=True)
            for n in ("copied.png", "moved.png", "crossfs.png"):
                j = wait_final(d, n)
                assert j["state"] == "succeeded", j
                assert j["params"]["cfg_scale"] == 1.8
                assert j["source"] == "watch"
            wait_for(lambda: len(images_in(inbox / "done")) == 3, 10, "done/")
            assert sorted(images_in(inbox / "done")) == ["copied.png", "crossfs.png", "moved.png"]
            assert images_in(inbox) == [] and names(inbox / "processing") == []
            assert names(inbox / "failed") == []
            assert len(watch_jobs(d)) == 3
    finally:
        shutil.rmtree(other_fs, ignore_errors=True)


def test_slow_writer_not_picked_up_before_close(tmp):
    inbox = tmp / "inbox"
    data = png(seed=5)
    with fake(tmp, gen_time=0.2) as api, daemon(tmp, api, inbox) as d:
        chunks = [data[i:i + len(data) // 4 + 1] for i in range(0, len(data), len(data) // 4 + 1)]
        with open(inbox / "slow.png", "wb") as f:
            for c in chunks:
                f.write(c)
                f.flush()
                os.fsync(f.fileno())
                time.sleep(0.6)
                assert watch_jobs(d) == [], "picked up before the writer closed the file"
                assert (inbox / "slow.png").exists()
        j = wait_final(d, "slow.png")
        assert j["state"] == "succeeded", j
        assert j["input"]["bytes"] == len(data)
        wait_for(lambda: images_in(inbox / "done") == ["slow.png"], 10, "done/slow.png")


def test_temp_names_wait_for_the_rename(tmp):
    inbox = tmp / "inbox"
    with fake(tmp, gen_time=0.2) as api, daemon(tmp, api, inbox) as d:
        temps = ["cat.png.part", "dog.png.tmp", "emu.png.crdownload", ".fox.png", "gnu.png~"]
        for i, n in enumerate(temps):
            (inbox / n).write_bytes(png(seed=10 + i))
        time.sleep(1.5)
        assert watch_jobs(d) == []
        assert sorted(names(inbox)) == sorted(temps + ["done", "failed", "processing"])
        os.rename(inbox / "cat.png.part", inbox / "cat.png")
        os.rename(inbox / "dog.png.tmp", inbox / "dog.png")
        for n in ("cat.png", "dog.png"):
            assert wait_final(d, n)["state"] == "succeeded"
        assert len(watch_jobs(d)) == 2
        for n in ("emu.png.crdownload", ".fox.png", "gnu.png~"):
            assert (inbox / n).exists(), n  # never touched


def test_burst_of_1000_queued_exactly_once(tmp):
    inbox = tmp / "inbox"
    with fake(tmp, gen_time=30) as api, daemon(tmp, api, inbox) as d:
        status, _ = d.request("POST", "/v1/pause")
        assert status == 200
        # Half written in place, half written elsewhere and renamed in (both real patterns).
        stage = tmp / "stage"
        stage.mkdir()
        expected = set()
        start = time.monotonic()
        for i in range(1000):
            n = "b%04d.png" % i
            expected.add(n)
            if i % 2:
                (inbox / n).write_bytes(png(seed=i))
            else:
                (stage / n).write_bytes(png(seed=i))
                os.rename(stage / n, inbox / n)
        wait_for(lambda: len(names(inbox / "processing")) == 1000, 120, "1000 in processing/")
        elapsed = time.monotonic() - start
        jobs = watch_jobs(d)
        assert len(jobs) == 1000, len(jobs)
        assert {j["input"]["name"] for j in jobs} == expected
        assert all(j["state"] == "queued" for j in jobs)
        assert images_in(inbox) == [] and names(inbox / "failed") == []
        print("  1000 files queued in %.1f s" % elapsed)
        time.sleep(1)
        assert len(watch_jobs(d)) == 1000


def test_duplicates_dropped_twice(tmp):
    inbox = tmp / "inbox"
    data = png(seed=77)
    with fake(tmp, gen_time=0.2) as api, daemon(tmp, api, inbox) as d:
        (inbox / "dup.png").write_bytes(data)
        first = wait_final(d, "dup.png")
        assert first["state"] == "succeeded"
        wait_for(lambda: images_in(inbox / "done") == ["dup.png"], 10, "done/dup.png")
        for moved in ("dup.png", "dup-1.png"):  # the second one must not overwrite the first
            (inbox / "dup.png").write_bytes(data)
            # The note is written right after the move: wait for both.
            wait_for(lambda: (inbox / "failed" / (moved + ".error.txt")).exists(), 10,
                     "failed/" + moved + ".error.txt")
            assert (inbox / "failed" / moved).exists()
            note = (inbox / "failed" / (moved + ".error.txt")).read_text()
            assert "already turned into job %s" % first["id"] in note, note
        # Same content under another name, and same name with other content: new work.
        (inbox / "other-name.png").write_bytes(data)
        wait_job(d, "other-name.png")
        time.sleep(0.5)
        jobs = watch_jobs(d)
        assert len(jobs) == 2, [(j["input"]["name"], j["id"]) for j in jobs]
        assert images_in(inbox) == []


# ---- refusals and failures --------------------------------------------------------------------

def test_refused_inputs_and_sidecars(tmp):
    inbox = tmp / "inbox"
    failed = inbox / "failed"
    with fake(tmp, gen_time=0.2) as api, daemon(tmp, api, inbox) as d:
        (inbox / "wrong.png").write_bytes(png(width=800, height=600))
        (inbox / "notes.png").write_text("this is not an image")
        (inbox / "badjson.png.json").write_text("{seed: 1")
        (inbox / "badjson.png").write_bytes(png(seed=1))
        (inbox / "badparam.png.json").write_text('{"cfg_scale": 11}')
        (inbox / "badparam.png").write_bytes(png(seed=2))
        (inbox / "seeded.png.json").write_text('{"seed": 123, "motion_bucket_id": 40}')
        (inbox / "seeded.png").write_bytes(png(seed=3))
        (inbox / "flagged.png.json").write_text('{"seed": 4000000403}')
        (inbox / "flagged.png").write_bytes(png(seed=4))
        expect = {"wrong.png": "1024x576", "notes.png": "image",
                  "badjson.png": "badjson.png.json: not valid JSON",
                  "badparam.png": "cfg_scale"}
        for n, needle in expect.items():
            wait_for(lambda: (failed / (n + ".error.txt")).exists(), 10, n + ".error.txt")
            note = (failed / (n + ".error.txt")).read_text()
            assert needle in note and "was not queued" in note, (n, note)
            assert (failed / n).exists()
        for n in ("badjson.png.json", "badparam.png.json"):
            assert (failed / n).exists(), n  # the sidecar travels with its image
        seeded = wait_final(d, "seeded.png")
        assert seeded["state"] == "succeeded"
        assert seeded["params"]["seed"] == 123 and seeded["params"]["motion_bucket_id"] == 40
        assert seeded["params"]["cfg_scale"] == 1.8
        wait_for(lambda: (inbox / "done" / "seeded.png.json").exists(), 10, "done/ sidecar")
        flagged = wait_final(d, "flagged.png")
        assert flagged["state"] == "failed" and flagged["error"]["code"] == "content_moderation"
        wait_for(lambda: (failed / "flagged.png.error.txt").exists(), 10, "flagged note")
        note = (failed / "flagged.png.error.txt").read_text()
        assert "Provider error: content_moderation" in note and flagged["id"] in note, note
        assert (failed / "flagged.png.json").exists()
        assert {j["input"]["name"] for j in watch_jobs(d)} == {"seeded.png", "flagged.png"}
        assert api.stats()["submits_accepted"] >= 1
        assert images_in(inbox) == []


def test_symlinks_and_special_files_ignored(tmp):
    inbox = tmp / "inbox"
    real = tmp / "real.png"
    real.write_bytes(png(seed=9))
    with fake(tmp, gen_time=0.2) as api, daemon(tmp, api, inbox) as d:
        os.symlink(real, inbox / "link.png")
        os.symlink(tmp / "nowhere.png", inbox / "dangling.png")
        os.mkfifo(inbox / "pipe.png")
        (inbox / "folder.png").mkdir()
        os.rename(tmp / "real.png", tmp / "real2.png")
        os.symlink(tmp / "real2.png", tmp / "link2.png")
        os.rename(tmp / "link2.png", inbox / "moved-link.png")  # IN_MOVED_TO of a symlink
        (inbox / "ok.png").write_bytes(png(seed=10))
        assert wait_final(d, "ok.png")["state"] == "succeeded"
        time.sleep(0.5)
        assert [j["input"]["name"] for j in watch_jobs(d)] == ["ok.png"]
        for n in ("link.png", "dangling.png", "pipe.png", "folder.png", "moved-link.png"):
            assert os.path.lexists(inbox / n), n
        assert (tmp / "real2.png").read_bytes() == png(seed=9)
        assert d.proc.poll() is None


# ---- restarts and reloads ----------------------------------------------------------------------

def test_restart_with_files_in_processing(tmp):
    inbox = tmp / "inbox"
    with fake(tmp, gen_time=0.3) as api:
        d = daemon(tmp, api, inbox)
        try:
            d.request("POST", "/v1/pause")
            for i, n in enumerate(["a.png", "b.png", "c.png"]):
                (inbox / n).write_bytes(png(seed=20 + i))
            wait_for(lambda: len(names(inbox / "processing")) == 3, 10, "processing/")
            d.kill()
            # A crash between recording c.png and moving it: the file is still in the inbox.
            os.rename(inbox / "processing" / "c.png", inbox / "c.png")
            d.start()
            wait_for(lambda: names(inbox / "processing") == ["a.png", "b.png", "c.png"], 10,
                     "c.png back in processing/")
            assert len(watch_jobs(d)) == 3
            d.request("POST", "/v1/resume")
            jobs = d.wait_all([j["id"] for j in watch_jobs(d)], 60)
            assert all(j["state"] == "succeeded" for j in jobs)
            wait_for(lambda: images_in(inbox / "done") == ["a.png", "b.png", "c.png"], 10,
                     "done/")
            d.stop()
            # A crash between a job's end and the move of its file: the file is still in
            # processing/ and its record says so. The next start-up finishes the move.
            os.rename(inbox / "done" / "a.png", inbox / "processing" / "a.png")
            db = sqlite3.connect(str(d.state / "genq.db"))
            db.execute("UPDATE watch_files SET place='processing', stored='a.png' "
                       "WHERE name='a.png'")
            db.commit()
            db.close()
            d.start()
            wait_for(lambda: images_in(inbox / "done") == ["a.png", "b.png", "c.png"], 10,
                     "a.png moved to done/ at start-up")
            assert names(inbox / "processing") == []
            assert len(watch_jobs(d)) == 3
        finally:
            d.stop()


def test_files_dropped_while_stopped(tmp):
    inbox = tmp / "inbox"
    with fake(tmp, gen_time=0.2) as api:
        d = daemon(tmp, api, inbox)
        try:
            d.stop()
            for i in range(5):
                (inbox / ("late%d.png" % i)).write_bytes(png(seed=40 + i))
            (inbox / "late.png.part").write_bytes(png(seed=50))
            d.start()
            ids = [wait_job(d, "late%d.png" % i)["id"] for i in range(5)]
            assert all(j["state"] == "succeeded" for j in d.wait_all(ids, 60))
            wait_for(lambda: len(images_in(inbox / "done")) == 5, 10, "done/")
            assert len(watch_jobs(d)) == 5
            assert (inbox / "late.png.part").exists()
            # And again: a restart does not turn them into jobs a second time.
            d.stop()
            d.start()
            time.sleep(1)
            assert len(watch_jobs(d)) == 5
        finally:
            d.stop()


def test_reload_adds_and_removes_watches(tmp):
    a, b = tmp / "a", tmp / "b"
    with fake(tmp, gen_time=0.2) as api, daemon(tmp, api, a) as d:
        d.request("POST", "/v1/pause")
        (a / "queued.png").write_bytes(png(seed=60))
        wait_for(lambda: names(a / "processing") == ["queued.png"], 10, "queued.png")
        d.config.write_text(d.config.read_text().replace(str(a), str(b)))
        status, body = d.request("POST", "/v1/reload")
        assert status == 200, body
        assert (b / "processing").is_dir()
        (b / "new.png").write_bytes(png(seed=61))
        (a / "ignored.png").write_bytes(png(seed=62))
        wait_job(d, "new.png")
        time.sleep(0.5)
        assert job_by_name(d, "ignored.png") is None and (a / "ignored.png").exists()
        d.request("POST", "/v1/resume")
        # The job queued from the removed folder still runs and its file still moves.
        assert wait_final(d, "queued.png")["state"] == "succeeded"
        wait_for(lambda: images_in(a / "done") == ["queued.png"], 10, "a/done/queued.png")
        # SIGHUP brings the old folder back; its waiting file is picked up by the rescan.
        d.config.write_text(d.config.read_text().replace(
            "[[watch]]", '[[watch]]\ndir = %s\nkind = "video"\n[[watch]]' % ('"%s"' % a), 1))
        d.proc.send_signal(1)
        assert wait_final(d, "ignored.png")["state"] == "succeeded"
        assert len(watch_jobs(d)) == 3


def test_missing_folder_created_and_bad_folder_not_fatal(tmp):
    deep = tmp / "new" / "deep" / "inbox"
    bad = "/proc/genq-cannot-create"
    with fake(tmp, gen_time=0.2) as api, \
            Genqd(tmp / "d", api, watches=[{"dir": str(deep)}, {"dir": bad}]) as d:
        assert all((deep / s).is_dir() for s in ("processing", "done", "failed"))
        log = d.log()
        assert bad in log and "not watched" in log, log[-2000:]
        (deep / "x.png").write_bytes(png(seed=70))
        assert wait_final(d, "x.png")["state"] == "succeeded"


def test_cancel_moves_to_failed_and_retry_brings_back(tmp):
    inbox = tmp / "inbox"
    with fake(tmp, gen_time=0.2) as api, daemon(tmp, api, inbox) as d:
        d.request("POST", "/v1/pause")
        (inbox / "c.png").write_bytes(png(seed=80))
        j = wait_job(d, "c.png")
        d.ctl("cancel", j["id"], check=0)
        wait_for(lambda: (inbox / "failed" / "c.png.error.txt").exists(), 10, "cancel note")
        assert "canceled" in (inbox / "failed" / "c.png.error.txt").read_text()
        d.request("POST", "/v1/resume")
        d.ctl("retry", j["id"], check=0)
        assert d.wait_all([j["id"]])[0]["state"] == "succeeded"
        wait_for(lambda: images_in(inbox / "done") == ["c.png"], 10, "done/c.png")
        assert names(inbox / "failed") == []


if __name__ == "__main__":
    run_tests([test_cp_and_mv_become_jobs, test_slow_writer_not_picked_up_before_close,
               test_temp_names_wait_for_the_rename, test_burst_of_1000_queued_exactly_once,
               test_duplicates_dropped_twice, test_refused_inputs_and_sidecars,
               test_symlinks_and_special_files_ignored, test_restart_with_files_in_processing,
               test_files_dropped_while_stopped, test_reload_adds_and_removes_watches,
               test_missing_folder_created_and_bad_folder_not_fatal,
               test_cancel_moves_to_failed_and_retry_brings_back])
