"""The core pipeline end to end against the stand-in provider: submissions, polling within the
limits, results on disk matching what the provider served, and the provider's answers (SPEC §4)."""

from genqtest import FakeApi, Genqd, BIN_DIR, assert_outputs_match, run_tests, write_images
from fakeapi import window_violations

FAKE_LIMITS = dict(limit=10, window=1, lockout=2, poll_interval=0.5)


def test_batch_two_keys_no_violations(tmp):
    with FakeApi(BIN_DIR, tmp / "api", keys=["test-key-0", "test-key-1"], gen_time=1.2,
                 gen_jitter=0.25, video_bytes=300000, **FAKE_LIMITS) as api, \
            Genqd(tmp / "d", api, keys={"main": 1, "second": 1}) as d:
        images = write_images(tmp / "in", 40)
        ids = d.submit(images)
        assert len(ids) == 40
        r = d.ctl("wait", *ids, "--timeout", "120")
        assert r.returncode == 0, r.stdout + r.stderr
        jobs = [d.job(i) for i in ids]
        assert all(j["state"] == "succeeded" for j in jobs)
        assert_outputs_match(api, jobs)
        stats = api.stats()
        assert stats["rate_limited_real"] == 0, stats
        assert stats["early_polls"] == 0, stats
        assert window_violations(api.log_entries(), 10, 1.0) == {}
        assert stats["submits_accepted"] == 40, stats
        assert {j["key"] for j in jobs} == {"main", "second"}
        # Outputs are named after the inputs.
        assert sorted(p.split("/")[-1] for p in (j["output"] for j in jobs))[0] == "img000.mp4"


def test_provider_answers(tmp):
    with FakeApi(BIN_DIR, tmp / "api", keys=["test-key-0"], gen_time=0.3, **FAKE_LIMITS) as api, \
            Genqd(tmp / "d", api, retry={"max_attempts": 3}) as d:
        img = write_images(tmp / "in", 1)[0]
        seeds = {"filtered": 4000000777, "bad": 4000000400, "moderated": 4000000403,
                 "rejected": 4000000422, "flaky": 4000000502, "broken": 4000000500}
        ids = {name: d.submit([img], "--seed", str(seed))[0] for name, seed in seeds.items()}
        jobs = {name: j for name, j in zip(ids, d.wait_all(list(ids.values())))}
        assert jobs["filtered"]["state"] == "succeeded"
        assert jobs["filtered"]["finish_reason"] == "CONTENT_FILTERED"
        for name, code in (("bad", "bad_request"), ("moderated", "content_moderation"),
                           ("rejected", "public_figure")):
            j = jobs[name]
            assert j["state"] == "failed" and j["error"]["code"] == code, j
            assert j["attempts"] == 1, j  # permanent: not retried
        assert jobs["flaky"]["state"] == "succeeded" and jobs["flaky"]["attempts"] == 2
        assert jobs["broken"]["state"] == "failed" and jobs["broken"]["attempts"] == 3
        assert "gave up after 3 attempts" in jobs["broken"]["error"]["message"]
        assert_outputs_match(api, jobs.values())
        events = d.get_json("/v1/jobs/%s/events" % ids["flaky"])["events"]
        assert [e["to"] for e in events] == ["queued", "submitting", "queued", "submitting",
                                            "running", "succeeded"], events


def test_bad_input_is_refused_and_nothing_sent(tmp):
    with FakeApi(BIN_DIR, tmp / "api", keys=["test-key-0"], **FAKE_LIMITS) as api, \
            Genqd(tmp / "d", api) as d:
        wrong = write_images(tmp / "in", 1, width=800, height=600, prefix="wrong")[0]
        text = tmp / "in" / "notes.png"
        text.write_text("this is not an image")
        big = tmp / "in" / "big.png"
        big.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * (11 * 1024 * 1024))
        good = write_images(tmp / "in", 1, prefix="good")[0]
        cases = [([str(wrong)], "1024x576"), ([str(text)], "image"), ([str(big)], "10 MiB"),
                 ([str(good), "--cfg-scale", "11"], "cfg_scale"),
                 ([str(good), "--motion", "0"], "motion_bucket_id"),
                 ([str(good), "--seed", "-1"], "seed"),
                 ([str(good), "--kind", "teleport"], "kind"),
                 ([str(tmp / "missing.png")], "missing.png")]
        for args, needle in cases:
            r = d.ctl("submit", *args)
            assert r.returncode == 1, (args, r.returncode, r.stderr)
            assert needle in r.stderr, (args, r.stderr)
        assert d.get_json("/v1/jobs")["jobs"] == []
        # Only the start-up balance read reached the provider; nothing of a refused job.
        st = api.stats()
        assert st["requests"] == st["balance_reads"] and st["submits"] == 0, st
        # The daemon is still up and takes good work.
        ids = d.submit([good])
        assert d.wait_all(ids)[0]["state"] == "succeeded"


