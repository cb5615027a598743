"""--fit end to end (issue 15): a 4000x3000 JPEG, a 500x900 PNG and a square WebP become
accepted video inputs through genqctl, POST /v1/jobs and a watched folder; the job records the
original dimensions and the fit; a bad fit is refused naming the field."""

import subprocess
import time

from genqtest import BIN_DIR, FakeApi, Genqd, run_tests
from test_kinds import post_job

FAKE = dict(limit=10, window=1, lockout=2, poll_interval=0.5)
# (file, original size, the video size its aspect ratio is nearest)
INPUTS = [("photo.jpg", (4000, 3000), (1024, 576)), ("tall.png", (500, 900), (576, 1024)),
          ("square.webp", (1200, 1200), (768, 768))]


def make_inputs(directory):
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(BIN_DIR / "tests" / "genq_fit_bench"), "--write", str(directory)], check=True)
    return {name: directory / name for name, _, _ in INPUTS}


def check_fitted(job, original, size, fit):
    assert job["state"] == "succeeded", job
    assert (job["input"]["width"], job["input"]["height"]) == size, job["input"]
    assert job["input"]["fit"] == fit, job["input"]
    assert job["input"]["original"] == {"width": original[0], "height": original[1]}, job["input"]


def test_fit_from_genqctl(tmp):
    files = make_inputs(tmp / "in")
    with FakeApi(BIN_DIR, tmp / "api", gen_time=0.2, **FAKE) as api, Genqd(tmp / "d", api) as d:
        # Without --fit none of them is a video size: refused before anything is sent.
        r = d.ctl("submit", str(files["photo.jpg"]))
        assert r.returncode == 1 and "1024x576" in r.stderr, r.stderr
        ids = d.submit([files[n] for n, _, _ in INPUTS], "--fit")
        assert len(ids) == 3, ids
        ids += d.submit([files["photo.jpg"]], "--fit=pad", "--param", "cfg_scale=2.0")
        jobs = d.wait_all(ids, timeout=90)
        for job, (_, original, size) in zip(jobs, INPUTS):
            check_fitted(job, original, size, "crop")
        check_fitted(jobs[3], (4000, 3000), (1024, 576), "pad")
        assert jobs[3]["params"]["cfg_scale"] == 2.0, jobs[3]["params"]
        assert jobs[0]["input"]["sha256"] != jobs[3]["input"]["sha256"]  # cropped != padded
        assert api.stats()["submits"] == 4


def test_fit_over_the_api_and_refusals(tmp):
    files = make_inputs(tmp / "in")
    with FakeApi(BIN_DIR, tmp / "api", gen_time=0.2, **FAKE) as api, Genqd(tmp / "d", api) as d:
        status, job = post_job(d, "video", files["tall.png"], {"fit": "pad"})
        assert status == 201, job
        status, bad = post_job(d, "video", files["tall.png"], {"fit": "stretch"})
        assert status == 422 and bad["code"] == "invalid_param", bad
        assert "fit" in bad["error"] and "crop" in bad["error"] and "pad" in bad["error"], bad
        status, bad = post_job(d, "core", None, {"fit": "crop", "prompt": "p"})
        assert status == 422 and "fit: needs an image" in bad["error"], bad
        done = d.wait_all([job["id"]], timeout=60)[0]
        check_fitted(done, (500, 900), (576, 1024), "pad")
        # The stored row carries the fit across a restart.
        d.stop()
        d.start()
        check_fitted(d.job(job["id"]), (500, 900), (576, 1024), "pad")
        assert api.stats()["submits"] == 1


def test_fit_in_a_watch(tmp):
    files = make_inputs(tmp / "in")
    inbox = tmp / "inbox"
    watch = {"dir": str(inbox), "kind": "video", "params": {"fit": "crop"}}
    with FakeApi(BIN_DIR, tmp / "api", gen_time=0.2, **FAKE) as api, \
            Genqd(tmp / "d", api, watches=[watch]) as d:
        inbox.mkdir(exist_ok=True)
        for name, _, _ in INPUTS:
            subprocess.run(["cp", str(files[name]), str(inbox)], check=True)
        deadline = time.monotonic() + 60
        while True:
            jobs = [j for j in d.get_json("/v1/jobs")["jobs"] if j["source"] == "watch"]
            if len(jobs) == 3 and all(j["state"] == "succeeded" for j in jobs):
                break
            assert time.monotonic() < deadline, jobs
            time.sleep(0.1)
        by_name = {j["input"]["name"]: j for j in jobs}
        for name, original, size in INPUTS:
            check_fitted(by_name[name], original, size, "crop")
            assert "fit" not in by_name[name]["params"], by_name[name]["params"]
        assert api.stats()["submits"] == 3


if __name__ == "__main__":
    run_tests([test_fit_from_genqctl, test_fit_over_the_api_and_refusals, test_fit_in_a_watch])
