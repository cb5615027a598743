"""Hostile and broken input (issue 7): a catalogue of bad requests over the control socket (raw
HTTP), the wrapper API on the TCP listener, the watched folder and the config file. Each must get
a clear error (a fitting status and a message naming the field), the daemon stays up, a good job
submitted alongside is unaffected, and nothing is lost. The catalogue is printed as a table at
the end (README.md, "Hostile and broken inputs", lists the same cases)."""

import json
import math
import os
import socket
import struct
import subprocess
import time
import uuid
from pathlib import Path

from genqtest import (FakeApi, Genqd, BIN_DIR, GENQD, assert_outputs_match, genqd_on_free_port,
                      run_tests, write_images)
from images import make_jpeg_header, make_png

FAKE_LIMITS = dict(limit=10, window=1, lockout=2, poll_interval=0.5)
CATALOGUE = []  # (surface, input, expected, got, ok)


# ---- raw HTTP ----------------------------------------------------------------------------------
def raw(address, data, timeout=20):
    """Sends bytes, returns (status or None, body bytes). address: a Unix path or (host, port)."""
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(address)
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer (413/431) and close before reading everything
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        chunks = []
        while True:
            try:
                c = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not c:
                break
            chunks.append(c)
    finally:
        s.close()
    resp = b"".join(chunks)
    if not resp.startswith(b"HTTP/1.1 "):
        return None, resp
    head, _, body = resp.partition(b"\r\n\r\n")
    return int(head[9:12]), body