def test_429_rests_the_key(tmp):
    # The stand-in injects 429s: the key rests `lockout`, no job fails, nothing is lost.
    with FakeApi(BIN_DIR, tmp / "api", keys=["test-key-0"], gen_time=0.3, fault_429=0.3,
                 seed=3, **FAKE_LIMITS) as api, \
            Genqd(tmp / "d", api, limits={"lockout": 0.5}) as d:
        ids = d.submit(write_images(tmp / "in", 8))
        jobs = d.wait_all(ids, timeout=180)
        assert all(j["state"] == "succeeded" for j in jobs), [j["error"] for j in jobs]
        assert_outputs_match(api, jobs)
        stats = api.stats()
        assert stats["rate_limited_injected"] > 0, stats
        assert stats["rate_limited_real"] == 0, stats
        metrics = d.request("GET", "/metrics")[1].decode()
        assert 'genq_key_lockouts_total{key="main"}' in metrics


def test_unauthorized_and_out_of_credit_keys(tmp):
    # "second" is unknown to the provider (401), "third" has no credits (402): all work moves
    # to "main", and the status shows why the others rest.
    with FakeApi(BIN_DIR, tmp / "api", keys=["test-key-0", "test-key-2"],
                 no_credit_keys=["test-key-2"], gen_time=0.3, **FAKE_LIMITS) as api, \
            Genqd(tmp / "d", api, keys={"main": 1, "second": 1, "third": 1}) as d:
        ids = d.submit(write_images(tmp / "in", 9))
        jobs = d.wait_all(ids)
        assert all(j["state"] == "succeeded" for j in jobs)
        assert {j["key"] for j in jobs} == {"main"}
        keys = {k["name"]: k for k in d.get_json("/v1/status")["keys"]}
        states = {name: k["state"] for name, k in keys.items()}
        # "third" rests either after its 402, or before any: its balance read (0 credits) came
        # first and it was passed over (issue 15).
        if keys["third"]["state"] == "active":
            assert keys["third"]["balance"] == 0, keys["third"]
            states["third"] = "out_of_credits"
        assert states == {"main": "active", "second": "unauthorized", "third": "out_of_credits"}
        assert "test-key-1" not in d.log() and "test-key-2" not in d.log()


def test_broken_config_and_missing_key_file(tmp):
    import subprocess
    from genqtest import GENQD
    bad = tmp / "bad.toml"
    bad.write_text('[limits]\nwindow = -1\npoll_intervall = 10\n[api]\nbase_url = "http://x"\n')
    r = subprocess.run([str(GENQD), "--config", str(bad), "--check-config"], capture_output=True,
                       text=True)
    assert r.returncode == 2, r
    for needle in ("bad.toml", "limits.window", "poll_intervall", "api.base_url"):
        assert needle in r.stderr, (needle, r.stderr)
    # A key file that is missing: genqd refuses to start, naming the key and the file.
    d = Genqd(tmp / "d", None, start=False)
    d.config.write_text(d.config.read_text().replace(
        'env = "GENQ_TEST_KEY_MAIN"', 'file = "%s"' % (tmp / "nokey")))
    r = subprocess.run([str(GENQD), "--config", str(d.config)], capture_output=True, text=True,
                       env=d.env, timeout=30)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert 'key "main"' in r.stderr and "nokey" in r.stderr, r.stderr


if __name__ == "__main__":
    run_tests([test_batch_two_keys_no_violations, test_provider_answers,
               test_bad_input_is_refused_and_nothing_sent, test_429_rests_the_key,
               test_unauthorized_and_out_of_credit_keys, test_broken_config_and_missing_key_file])
