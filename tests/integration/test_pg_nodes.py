"""Several genqd nodes on one PostgreSQL (SPEC §11), against a real PostgreSQL 15 server started
here and the stand-in provider: one queue shared by two nodes (a job submitted on one node may be
sent by the other: its input is in the database), each job sent and finished once with the right
bytes, both nodes see the whole queue; a node SIGKILLed mid-run restarts and resumes its own
generations without paying twice; three nodes sharing two keys keep each key's limit exact
together (the stand-in counts every window), rest a key on every node after a 429 one of them
saw, and take over a dead node's generations while they run. Skips (passes with a line saying
so) without PostgreSQL."""

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
        # Each node its own key here (nodes sharing keys: the three-node test below).
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
            # The job JSON names the node that held its generation; status lists the nodes.
            assert {j["node"] for j in jobs} == {"a", "b"}, [j["node"] for j in jobs]
            status = b.get_json("/v1/status")
            assert status["node"] == "b", status
            assert [(n["name"], n["alive"]) for n in status["nodes"]] == \
                [("a", True), ("b", True)], status["nodes"]
            shown = b.ctl("status").stdout
            assert "NODE" in shown and "b (this)" in shown and "alive" in shown, shown


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


def wait_until(what, condition, timeout):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.1)


def test_three_nodes_two_keys_one_killed_for_good(tmp):
    n_jobs = 200
    with PgServer(tmp) as pg, \
            FakeApi(BIN_DIR, tmp / "api", keys=["test-key-0", "test-key-1"], gen_time=1.0,
                    gen_jitter=0.3, video_bytes=20000, fault_429=0.01, fault_429_lockout=True,
                    lockout_grace=0.25, **FAKE_LIMITS) as api:
        pg.createdb("genq")
        keys = {"main": 1, "second": 1}
        nodes = {n: Genqd(tmp / n, api, keys=keys, extra=store_table(pg, n)) for n in "abc"}
        a, b, c = nodes["a"], nodes["b"], nodes["c"]
        try:
            images = write_images(tmp / "in", n_jobs)
            ids = []
            for i, node in enumerate((a, b, c)):  # every node accepts work
                ids += node.submit(images[i::3])
            assert len(ids) == n_jobs
            accepted = lambda: api.stats()["submits_accepted"]
            wait_until("40 submissions", lambda: accepted() >= 40, 120)
            b.kill(signal.SIGKILL)
            b.start()
            wait_until("90 submissions", lambda: accepted() >= 90, 180)
            c_running = "SELECT count(*) FROM jobs WHERE node='c' AND state='running'"
            wait_until("c running generations", lambda: int(pg.psql("genq", c_running)) >= 2, 120)
            c.kill(signal.SIGKILL)  # for good: its generations must finish elsewhere
            # What it held when it died (a takeover waits for the lease: nothing moved yet).
            held = pg.psql("genq", "SELECT id FROM jobs WHERE node='c' AND "
                                   "state IN ('submitting','running')").split()
            final = "SELECT count(*) FROM jobs WHERE state NOT IN ('succeeded','failed','canceled')"
            wait_until("every job final", lambda: pg.psql("genq", final) == "0", 300)

            jobs = [a.job(i) for i in ids]
            assert all(j["state"] == "succeeded" for j in jobs), \
                [(j["id"], j["state"], j["error"]) for j in jobs if j["state"] != "succeeded"]
            assert_outputs_match(api, jobs)
            # Each job ended once.
            twice = pg.psql("genq", "SELECT job_id FROM job_events WHERE to_state='succeeded' "
                                    "GROUP BY job_id HAVING count(*) <> 1")
            assert twice == "", twice
            # c held generations when it died; they finished on the nodes left, no restart.
            assert len(held) >= 1, held
            by_id = {j["id"]: j for j in jobs}
            assert all(by_id[i]["node"] in ("a", "b") for i in held), \
                [(i, by_id[i]["node"]) for i in held]
            # A generation paid twice only for a submission a kill interrupted.
            interrupted = int(pg.psql("genq", "SELECT count(*) FROM job_events WHERE detail LIKE "
                                              "'%outcome of the interrupted submission is unknown%'"))
            stats = api.stats()
            assert stats["submits_accepted"] - n_jobs <= interrupted, (stats, interrupted)
            # The provider's rules held on every key, whichever node sent.
            assert window_violations(api.log_entries(), 10, 1.0) == {}, \
                window_violations(api.log_entries(), 10, 1.0)
            assert stats["early_polls"] == 0, stats
            assert stats["lockouts"] == 0, stats  # no real violation
            assert stats["rate_limited_injected"] >= 1, stats  # the lock-out path was exercised
            assert stats["requests_in_lockout"] == 0, stats
            print("  %d jobs, %d requests, %d submissions (%d interrupted), %d injected 429s"
                  % (n_jobs, stats["requests"], stats["submits_accepted"], interrupted,
                     stats["rate_limited_injected"]))
        finally:
            for node in nodes.values():
                node.stop()


