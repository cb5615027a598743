"""Credits before they run out (issue 15): genqd reads each key's balance (GET /v1/user/balance,
through the key's limiter) at start-up and after a reload, shows it in /v1/status, genqctl keys
and /metrics, and passes over a key that cannot pay for the next job instead of collecting
402s: the job waits with wait_reason "credits"."""

import json
import time

from genqtest import BIN_DIR, FakeApi, Genqd, run_tests, write_images

FAKE = dict(limit=10, window=1, lockout=2, poll_interval=0.3)
VIDEO_PRICE = 20


def wait_for(what, predicate, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.1)


def balances(d):
    return {k["name"]: k["balance"] for k in d.get_json("/v1/status")["keys"]}


def test_poor_keys_are_passed_over_before_they_are_refused(tmp):
    keys = ["test-key-0", "test-key-1"]
    with FakeApi(BIN_DIR, tmp / "api", keys=keys, credits=50, gen_time=0.2, **FAKE) as api, \
            Genqd(tmp / "d", api, keys={"main": 1, "second": 1}) as d:
        wait_for("both balances", lambda: all(v == 50 for v in balances(d).values()))
        assert api.stats()["balance_reads"] >= 2
        # 50 credits pay for two 20-credit videos per key: four run, two wait for credits.
        ids = d.submit(write_images(tmp / "in", 6), "--seed", "1")
        wait_for("four done, two waiting", lambda: sorted(
            (j["state"], j["wait_reason"] or "") for j in map(d.job, ids)) ==
            [("queued", "credits")] * 2 + [("succeeded", "")] * 4)
        waiting = [j["id"] for j in map(d.job, ids) if j["state"] == "queued"]
        st = api.stats()
        assert st["refused_for_credits"] == 0, st  # never asked a key that could not pay
        assert st["submits"] == 4, st
        assert balances(d) == {"main": 10, "second": 10}, balances(d)
        out = d.ctl("keys", check=0).stdout
        assert "BALANCE" in out and "10" in out, out
        keys_json = json.loads(d.ctl("--json", "keys", check=0).stdout)
        assert [k["balance"] for k in keys_json] == [10, 10], keys_json
        status, metrics = d.request("GET", "/metrics")
        assert status == 200
        assert b'genq_key_balance_credits{key="main"} 10' in metrics, metrics
        # Refilled at the provider, the key is read again after a reload and takes the rest.
        r = api.session().post(api.url("/__credits"), json={"key": 1, "credits": 100})
        assert r.status_code == 200, r.text
        status, body = d.request("POST", "/v1/reload")
        assert status == 200, body
        jobs = d.wait_all(ids, timeout=60)
        assert all(j["state"] == "succeeded" for j in jobs), jobs
        assert api.stats()["refused_for_credits"] == 0
        assert {d.job(i)["key"] for i in waiting} == {"second"}, [j["key"] for j in jobs]
        assert balances(d)["second"] == 100 - 2 * VIDEO_PRICE


if __name__ == "__main__":
    run_tests([test_poor_keys_are_passed_over_before_they_are_refused])