def request_bytes(method, target, body=b"", headers=None, host="genq"):
    h = {"Host": host, "Connection": "close"}
    if body or method == "POST":
        h["Content-Length"] = str(len(body))
    h.update(headers or {})
    lines = ["%s %s HTTP/1.1" % (method, target)] + ["%s: %s" % kv for kv in h.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def multipart(fields, boundary=None):
    """fields: [(name, value bytes|str, filename or None)] -> (content type, body)."""
    boundary = boundary or "genq" + uuid.uuid4().hex
    out = b""
    for name, value, filename in fields:
        if isinstance(value, str):
            value = value.encode()
        disp = b'Content-Disposition: form-data; name="' + name.encode() + b'"'
        if filename is not None:
            fn = filename if isinstance(filename, bytes) else filename.encode()
            disp += b'; filename="' + fn + b'"'
        out += b"--" + boundary.encode() + b"\r\n" + disp + b"\r\n"
        if filename is not None:
            out += b"Content-Type: application/octet-stream\r\n"
        out += b"\r\n" + value + b"\r\n"
    out += b"--" + boundary.encode() + b"--\r\n"
    return "multipart/form-data; boundary=" + boundary, out


def post_form(address, path, fields, **kw):
    ct, body = multipart(fields)
    return raw(address, request_bytes("POST", path, body, {"Content-Type": ct}), **kw)


def record(surface, what, expected, got, ok):
    CATALOGUE.append((surface, what, expected, got, ok))


def expect(surface, what, result, statuses, needle):
    """The answer has one of `statuses` and its error message names `needle`."""
    status, body = result
    text = body.decode("utf-8", "replace")
    message = text
    try:
        j = json.loads(text)
        message = j.get("error") or text if isinstance(j, dict) else text
    except ValueError:
        pass
    ok = status in statuses and (needle is None or needle.lower() in message.lower())
    record(surface, what, "%s %s" % ("/".join(map(str, statuses)), needle or ""),
           "%s %s" % (status, message[:90].replace("\n", " ")), ok)


def good_image(tmp, name="good"):
    return write_images(tmp / "in", 1, prefix=name)[0].read_bytes()


# ---- the catalogue over the socket and the TCP listener -----------------------------------------
def socket_cases(sock, png, tmp):
    S = "socket"
    ct_ok, body_ok = multipart([("image", png, "cat.png")])

    # HTTP framing.
    expect(S, "request header of 20 KiB", raw(sock, request_bytes(
        "GET", "/v1/status", headers={"X-Junk": "a" * 20000})), [431], "header")
    expect(S, "2,000 small headers", raw(sock, request_bytes(
        "GET", "/v1/status", headers={"X-H%d" % i: "v" for i in range(2000)})), [431], "header")
    expect(S, "garbage request line", raw(sock, b"\x00\x01\x02 nonsense\r\n\r\n"), [400, None],
           None)
    expect(S, "bad chunked encoding", raw(sock, b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\n"
                                          b"Transfer-Encoding: chunked\r\n\r\nzz\r\n"), [400, None],
           None)
    status, _ = raw(sock, request_bytes("POST", "/v1/jobs", body_ok[:100],
                                        {"Content-Type": ct_ok,
                                         "Content-Length": str(len(body_ok))}), timeout=5)
    record(S, "Content-Length longer than the body, then EOF", "no job, connection closed",
           str(status), status in (None, 400))
    body = b"\0" * (33 * 1024 * 1024)
    expect(S, "33 MiB body (limit 32 MiB)", raw(sock, request_bytes(
        "POST", "/v1/jobs", body, {"Content-Type": "multipart/form-data; boundary=x"})), [413],
        "too large")

    # Multipart.
    expect(S, "multipart without boundary", raw(sock, request_bytes(
        "POST", "/v1/jobs", body_ok, {"Content-Type": "multipart/form-data"})), [400], "boundary")
    expect(S, "multipart with a boundary not in the body", raw(sock, request_bytes(
        "POST", "/v1/jobs", body_ok, {"Content-Type": "multipart/form-data; boundary=nope"})),
        [400], "delimiter")
    expect(S, "boundary of 200 characters", raw(sock, request_bytes(
        "POST", "/v1/jobs", body_ok, {"Content-Type": "multipart/form-data; boundary=" + "b" * 200})),
        [400], "boundary")
    expect(S, "multipart without closing delimiter", raw(sock, request_bytes(
        "POST", "/v1/jobs", body_ok[:-8], {"Content-Type": ct_ok})), [400], "delimiter")
    expect(S, "JSON body instead of multipart", raw(sock, request_bytes(
        "POST", "/v1/jobs", b'{"image": 1}', {"Content-Type": "application/json"})), [415],
        "multipart")
    many = [("f%d" % i, "1", None) for i in range(100)] + [("image", png, "cat.png")]
    expect(S, "100 parts (limit 64)", post_form(sock, "/v1/jobs", many), [400], "parts")

    # Parameters: wrong types, negative, NaN, huge.
    for field, value, needle in (("cfg_scale", "abc", "cfg_scale"), ("cfg_scale", "NaN", "cfg_scale"),
                                 ("cfg_scale", "inf", "cfg_scale"), ("cfg_scale", "-1", "cfg_scale"),
                                 ("cfg_scale", '{"x": 1}', "cfg_scale"),
                                 ("seed", "-5", "seed"),
                                 ("seed", "99999999999999999999999999", "seed"),
                                 ("seed", "12abc", "seed"), ("seed", "0x10", "seed"),
                                 ("motion_bucket_id", "1.5", "motion_bucket_id"),
                                 ("motion_bucket_id", "", "motion_bucket_id"),
                                 ("motion_bucket_id", "[1,2]", "motion_bucket_id"),
                                 ("priority", "high", "priority"),
                                 ("priority", "1e9", "priority"),
                                 ("kind", "teleport", "kind"),
                                 ("frobnicate", "1", "frobnicate"),
                                 ("key", "no-such-key", "key")):
        expect(S, "%s = %r" % (field, value), post_form(
            sock, "/v1/jobs", [("image", png, "cat.png"), (field, value, None)]), [400, 404, 422],
            needle)
    expect(S, "inpaint without prompt", post_form(
        sock, "/v1/jobs", [("image", png, "cat.png"), ("kind", "inpaint", None), ("mode", "mask", None)]),
        [422], "prompt")
    expect(S, "upscale output_format=gif", post_form(
        sock, "/v1/jobs", [("image", png, "cat.png"), ("kind", "upscale", None), ("prompt", "x", None),
                           ("output_format", "gif", None)]), [422], "output_format")
    expect(S, "unexpected file field", post_form(
        sock, "/v1/jobs", [("image", png, "cat.png"), ("evil", b"x", "evil.sh")]), [400, 422],
        "evil")
    expect(S, "no image part", post_form(sock, "/v1/jobs", [("seed", "1", None)]), [422],
           "image")
    expect(S, "two images to /v1/jobs", post_form(
        sock, "/v1/jobs", [("image", png, "a.png"), ("image", png, "b.png")]), [400, 422], "image")

    # Images that lie or are broken.
    ihdr_lie = png[:16] + struct.pack(">II", 0xFFFFFFFF, 0xFFFFFFFF) + png[24:]
    expect(S, "PNG header claiming 4294967295x4294967295", post_form(
        sock, "/v1/jobs", [("image", ihdr_lie, "lie.png")]), [413, 422], "image")
    zero = png[:16] + struct.pack(">II", 0, 0) + png[24:]
    expect(S, "PNG header claiming 0x0", post_form(
        sock, "/v1/jobs", [("image", zero, "zero.png")]), [422], "image")
    expect(S, "PNG cut inside IHDR", post_form(
        sock, "/v1/jobs", [("image", png[:20], "cut.png")]), [422], "image")
    expect(S, "PNG cut after the header (pixels missing)", post_form(
        sock, "/v1/jobs", [("image", png[:200], "half.png")]), [422], "image")
    expect(S, "JPEG SOF claiming 65535x65535", post_form(
        sock, "/v1/jobs", [("image", make_jpeg_header(65535, 65535), "big.jpg")]), [413, 422],
        "image")
    expect(S, "JPEG cut before its SOF", post_form(
        sock, "/v1/jobs", [("image", make_jpeg_header(1024, 576)[:22], "cut.jpg")]), [422],
        "image")
    expect(S, "empty image file", post_form(sock, "/v1/jobs", [("image", b"", "empty.png")]),
           [422], "image")
    expect(S, "text named .png", post_form(
        sock, "/v1/jobs", [("image", b"hello, world\n" * 10, "text.png")]), [415, 422], "image")
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * (30 * 1024 * 1024)
    expect(S, "30 MiB image (limit 10 MiB)", post_form(
        sock, "/v1/jobs", [("image", big, "big.png")]), [413, 422], "MiB")

    # Query parameters and paths.
    for target, statuses, needle in (("/v1/jobs?limit=-1", [400], "limit"),
                                     ("/v1/jobs?limit=NaN", [400], "limit"),
                                     ("/v1/jobs?limit=99999999999999999999", [400], "limit"),
                                     ("/v1/jobs?state=bogus", [400], "state"),
                                     ("/v1/jobs?state=%ff%fe", [400], "state"),
                                     ("/v1/jobs/..%2f..%2fetc%2fpasswd", [404], None),
                                     ("/v1/jobs/%zz", [400, 404], None),
                                     ("/v1/jobs/nonexistent/output", [404], None),
                                     ("/v1/nothing-here", [404], None)):
        expect(S, "GET " + target, raw(sock, request_bytes("GET", target)), statuses, needle)


def wrapper_cases(addr, png):
    W = "http (wrapper)"
    expect(W, "POST /api/img2video without image", post_form(
        addr, "/api/img2video", [("seed", "1", None)]), [400], "image")
    expect(W, "POST /api/img2video seed=-1", post_form(
        addr, "/api/img2video", [("image", png, "a.png"), ("seed", "-1", None)]), [400], "seed")
    expect(W, "POST /api/img2video cfg_scale=NaN", post_form(
        addr, "/api/img2video", [("image", png, "a.png"), ("cfg_scale", "NaN", None)]), [400],
        "cfg_scale")
    expect(W, "POST /api/img2video JSON body", raw(addr, request_bytes(
        "POST", "/api/img2video", b"{}", {"Content-Type": "application/json"})), [400],
        "multipart")
    expect(W, "GET /api/img2video/result/../../etc", raw(addr, request_bytes(
        "GET", "/api/img2video/result/..%2f..%2fetc")), [404], None)
    expect(W, "GET /processed_videos/../../etc/passwd", raw(addr, request_bytes(
        "GET", "/processed_videos/..%2f..%2fetc%2fpasswd")), [404], None)
    expect(W, "request header of 20 KiB", raw(addr, request_bytes(
        "GET", "/api/img2video/result/x", headers={"X-Junk": "a" * 20000})), [431], "header")


# ---- the test over socket and HTTP ---------------------------------------------------------------
def test_hostile_requests(tmp):
    with FakeApi(BIN_DIR, tmp / "api", keys=["test-key-0"], gen_time=0.3, **FAKE_LIMITS) as api, \
            genqd_on_free_port(lambda p: Genqd(
                tmp / "d", api, extra='[http]\nlisten = "127.0.0.1:%d"\n' % p)) as d:
        port = d.listen_port
        png = good_image(tmp)
        # A good job in flight while the bad input arrives.
        first = d.submit(write_images(tmp / "in", 1, prefix="first"))
        socket_cases(d.socket, png, tmp)
        assert d.request("GET", "/v1/status")[0] == 200, "genqd is down"
        wrapper_cases(("127.0.0.1", port), png)
        assert d.request("GET", "/v1/status")[0] == 200, "genqd is down"

        # Names that try to escape: accepted, but the result stays inside output_dir.
        escape = {}
        for label, fields in (("file name ../../x.png", [("image", png, "../../x.png")]),
                              ("file name /etc/passwd.png", [("image", png, "/etc/passwd.png")]),
                              ("name field ../../../tmp/evil", [("image", png, "a.png"),
                                                                ("name", "../../../tmp/evil", None)]),
                              ("non-UTF-8 file name", [("image", png, b"\xff\xfe\x80.png")]),
                              ("file name with NUL and newline", [("image", png, b"a\x00b\nc.png")])):
            status, body = post_form(d.socket, "/v1/jobs", fields)
            if status == 201:
                escape[label] = json.loads(body)["id"]
            else:
                # Refusing is fine too, with a clear message (a newline breaks the part header).
                expect("socket", label, (status, body), [400, 422], None)
        done = d.wait_all(first + list(escape.values()), timeout=60)
        out_dir = d.output.resolve()
        for job in done:
            assert job["state"] == "succeeded", job
        for label, job in zip(escape, done[len(first):]):
            out = Path(job["output"]).resolve()
            inside = out.parent == out_dir
            shown = job["input"]["name"]
            valid_utf8 = True
            try:
                json.dumps(shown).encode("utf-8")
            except UnicodeError:
                valid_utf8 = False
            record("socket", label, "201, result inside output_dir", "201 -> " + out.name,
                   inside and valid_utf8 and "/" not in out.name)
        assert_outputs_match(api, done)
        # Nothing of the bad input became a job; the good ones are all there.
        jobs = d.get_json("/v1/jobs?limit=1000")["jobs"]
        assert sorted(j["id"] for j in jobs) == sorted(first + list(escape.values())), \
            [(j["id"], j["input"]["name"]) for j in jobs]
        assert not Path("/tmp/evil.mp4").exists() and not (tmp / "x.mp4").exists()
        # A second good job after all that.
        again = d.submit(write_images(tmp / "in", 1, prefix="again"))
        assert d.wait_all(again)[0]["state"] == "succeeded"
        assert api.stats()["rate_limited_real"] == 0
    failed = [c for c in CATALOGUE if not c[4]]
    assert not failed, "\n".join("%s | %s | expected %s | got %s" % c[:4] for c in failed)


# ---- the watched folder --------------------------------------------------------------------------
def wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.05)


