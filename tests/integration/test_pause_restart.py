"""A pause survives a restart (issue 13): `genqctl pause` (the whole queue) and `genqctl pause
--key K` are kept in the store and put back before genqd sends anything after a restart, be the
stop SIGTERM or SIGKILL; `genqctl resume` clears them for good."""

import json
import signal
import time

from genqtest import BIN_DIR, FakeApi, Genqd, run_tests, write_images

FAKE = dict(limit=50, window=1, lockout=2, poll_interval=0.2)


def restart(d, sig):
    if sig == signal.SIGTERM:
        assert d.stop() == 0, d.log()
    else:
        d.kill(signal.SIGKILL)
    d.start()


def status(d):
    return json.loads(d.ctl("--json", "status", check=0).stdout)


def key_state(d, name):
    return {k["name"]: k["state"] for k in json.loads(d.ctl("--json", "keys", check=0).stdout)}[name]


def assert_nothing_sent(api, d, ids, seconds=1.0):
    """Nothing may happen, so the test watches for a while: every check of the window must hold."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert api.stats()["submits"] == 0, api.stats()
        assert {d.job(i)["state"] for i in ids} == {"queued"}
        time.sleep(0.1)


def check_queue_pause(tmp, sig):
    with FakeApi(BIN_DIR, tmp / "api", gen_time=0.2, **FAKE) as api, \
            Genqd(tmp / "d", api) as d:
        d.ctl("pause", check=0)
        ids = d.submit(write_images(tmp / "in", 2))
        restart(d, sig)
        assert status(d)["paused"] is True
        assert "since before the restart" in d.log()
        listing = d.ctl("list", check=0).stdout
        assert "submissions paused" in listing, listing
        assert_nothing_sent(api, d, ids)
        restart(d, sig)  # and the next restart too
        assert status(d)["paused"] is True
        assert_nothing_sent(api, d, ids, 0.5)
        d.ctl("resume", check=0)
        assert all(j["state"] == "succeeded" for j in d.wait_all(ids))
        restart(d, sig)  # resume cleared it: the queue runs after a restart
        assert status(d)["paused"] is False
        more = d.submit(write_images(tmp / "in2", 1, prefix="more"))
        assert d.wait_all(more)[0]["state"] == "succeeded"


def check_key_pause(tmp, sig):
    with FakeApi(BIN_DIR, tmp / "api", keys=["test-key-0", "test-key-1"], gen_time=0.2,
                 **FAKE) as api, \
            Genqd(tmp / "d", api, keys={"main": 1, "second": 1}) as d:
        d.ctl("pause", "--key", "main", check=0)
        restart(d, sig)
        assert status(d)["paused"] is False
        assert key_state(d, "main") == "paused" and key_state(d, "second") == "active"
        ids = d.submit(write_images(tmp / "in", 4))
        jobs = d.wait_all(ids)
        assert {j["key"] for j in jobs} == {"second"}, [j["key"] for j in jobs]
        assert all(j["state"] == "succeeded" for j in jobs)
        d.ctl("resume", "--key", "main", check=0)
        restart(d, sig)
        assert key_state(d, "main") == "active"
        ids = d.submit(write_images(tmp / "in2", 1, prefix="m"), "--key", "main")
        job = d.wait_all(ids)[0]
        assert job["state"] == "succeeded" and job["key"] == "main", job
        assert api.stats()["submits"] == 5


def test_queue_pause_survives_sigterm(tmp):
    check_queue_pause(tmp, signal.SIGTERM)


def test_queue_pause_survives_sigkill(tmp):
    check_queue_pause(tmp, signal.SIGKILL)


def test_key_pause_survives_sigterm(tmp):
    check_key_pause(tmp, signal.SIGTERM)


def test_key_pause_survives_sigkill(tmp):
    check_key_pause(tmp, signal.SIGKILL)


def test_paused_key_removed_from_config_is_forgotten(tmp):
    with Genqd(tmp / "d", None, keys={"main": 1, "second": 1}) as d:
        d.ctl("pause", "--key", "second", check=0)
        d.stop()
        d.config.write_text(d.config.read_text().replace('name = "second"', 'name = "third"')
                            .replace("GENQ_TEST_KEY_SECOND", "GENQ_TEST_KEY_MAIN"))
        d.start()
        assert "key second was paused before the restart but is no longer configured" in d.log()
        assert key_state(d, "third") == "active"


if __name__ == "__main__":
    run_tests([test_queue_pause_survives_sigterm, test_queue_pause_survives_sigkill,
               test_key_pause_survives_sigterm, test_key_pause_survives_sigkill,
               test_paused_key_removed_from_config_is_forgotten])