def test_cancel_and_pause_on_another_node_reach_the_owner(tmp):
    with PgServer(tmp) as pg, \
            FakeApi(BIN_DIR, tmp / "api", keys=["test-key-0", "test-key-1"], gen_time=30,
                    video_bytes=20000, **FAKE_LIMITS) as api:
        pg.createdb("genq")
        # b has no key "main": the job (which asks for it) can only be a's.
        budget = "[budget]\ndaily_credits = 100000\n"
        with Genqd(tmp / "a", api, keys={"main": 1}, extra=store_table(pg, "a") + budget) as a, \
                Genqd(tmp / "b", api, keys={"second": 1},
                      extra=store_table(pg, "b") + budget) as b:
            [job_id] = a.submit(write_images(tmp / "in", 1), "--key", "main")
            wait_until("running", lambda: a.job(job_id)["state"] == "running", 60)
            wait_until("a first poll", lambda: api.stats()["polls"] >= 1, 60)
            status, body = b.request("POST", "/v1/jobs/%s/cancel" % job_id)
            assert status == 200, (status, body)
            # The owner hears it through the wake-up (no transition of its own would tell it
            # for the 30 s the generation runs): its polling ends.
            wait_until("the owner drops the job",
                       lambda: "canceled by another node" in a.log(), 10)
            polls = api.stats()["polls"]
            # An observation window of four poll intervals: no poll in it, but the one that may
            # have been on its way when the owner dropped the job (as in test_control).
            time.sleep(2)
            assert api.stats()["polls"] <= polls + 1, (polls, api.stats()["polls"])
            assert a.job(job_id)["state"] == "canceled"
            # Pause and resume on one node act on every node.
            b.ctl("pause", check=0)
            wait_until("a paused", lambda: a.get_json("/v1/status")["paused"], 10)
            b.ctl("resume", check=0)
            wait_until("a resumed", lambda: not a.get_json("/v1/status")["paused"], 10)
            # And so does lifting today's budget.
            assert not a.get_json("/v1/status")["budget"]["override"]
            b.ctl("resume", "--budget", check=0)
            wait_until("a's budget lifted",
                       lambda: a.get_json("/v1/status")["budget"]["override"], 10)


def test_takeover_by_a_node_whose_clock_is_off_polls_on_time(tmp):
    # The new owner's clock runs 30 s ahead of the others' and the database's
    # (GENQ_TEST_CLOCK_OFFSET_S, a test-only setting of genqd), and the stand-in's poll interval
    # is longer than the lease: the takeover must still keep every poll's distance and every
    # key's window. (The recovery waits a whole interval from the takeover whatever the last
    # poll says, and reservations are in the database's clock, so this passes even without the
    # offset conversion; the conversion itself is checked by the store contract's case "times
    # shared by nodes are in the database's clock".)
    poll = 6
    limits = {"poll_interval": poll}
    with PgServer(tmp) as pg, \
            FakeApi(BIN_DIR, tmp / "api", keys=["test-key-0"], gen_time=22, video_bytes=20000,
                    limit=10, window=1, lockout=2, poll_interval=poll) as api:
        pg.createdb("genq")
        a = Genqd(tmp / "a", api, keys={"main": 1}, limits=limits,
                  extra=store_table(pg, "a", lease=2))
        b = None
        try:
            ids = a.submit(write_images(tmp / "in", 3))
            wait_until("every job polled", lambda: api.stats()["polls"] >= 3, 60)
            b = Genqd(tmp / "b", api, keys={"main": 1}, limits=limits,
                      extra=store_table(pg, "b", lease=2),
                      env={"GENQ_TEST_CLOCK_OFFSET_S": "30"})
            polls = api.stats()["polls"]
            wait_until("another poll by a", lambda: api.stats()["polls"] > polls, 30)
            a.kill(signal.SIGKILL)  # right after a poll: the next must still keep its distance
            final = "SELECT count(*) FROM jobs WHERE state NOT IN ('succeeded','failed','canceled')"
            wait_until("every job final", lambda: pg.psql("genq", final) == "0", 120)
            jobs = [b.job(i) for i in ids]
            assert all(j["state"] == "succeeded" for j in jobs), [j["state"] for j in jobs]
            assert all(j["node"] == "b" for j in jobs), [j["node"] for j in jobs]
            assert_outputs_match(api, jobs)
            assert "taken over" in b.log() and "runs 30 s off" in b.log()
            stats = api.stats()
            assert stats["early_polls"] == 0, stats
            assert stats["submits_accepted"] == 3, stats
            assert window_violations(api.log_entries(), 10, 1.0) == {}
        finally:
            a.stop()
            if b:
                b.stop()


