"""The web page in a real browser: Debian's chromium, driven by playwright-core (tests/web/).
genqd with an [http] listener and a token, the stand-in making real zoom videos; the page is
opened once with ?token=, queues two images, follows them live over SSE, plays and downloads
the results, cancels and retries a job, and runs an upscale (another kind, its own parameters,
an image shown in place). The wrapper document's own browser example, embedded
in the same page, runs against a listener without a token and plays the stand-in's built-in clip.

Needs node, npm and /usr/bin/chromium (scripts/deps.sh installs them); playwright-core is
installed with `npm ci` into <build dir>/web-node, outside the source tree. GENQ_WEB_SCREENSHOT=FILE
keeps the screenshot (docs/web-page.png is made that way)."""

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from genqtest import BIN_DIR, FakeApi, Genqd, genqd_on_free_port, run_tests
from images import make_scene

SOURCE = Path(__file__).resolve().parents[2]
# The wrapper's reference document, when it is at hand (as in test_wrapper.py).
REFERENCE = SOURCE.parent / "shared" / "reference" / "img2video-wrapper-api.md"
WEB = SOURCE / "tests" / "web"
NODE_DIR = BIN_DIR / "web-node"
CHROMIUM = os.environ.get("GENQ_CHROMIUM", "/usr/bin/chromium")
TOKEN = "page-token-0123"
FAKE = dict(limit=100, window=1, lockout=2, poll_interval=0.2)


def listener(port, token=None):
    return '[http]\nlisten = "127.0.0.1:%d"\n' % port + ('token = "%s"\n' % token if token else "")


def missing_tools():
    need = [t for t in ("node", "npm") if shutil.which(t) is None]
    if not os.access(CHROMIUM, os.X_OK):
        need.append(CHROMIUM)
    return need


def node_modules():
    """playwright-core as pinned by tests/web/package-lock.json, installed once per build dir."""
    NODE_DIR.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json", "page_test.mjs"):
        shutil.copy2(WEB / name, NODE_DIR / name)
    stamp = NODE_DIR / "node_modules" / ".genq-lock"
    lock = (WEB / "package-lock.json").read_bytes()
    if not stamp.exists() or stamp.read_bytes() != lock:
        r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR,
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, "npm ci failed in %s:\n%s%s" % (NODE_DIR, r.stdout, r.stderr)
        stamp.write_bytes(lock)
    return NODE_DIR / "page_test.mjs"