def test_hostile_watch(tmp):
    if not (Path(__file__).resolve().parents[2] / "lib" / "watch").is_dir():
        print("SKIP: lib/watch does not exist")
        return
    inbox = tmp / "inbox"
    inbox.mkdir()
    with FakeApi(BIN_DIR, tmp / "api", keys=["test-key-0"], gen_time=0.3, **FAKE_LIMITS) as api, \
            Genqd(tmp / "d", api, watches=[{"dir": str(inbox), "kind": "video"}]) as d:
        png = good_image(tmp)
        secret = tmp / "secret.png"
        secret.write_bytes(png)
        W = "watch"
        refused = {"truncated.png": png[:200], "lying.png":
                   png[:16] + struct.pack(">II", 0xFFFFFFFF, 1) + png[24:],
                   "text.jpg": b"not a jpeg\n", "empty.webp": b""}
        sidecars = {"badtypes.png": {"cfg_scale": "lots"}, "unknown.png": {"frobnicate": 1},
                    "nan.png": {"seed": float("nan")}}
        for name, data in refused.items():
            (inbox / name).write_bytes(data)
        for name, side in sidecars.items():
            (inbox / (name + ".json")).write_text(json.dumps(side))
            (inbox / name).write_bytes(png)
        (inbox / "badjson.png.json").write_text("{not json")
        (inbox / "badjson.png").write_bytes(png)
        os.symlink(secret, inbox / "link.png")
        (inbox / ".hidden.png").write_bytes(png)
        good = inbox / "good.png"
        good.write_bytes(write_images(tmp / "in", 1, prefix="watchgood")[0].read_bytes())
        failed = inbox / "failed"
        for name in list(refused) + list(sidecars) + ["badjson.png"]:
            try:
                wait_for(lambda n=name: (failed / (n + ".error.txt")).exists(), 15, name)
                note = (failed / (name + ".error.txt")).read_text()
                ok = (failed / name).exists() and len(note.strip()) > 0
            except AssertionError:
                note, ok = "no failed/%s.error.txt" % name, False
            record(W, name, "moved to failed/ with a note", note.strip()[:90].replace("\n", " "),
                   ok)
        wait_for(lambda: (inbox / "done" / "good.png").exists(), 30, "good.png done")
        time.sleep(1)
        record(W, "symlink link.png -> outside file", "ignored, left in place",
               "left" if (inbox / "link.png").is_symlink() else "moved",
               (inbox / "link.png").is_symlink() and secret.exists())
        record(W, ".hidden.png", "ignored", "left" if (inbox / ".hidden.png").exists() else "moved",
               (inbox / ".hidden.png").exists())
        jobs = d.get_json("/v1/jobs")["jobs"]
        ok_jobs = [j for j in jobs if j["state"] == "succeeded"]
        assert [j["input"]["name"] for j in ok_jobs] == ["good.png"], jobs
        assert d.request("GET", "/v1/status")[0] == 200
        assert_outputs_match(api, ok_jobs)
    failed_cases = [c for c in CATALOGUE if c[0] == W and not c[4]]
    assert not failed_cases, "\n".join("%s | %s | expected %s | got %s" % c[:4]
                                       for c in failed_cases)