def granted_reservations(node):
    """The node's reservations the shared limiter granted (its /metrics)."""
    status, body = node.request("GET", "/metrics")
    assert status == 200, status
    for line in body.decode().splitlines():
        if line.startswith('genq_shared_reservations_total{answer="granted"}'):
            return int(float(line.split()[-1]))
    return 0


def test_database_restarted_mid_run(tmp):
    n_jobs = 60
    with PgServer(tmp) as pg, \
            FakeApi(BIN_DIR, tmp / "api", keys=["test-key-0", "test-key-1"], gen_time=1.0,
                    gen_jitter=0.3, video_bytes=20000, **FAKE_LIMITS) as api:
        pg.createdb("genq")
        keys = {"main": 1, "second": 1}
        nodes = [Genqd(tmp / n, api, keys=keys, extra=store_table(pg, n, lease=5)) for n in "ab"]
        try:
            ids = nodes[0].submit(write_images(tmp / "in", n_jobs))
            assert len(ids) == n_jobs
            wait_until("15 submissions", lambda: api.stats()["submits_accepted"] >= 15, 120)
            pg.stop()  # fast shutdown: every connection dropped
            # Both nodes notice (their status needs the store: 503, not a dead socket) ...
            for node in nodes:
                wait_until("503 from " + str(node.dir),
                           lambda: node.request("GET", "/v1/status")[0] == 503, 30)
            # A write needs the store: 503, and it changes nothing (the job still succeeds).
            status, body = nodes[1].request("POST", "/v1/jobs/%s/cancel" % ids[-1])
            assert status == 503, (status, body)
            # ... and, with no reservation possible, send nothing: an observation window of
            # three provider windows in which the stand-in must see no request at all.
            before = api.stats()["requests"]
            time.sleep(3)
            assert api.stats()["requests"] == before, (before, api.stats()["requests"])
            pg.start()
            final = "SELECT count(*) FROM jobs WHERE state NOT IN ('succeeded','failed','canceled')"
            wait_until("every job final", lambda: pg.psql("genq", final) == "0", 240)
            for node in nodes:  # both alive all along: reconnected, not restarted
                assert node.proc.poll() is None, node.log()[-2000:]
            jobs = [nodes[0].job(i) for i in ids]
            assert all(j["state"] == "succeeded" for j in jobs), \
                [(j["id"], j["state"], j["error"]) for j in jobs if j["state"] != "succeeded"]
            assert_outputs_match(api, jobs)
            twice = pg.psql("genq", "SELECT job_id FROM job_events WHERE to_state='succeeded' "
                                    "GROUP BY job_id HAVING count(*) <> 1")
            assert twice == "", twice
            stats = api.stats()
            assert window_violations(api.log_entries(), 10, 1.0) == {}
            assert stats["early_polls"] == 0, stats
            assert stats["lockouts"] == 0, stats
            # Every request the stand-in saw had a reservation in the store.
            granted = sum(granted_reservations(n) for n in nodes)
            assert stats["requests"] <= granted, (stats["requests"], granted)
            print("  %d requests, %d reservations granted, %d submissions for %d jobs"
                  % (stats["requests"], granted, stats["submits_accepted"], n_jobs))
        finally:
            for node in nodes:
                node.stop()


if __name__ == "__main__":
    if pg_bin_dir() is None:
        print("SKIP: no PostgreSQL server installed (apt-get install postgresql)")
        print("0 passed, 0 failed")
        sys.exit(0)
    run_tests([test_two_nodes_share_one_queue, test_node_killed_mid_run_resumes_its_generations,
               test_three_nodes_two_keys_one_killed_for_good, test_database_restarted_mid_run,
               test_cancel_and_pause_on_another_node_reach_the_owner,
               test_takeover_by_a_node_whose_clock_is_off_polls_on_time])
