"""The wrapper-compatible API on the TCP listener ([http] listen), with Python `requests`: the
reference document's Python example runs unchanged (only its host, image path and poll sleep
differ), and every answer is checked field for field; /processed_videos with Range; tokens."""

import re
import subprocess
import sys
from pathlib import Path

import requests

from genqtest import BIN_DIR, FakeApi, Genqd, free_port, genqd_on_free_port, run_tests, write_images

HERE = Path(__file__).resolve().parent
# The Python example of the wrapper's reference document, byte for byte (checked against the
# document when it is at hand).
EXAMPLE = HERE / "wrapper_example.py"
REFERENCE = HERE.parents[2] / "shared" / "reference" / "img2video-wrapper-api.md"
FAKE = dict(limit=50, window=1, lockout=2, poll_interval=0.2)


def listener(port, token=None, host="127.0.0.1"):
    text = '[http]\nlisten = "%s:%d"\n' % (host, port)
    return text + ('token = "%s"\n' % token if token else "")


def reference_example():
    code = EXAMPLE.read_text()
    if REFERENCE.exists():
        doc = re.search(r"```python\n(.*?)```", REFERENCE.read_text(), re.S).group(1)
        assert doc == code, "wrapper_example.py differs from " + str(REFERENCE)
    return code


def session():
    s = requests.Session()
    s.trust_env = False  # no proxy for loopback
    return s