def drive(script, *args, timeout=300):
    env = dict(os.environ, GENQ_CHROMIUM=CHROMIUM)
    for proxy in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"):
        env.pop(proxy, None)  # loopback only
    r = subprocess.run(["node", str(script), *map(str, args)], cwd=NODE_DIR, env=env,
                       capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, "the browser run failed:\n%s\n%s" % (r.stdout[-3000:], r.stderr[-3000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def images(tmp):
    (tmp / "in").mkdir(parents=True, exist_ok=True)
    out = []
    for name, (w, h), seed in (("hills.png", (1024, 576), 1), ("tower.png", (576, 1024), 2)):
        p = tmp / "in" / name
        p.write_bytes(make_scene(w, h, seed=seed))
        out.append(p)
    return out


def test_query_token_only_where_a_browser_needs_it(tmp):
    """`?token=` stands in for the header on GET / and GET /v1/events only."""
    import requests
    s = requests.Session()
    s.trust_env = False
    with genqd_on_free_port(lambda p: Genqd(tmp / "d", extra=listener(p, TOKEN))) as d:
        base = "http://127.0.0.1:%d" % d.listen_port
        assert s.get(base + "/", timeout=10).status_code == 401
        assert s.get(base + "/?token=wrong", timeout=10).status_code == 401
        page = s.get(base + "/?token=" + TOKEN, timeout=10)
        assert page.status_code == 200 and 'id="queue"' in page.text, page.status_code
        assert "async function generateVideo()" in page.text  # the wrapper's example is kept
        if REFERENCE.exists():  # ... as the document has it (trailing blanks aside)
            doc = re.search(r"```javascript\n(.*?)```", REFERENCE.read_text(), re.S).group(1)
            norm = lambda t: "\n".join(line.rstrip() for line in t.splitlines())  # noqa: E731
            assert norm(doc) in norm(page.text), "the wrapper's browser example changed"
        for method, path in (("GET", "/v1/status"), ("GET", "/v1/jobs"), ("POST", "/v1/pause"),
                             ("GET", "/metrics"), ("HEAD", "/"), ("POST", "/v1/events")):
            r = s.request(method, base + path + "?token=" + TOKEN, timeout=10)
            assert r.status_code == 401, (method, path, r.status_code)
        with s.get(base + "/v1/events?token=" + TOKEN, stream=True, timeout=10) as r:
            assert r.status_code == 200 and r.headers["content-type"] == "text/event-stream"
            assert next(r.iter_lines(chunk_size=1)) == b"event: hello"
        with s.get(base + "/v1/events?token=nope", stream=True, timeout=10) as r:
            assert r.status_code == 401
        assert d.get_json("/v1/status")["paused"] is False  # POST /v1/pause?token= did nothing
        assert TOKEN not in d.log()


def test_page_queues_follows_plays_cancels_retries(tmp):
    if missing_tools():
        print("  SKIP: not installed: %s (scripts/deps.sh)" % ", ".join(missing_tools()))
        return
    script = node_modules()
    shot = Path(os.environ.get("GENQ_WEB_SCREENSHOT", tmp / "web-page.png"))
    (tmp / "downloads").mkdir()
    with FakeApi(BIN_DIR, tmp / "api", gen_time=2.5, gen_jitter=0, video_bytes=0,
                 videos="zoom", **FAKE) as api, \
            genqd_on_free_port(lambda p: Genqd(tmp / "d", api, extra=listener(p, TOKEN))) as d:
        base = "http://127.0.0.1:%d" % d.listen_port
        out = drive(script, "app", base, TOKEN, *images(tmp), "--shot", shot,
                    "--downloads", tmp / "downloads")
        jobs = {j: d.job(j) for j in out["jobs"] + [out["late_job"], out["upscale_job"]]}
        log = d.log()
    assert out["errors"] == [], out["errors"]
    assert out["token_kept"] == TOKEN
    assert out["after_reload"] == out["jobs"], out["after_reload"]
    assert len(out["jobs"]) == 2 and all(jobs[j]["state"] == "succeeded" for j in jobs), jobs
    sizes = sorted((v["width"], v["height"]) for v in out["durations"])
    assert sizes == [(288, 512), (512, 288)], out["durations"]
    assert all(abs(v["duration"] - 2.0) < 0.05 for v in out["durations"]), out["durations"]
    for j in out["jobs"]:
        seen = out["states"][j]
        # Moved live: the card showed the job running before it succeeded, without a reload.
        assert "running" in seen and seen[-1] == "succeeded", (j, seen)
        assert jobs[j]["params"]["motion_bucket_id"] in (90, "90"), jobs[j]["params"]
    first = jobs[out["jobs"][0]]
    assert out["download_name"] == Path(first["output"]).name, out["download_name"]
    assert sha256(out["download_file"]) == sha256(first["output"]), "download differs"
    late = out["late_states"]
    assert late.index("canceled") < late.index("queued", late.index("canceled")), late
    assert late[-1] == "succeeded" and jobs[out["late_job"]]["attempts"] >= 1, late
    up = jobs[out["upscale_job"]]
    assert up["kind"] == "upscale" and up["params"]["prompt"] == "the same hills, sharper", up
    assert up["output"].endswith(".png") and min(out["upscale_image"]) > 0, out["upscale_image"]
    assert Path(out["screenshot"]).stat().st_size > 10000
    assert TOKEN not in log, "the token reached genqd's log"


def test_wrapper_example_still_works_in_the_page(tmp):
    if missing_tools():
        print("  SKIP: not installed: %s (scripts/deps.sh)" % ", ".join(missing_tools()))
        return
    script = node_modules()
    # The stand-in's built-in clip this time (what a machine without ffmpeg gets): it plays too.
    with FakeApi(BIN_DIR, tmp / "api", gen_time=0.5, video_bytes=0, **FAKE) as api, \
            genqd_on_free_port(lambda p: Genqd(tmp / "d", api, extra=listener(p))) as d:
        out = drive(script, "wrapper", "http://127.0.0.1:%d" % d.listen_port, images(tmp)[0])
    assert out["errors"] == [], out["errors"]
    assert abs(out["video"]["duration"] - 2.0) < 0.05, out
    assert (out["video"]["width"], out["video"]["height"]) == (64, 32), out
    assert out["card_video"]["duration"] == out["video"]["duration"] and not out["token_asked"], out
    assert "Video generation complete!" in out["status_text"], out["status_text"]


if __name__ == "__main__":
    run_tests([test_query_token_only_where_a_browser_needs_it,
               test_page_queues_follows_plays_cancels_retries,
               test_wrapper_example_still_works_in_the_page])