# ---- the config file -----------------------------------------------------------------------------
CONFIG_CASES = [
    ("unknown top-level key", 'frobnicate = 1\n', "frobnicate"),
    ("unknown key in [limits]", '[limits]\nturbo = true\n', "limits.turbo"),
    ("TLS switch-off attempt", '[api]\nverify = false\n', "api.verify"),
    ("http:// base_url", '[api]\nbase_url = "http://api.stability.ai"\n', "api.base_url"),
    ("base_url not a URL", '[api]\nbase_url = "::::"\n', "api.base_url"),
    ("literal key in [[keys]]", '[[keys]]\nname = "k"\nkey = "sk-LITERALSECRET"\n', "keys"),
    ("key without a source", '[[keys]]\nname = "k"\n', "keys"),
    ("negative window", '[limits]\nwindow = -1\n', "limits.window"),
    ("NaN window", '[limits]\nwindow = nan\n', "limits.window"),
    ("absurd window (1e12 s)", '[limits]\nwindow = 1e12\n', "limits.window"),
    ("infinite timeout", '[api]\ntimeout = inf\n', "api.timeout"),
    ("zero timeout", '[api]\ntimeout = 0\n', "api.timeout"),
    ("negative requests_per_window", '[limits]\nrequests_per_window = -5\n',
     "limits.requests_per_window"),
    ("requests_per_window as text", '[limits]\nrequests_per_window = "many"\n',
     "limits.requests_per_window"),
    ("fractional max_attempts", '[retry]\nmax_attempts = 2.5\n', "retry.max_attempts"),
    ("negative daily_credits", '[budget]\ndaily_credits = -1\n', "budget.daily_credits"),
    ("decimal socket_mode", 'socket_mode = 660\n', "socket_mode"),
    ("unknown log_level", 'log_level = "loud"\n', "log_level"),
    ("watch with unknown kind", '[[watch]]\ndir = "/tmp"\nkind = "teleport"\n', "kind"),
    ("non-loopback listen without token", '[http]\nlisten = "0.0.0.0:8080"\n', "http.token"),
    ("not TOML at all", 'this is = = not toml [\n', "genq.toml"),
    ("non-UTF-8 bytes", b'log_level = "\xff\xfe"\n', "genq.toml"),
]