def test_reference_python_example_runs_unchanged(tmp):
    with FakeApi(BIN_DIR, tmp / "api", gen_time=1.0, video_bytes=50000, **FAKE) as api, \
            genqd_on_free_port(lambda p: Genqd(tmp / "d", api, extra=listener(p))) as d:
        port = d.listen_port
        image = write_images(tmp / "in", 1)[0]
        code = reference_example()
        assert "http://your-website.com" in code and "path/to/your/image.jpg" in code
        code = code.replace("http://your-website.com", "http://127.0.0.1:%d" % port)
        code = code.replace("path/to/your/image.jpg", str(image))
        script = tmp / "example.py"
        script.write_text(code)
        # The example sleeps 5 s between polls; the shim shortens that, nothing else.
        shim = ("import os, time\n_sleep = time.sleep\ntime.sleep = lambda s: _sleep(0.2)\n"
                "os.environ.pop('http_proxy', None); os.environ.pop('HTTP_PROXY', None)\n"
                "exec(compile(open(%r).read(), %r, 'exec'))\n" % (str(script), str(script)))
        r = subprocess.run([sys.executable, "-c", shim], capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        out = r.stdout
        assert "Generation started with ID: " in out, out
        assert out.count("Checking status...") >= 2, out  # saw at least one 202 first
        assert "Video generation complete!" in out, out
        m = re.search(r"Video URL: (http://127\.0\.0\.1:%d/processed_videos/\S+\.mp4)" % port, out)
        assert m, out
        assert "Finish reason: SUCCESS" in out and re.search(r"Seed: \d+", out), out
        video = session().get(m.group(1), timeout=10)
        assert video.status_code == 200 and len(video.content) == 50000
        assert video.headers["content-type"] == "video/mp4"
        job_id = re.search(r"ID: (\S+)", out).group(1)
        job = d.job(job_id)
        assert job["source"] == "http" and job["params"]["cfg_scale"] == 1.5
        assert job["uid"] is None  # no peer credentials over TCP


def test_wrapper_answers_field_for_field(tmp):
    with FakeApi(BIN_DIR, tmp / "api", gen_time=1.0, video_bytes=100000, **FAKE) as api, \
            genqd_on_free_port(lambda p: Genqd(tmp / "d", api, extra=listener(p))) as d:
        base = "http://127.0.0.1:%d" % d.listen_port
        s = session()
        image = write_images(tmp / "in", 1)[0]

        def start(**params):
            with open(image, "rb") as f:
                return s.post(base + "/api/img2video", files={"image": (image.name, f)},
                              data=params, timeout=10)

        r = start(seed=0, cfg_scale=1.5, motion_bucket_id=127)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body == {"success": True, "id": body["id"], "message":
                        "Video generation started. Poll for results using the returned ID."}
        gid = body["id"]
        r = s.get(base + "/api/img2video/result/" + gid, timeout=10)
        assert r.status_code == 202 and r.json() == {
            "status": "in-progress",
            "message": "Video generation is still in progress. Try again in a few seconds."}
        d.wait_all([gid])
        r = s.get(base + "/api/img2video/result/" + gid, timeout=10)
        assert r.status_code == 200, r.text
        res = r.json()
        assert set(res) == {"status", "video_url", "finish_reason", "seed"}, res
        assert res["status"] == "complete" and res["finish_reason"] == "SUCCESS"
        assert isinstance(res["seed"], str) and res["seed"].isdigit(), res
        assert re.fullmatch(r"/processed_videos/[^/]+\.mp4", res["video_url"]), res
        # Content filtered is a success with its own finish reason.
        fid = start(seed=4000000777).json()["id"]
        d.wait_all([fid])
        r = s.get(base + "/api/img2video/result/" + fid, timeout=10)
        assert r.status_code == 200 and r.json()["finish_reason"] == "CONTENT_FILTERED"
        # Unknown id: 404; failed job: 500; both {"error": ...}.
        r = s.get(base + "/api/img2video/result/doesnotexist", timeout=10)
        assert r.status_code == 404 and list(r.json()) == ["error"]
        bad = start(seed=4000000400).json()["id"]
        d.wait_all([bad])
        r = s.get(base + "/api/img2video/result/" + bad, timeout=10)
        assert r.status_code == 500 and list(r.json()) == ["error"] and r.json()["error"]
        # Bad input: 400 {"error"}.
        r = start(cfg_scale=11)
        assert r.status_code == 400 and "cfg_scale" in r.json()["error"], r.text
        r = s.post(base + "/api/img2video", files={"image": ("x.png", b"not an image")},
                   timeout=10)
        assert r.status_code == 400 and list(r.json()) == ["error"]
        # The video: content type, ranges (a browser's video element seeks with them).
        video_url = base + res["video_url"]
        whole = s.get(video_url, timeout=10)
        assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
        assert whole.headers["accept-ranges"] == "bytes" and len(whole.content) == 100000
        r = s.get(video_url, headers={"Range": "bytes=100-199"}, timeout=10)
        assert r.status_code == 206 and r.content == whole.content[100:200]
        assert r.headers["content-range"] == "bytes 100-199/100000"
        r = s.get(video_url, headers={"Range": "bytes=-10"}, timeout=10)
        assert r.status_code == 206 and r.content == whole.content[-10:]
        r = s.get(video_url, headers={"Range": "bytes=99990-"}, timeout=10)
        assert r.status_code == 206 and len(r.content) == 10
        r = s.get(video_url, headers={"Range": "bytes=200000-"}, timeout=10)
        assert r.status_code == 416 and r.headers["content-range"] == "bytes */100000"
        r = s.head(video_url, timeout=10)
        assert r.status_code == 200 and r.headers["content-length"] == "100000"
        for path in ("/processed_videos/..%2Fgenq.toml", "/processed_videos/nothing.mp4",
                     "/processed_videos/.hidden"):
            assert s.get(base + path, timeout=10).status_code == 404, path
        # The browser example is served as a page; a cross-site form POST is refused.
        page = s.get(base + "/", timeout=10)
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert "async function generateVideo()" in page.text and 'id="imageInput"' in page.text
        with open(image, "rb") as f:
            r = s.post(base + "/api/img2video", files={"image": (image.name, f)},
                       headers={"Origin": "http://evil.example"}, timeout=10)
        assert r.status_code == 403
        with open(image, "rb") as f:
            r = s.post(base + "/api/img2video", files={"image": (image.name, f)},
                       headers={"Origin": base}, timeout=10)
        assert r.status_code == 200
        # The /v1 API is on the listener too.
        assert s.get(base + "/v1/status", timeout=10).json()["counts"]["succeeded"] >= 2


def test_tokens(tmp):
    with genqd_on_free_port(lambda p: Genqd(tmp / "d", extra=listener(p, token="s3cret-token"))) \
            as d:
        base = "http://127.0.0.1:%d" % d.listen_port
        s = session()
        r = s.get(base + "/v1/status", timeout=10)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        r = s.get(base + "/v1/status", headers={"Authorization": "Bearer wrong"}, timeout=10)
        assert r.status_code == 401
        r = s.get(base + "/v1/status", headers={"Authorization": "Bearer s3cret-token"},
                  timeout=10)
        assert r.status_code == 200
        image = write_images(tmp / "in", 1)[0]
        with open(image, "rb") as f:
            r = s.post(base + "/api/img2video", files={"image": f}, timeout=10)
        assert r.status_code == 401
        assert d.get_json("/v1/status")["paused"] is False  # the socket needs no token
        assert "s3cret-token" not in d.log()
    # A listener beyond loopback without a token: genqd refuses to start (exit 2).
    bad = Genqd(tmp / "open", extra=listener(free_port(), host="0.0.0.0"), start=False)
    r = subprocess.run([str(BIN_DIR / "genqd"), "--config", str(bad.config)],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 2 and "http.token" in r.stdout + r.stderr, (r.returncode, r.stderr)
    assert "loopback" in r.stdout + r.stderr


if __name__ == "__main__":
    run_tests([test_reference_python_example_runs_unchanged, test_wrapper_answers_field_for_field,
               test_tokens])
