"""Several genqd nodes on one PostgreSQL (SPEC §11), against a real PostgreSQL 15 server started
here and the stand-in provider: one queue shared by two nodes (a job submitted on one node may be
sent by the other: its input is in the database), each job sent and finished once with the right
bytes, both nodes see the whole queue; a node SIGKILLed mid-run restarts and resumes its own
generations without paying twice. Skips (passes with a line saying so) without PostgreSQL.

Not covered yet (not implemented): the per-key limit across nodes sharing one key, takeover of a
dead node's generations by a running node, LISTEN/NOTIFY wake-ups (see README.pg.md-section)."""

import signal
import sys
import time

from fakeapi import window_violations
from genqtest import BIN_DIR, FakeApi, Genqd, assert_outputs_match, run_tests, write_images
from pgserver import PgServer, pg_bin_dir

FAKE_LIMITS = dict(limit=10, window=1, lockout=2, poll_interval=0.5)


def store_table(pg, node, lease=3):
    return '[store]\nurl = "%s"\nnode = "%s"\nlease = %s\n' % (pg.url("genq"), node, lease)


def test_two_nodes_share_one_queue(tmp):
    with PgServer(tmp) as pg, \
            FakeApi(BIN_DIR, tmp / "api", keys=["test-key-0", "test-key-1"], gen_time=0.6,
                    gen_jitter=0.2, video_bytes=200000, **FAKE_LIMITS) as api:
        pg.createdb("genq")
        # Each node its own key here: the limiter does not yet share a key's window (README).
        with Genqd(tmp / "a", api, keys={"main": 1}, extra=store_table(pg, "a")) as a, \
                Genqd(tmp / "b", api, keys={"second": 1}, extra=store_table(pg, "b")) as b:
            ids = a.submit(write_images(tmp / "in", 30))
            assert len(ids) == 30
            jobs = a.wait_all(ids, timeout=180)
            assert all(j["state"] == "succeeded" for j in jobs), [j["state"] for j in jobs]
            assert_outputs_match(api, jobs)
            stats = api.stats()
            assert stats["submits_accepted"] == 30, stats  # each job sent once
            assert stats["early_polls"] == 0, stats
            assert window_violations(api.log_entries(), 10, 1.0) == {}
            # Both nodes took work from the one queue; b sent jobs only a had accepted.
            assert {j["key"] for j in jobs} == {"main", "second"}, [j["key"] for j in jobs]
            owners = pg.psql("genq", "SELECT node, count(*) FROM jobs GROUP BY node ORDER BY node")
            assert [line.split("|")[0] for line in owners.splitlines()] == ["a", "b"], owners
            # Any node's API sees the whole queue.
            assert b.job(ids[0])["id"] == ids[0]
            assert b.get_json("/v1/status")["counts"]["succeeded"] == 30
            nodes = pg.psql("genq", "SELECT name FROM nodes ORDER BY name")
            assert nodes.split() == ["a", "b"], nodes


def test_node_killed_mid_run_resumes_its_generations(tmp):
    with PgServer(tmp) as pg, \
            FakeApi(BIN_DIR, tmp / "api", keys=["test-key-0"], gen_time=2.0,
                    video_bytes=200000, **FAKE_LIMITS) as api:
        pg.createdb("genq")
        a = Genqd(tmp / "a", api, keys={"main": 1}, extra=store_table(pg, "a"))
        try:
            ids = a.submit(write_images(tmp / "in", 12))
            deadline = time.monotonic() + 60
            while api.stats()["submits_accepted"] < 6:
                assert time.monotonic() < deadline, api.stats()
                time.sleep(0.05)
            a.kill(signal.SIGKILL)
            a.start()
            jobs = a.wait_all(ids, timeout=180)
            assert all(j["state"] == "succeeded" for j in jobs), [j["state"] for j in jobs]
            assert_outputs_match(api, jobs)
            # A kill can land mid-submission once: at most one job paid twice.
            assert api.stats()["submits_accepted"] <= 12 + 1, api.stats()
            assert api.stats()["early_polls"] == 0, api.stats()
        finally:
            a.stop()


if __name__ == "__main__":
    if pg_bin_dir() is None:
        print("SKIP: no PostgreSQL server installed (apt-get install postgresql)")
        print("0 passed, 0 failed")
        sys.exit(0)
    run_tests([test_two_nodes_share_one_queue, test_node_killed_mid_run_resumes_its_generations])