def test_hostile_config(tmp):
    env = dict(os.environ, HOME=str(tmp), XDG_STATE_HOME=str(tmp / "state"),
               XDG_RUNTIME_DIR=str(tmp / "run"), STABILITY_API_KEY="test-key-0")
    for label, text, needle in CONFIG_CASES:
        cfg = tmp / "genq.toml"
        cfg.write_bytes(text if isinstance(text, bytes) else text.encode())
        r = subprocess.run([str(GENQD), "--config", str(cfg), "--check-config"], env=env,
                           capture_output=True, timeout=15)
        out = (r.stdout + r.stderr).decode("utf-8", "replace")
        ok = r.returncode == 2 and needle in out and str(cfg) in out
        if "LITERALSECRET" in out:
            ok = False
            out = "(echoed the secret!) " + out
        first = next((line for line in out.splitlines() if needle in line), out.strip()[:90])
        record("config", label, "exit 2, names %s" % needle,
               "exit %d: %s" % (r.returncode, first[:90]), ok)
    failed = [c for c in CATALOGUE if c[0] == "config" and not c[4]]
    assert not failed, "\n".join("%s | %s | expected %s | got %s" % c[:4] for c in failed)


def print_catalogue():
    if not CATALOGUE:
        return
    print("\n%-15s | %-50s | %-28s | %s" % ("surface", "input", "expected", "got"))
    print("-" * 140)
    for surface, what, expected, got, ok in CATALOGUE:
        print("%-15s | %-50s | %-28s | %s%s" % (surface, what[:50], expected[:28], "" if ok else
                                                 "FAILED: ", got))
    print("%d hostile inputs tried, %d answered as expected" % (
        len(CATALOGUE), sum(1 for c in CATALOGUE if c[4])))


if __name__ == "__main__":
    import atexit
    atexit.register(print_catalogue)
    run_tests([test_hostile_requests, test_hostile_watch, test_hostile_config])
