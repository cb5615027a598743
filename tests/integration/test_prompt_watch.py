"""Watched *.txt files for prompt-only kinds (issue 15): one job per non-empty line, the line
being the prompt; never two jobs for the same line of the same file, also when the file is saved
again with lines added and across restarts."""

import time

from genqtest import BIN_DIR, FakeApi, Genqd, run_tests

FAKE = dict(limit=10, window=1, lockout=2, poll_interval=0.5)


def watch_jobs(d):
    return sorted((j for j in d.get_json("/v1/jobs?limit=1000")["jobs"] if j["source"] == "watch"),
                  key=lambda j: j["id"])


def wait_jobs(d, n, timeout=60):
    """Waits until exactly n watch jobs exist and all are final; returns them."""
    deadline = time.monotonic() + timeout
    while True:
        jobs = watch_jobs(d)
        if len(jobs) == n and all(j["state"] in ("succeeded", "failed") for j in jobs):
            return jobs
        assert len(jobs) <= n, [j["params"] for j in jobs]
        assert time.monotonic() < deadline, [(j["input"]["name"], j["state"]) for j in jobs]
        time.sleep(0.1)


def settle(d, n, seconds=1.5):
    """No further job appears while the watcher has had time to look again."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert len(watch_jobs(d)) == n, [j["params"] for j in watch_jobs(d)]
        time.sleep(0.1)


def test_one_job_per_line_once(tmp):
    inbox = tmp / "inbox"
    watch = {"dir": str(inbox), "kind": "core", "params": {"output_format": "webp"}}
    with FakeApi(BIN_DIR, tmp / "api", gen_time=0.1, **FAKE) as api:
        d = Genqd(tmp / "d", api, watches=[watch])
        try:
            (inbox / "prompts.txt").write_text("a lighthouse\n\n   \na fox\r\na lighthouse\n")
            jobs = wait_jobs(d, 3)
            assert all(j["state"] == "succeeded" for j in jobs), jobs
            by_name = {j["input"]["name"]: j for j in jobs}
            assert sorted(by_name) == ["prompts-1", "prompts-4", "prompts-5"], sorted(by_name)
            assert by_name["prompts-4"]["params"] == {"prompt": "a fox", "output_format": "webp"}
            assert by_name["prompts-5"]["params"]["prompt"] == "a lighthouse"
            assert by_name["prompts-1"]["output"].endswith("/prompts-1.webp"), by_name
            assert (inbox / "prompts.txt").exists()  # stays, so lines can be added
            # Saved again with a line on top and one refused (too long): one new job only.
            (inbox / "prompts.txt").write_text("a moon\n" + "x" * 10001 + "\na lighthouse\n\n"
                                               "a fox\na lighthouse\n")
            jobs = wait_jobs(d, 4)
            old_ids = {j["id"] for j in by_name.values()}
            new = [j for j in jobs if j["id"] not in old_ids]
            assert len(new) == 1 and new[0]["params"]["prompt"] == "a moon", new
            # Named after its line now (line 1); the output name does not overwrite the first.
            assert new[0]["input"]["name"] == "prompts-1", new
            assert new[0]["output"] != by_name["prompts-1"]["output"], new
            settle(d, 4)
            assert "refused" in d.log() and "prompts-2" in d.log()
            d.stop()
            d.start()  # the start-up scan sees the file again: nothing new
            settle(d, 4)
            assert api.stats()["submits"] == 4
        finally:
            d.stop()


def test_text_files_in_an_image_watch_are_ignored(tmp):
    inbox = tmp / "inbox"
    watch = {"dir": str(inbox), "kind": "video", "params": {}}
    with FakeApi(BIN_DIR, tmp / "api", **FAKE) as api, Genqd(tmp / "d", api, watches=[watch]) as d:
        (inbox / "notes.txt").write_text("a fox\n")
        deadline = time.monotonic() + 20
        while "notes.txt ignored" not in d.log():
            assert time.monotonic() < deadline, d.log()
            time.sleep(0.05)
        assert watch_jobs(d) == [] and api.stats()["submits"] == 0
        assert (inbox / "notes.txt").exists()


if __name__ == "__main__":
    run_tests([test_one_job_per_line_once, test_text_files_in_an_image_watch_are_ignored])
