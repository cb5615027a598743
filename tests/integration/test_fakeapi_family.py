"""Self-test of genq-fakeapi's stable-image family routes (issue 15) over real HTTPS: every new
route answers like the existing ones (raw bytes with finish-reason/seed headers, or JSON with
base64; 400 bodies with id/name/errors; 401), relight is asynchronous behind /v2beta/results/{id},
GET /v1/user/balance reports {"credits": N}, the balance goes down by each kind's price and a key
that cannot pay gets 402. Needs GENQ_BIN_DIR. Prints "N passed, M failed"."""

import base64
import hashlib
import os
import shutil
import sys
import tempfile
import time
import traceback

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fakeapi import FakeApi  # noqa: E402
from images import make_png, make_webp_header  # noqa: E402

BIN_DIR = os.environ.get("GENQ_BIN_DIR", "")
KEYS = ["sk-fam-0", "sk-fam-1"]
BROKE = "sk-fam-broke"
START = 500
WORK = tempfile.mkdtemp(prefix="genq-fakeapi-family-")
API = None
TESTS = []
IMG = make_png(512, 512, seed=1)
MAGIC = {"png": b"\x89PNG", "jpeg": b"\xff\xd8\xff", "webp": b"RIFF"}

# (kind, path, files, fields, price): one valid request per route.
ROUTES = [
    ("ultra", "/v2beta/stable-image/generate/ultra", {}, {"prompt": "a fox"}, 8),
    ("ultra", "/v2beta/stable-image/generate/ultra", {"image": IMG},
     {"prompt": "a fox", "strength": "0.5"}, 8),
    ("core", "/v2beta/stable-image/generate/core", {},
     {"prompt": "a lighthouse", "aspect_ratio": "21:9", "output_format": "webp"}, 3),
    ("sd3", "/v2beta/stable-image/generate/sd3", {}, {"prompt": "p", "model": "sd3.5-medium"},
     3.5),
    ("sd3", "/v2beta/stable-image/generate/sd3", {"image": IMG},
     {"prompt": "p", "mode": "image-to-image", "strength": "0.7", "output_format": "jpeg"}, 6.5),
    ("upscale-conservative", "/v2beta/stable-image/upscale/conservative", {"image": IMG},
     {"prompt": "sharp", "creativity": "0.35"}, 40),
    ("upscale-fast", "/v2beta/stable-image/upscale/fast", {"image": make_png(256, 128, seed=2)},
     {}, 2),
    ("erase", "/v2beta/stable-image/edit/erase", {"image": IMG, "mask": make_png(512, 512, seed=3)},
     {"grow_mask": "10"}, 5),
    ("outpaint", "/v2beta/stable-image/edit/outpaint", {"image": IMG},
     {"left": "200", "down": "100", "creativity": "0.5"}, 4),
    ("search-and-replace", "/v2beta/stable-image/edit/search-and-replace", {"image": IMG},
     {"prompt": "a cat", "search_prompt": "the dog"}, 5),
    ("search-and-recolor", "/v2beta/stable-image/edit/search-and-recolor", {"image": IMG},
     {"prompt": "red", "select_prompt": "the car"}, 5),
    ("remove-background", "/v2beta/stable-image/edit/remove-background", {"image": IMG},
     {"output_format": "webp"}, 5),
    ("sketch", "/v2beta/stable-image/control/sketch", {"image": IMG},
     {"prompt": "a castle", "control_strength": "0.7"}, 5),
    ("structure", "/v2beta/stable-image/control/structure", {"image": IMG},
     {"prompt": "a castle"}, 5),
    ("style", "/v2beta/stable-image/control/style",
     {"image": make_webp_header(600, 400)}, {"prompt": "a castle", "fidelity": "0.5"}, 5),
]
RELIGHT = "/v2beta/stable-image/edit/replace-background-and-relight"

# (path, files, fields, status, name, mentions): refusals of the provider's own rules.
REFUSALS = [
    ("/v2beta/stable-image/generate/core", {}, {"negative_prompt": ""}, 400, "bad_request",
     "prompt: is required"),
    ("/v2beta/stable-image/generate/ultra", {"image": IMG}, {"prompt": "x"}, 400, "bad_request",
     "strength: is required"),
    ("/v2beta/stable-image/generate/sd3", {}, {"prompt": "x", "mode": "image-to-image"}, 400,
     "bad_request", "requires an image"),
    ("/v2beta/stable-image/generate/sd3", {}, {"prompt": "x", "output_format": "webp"}, 400,
     "bad_request", "output_format"),
    ("/v2beta/stable-image/upscale/conservative", {"image": IMG},
     {"prompt": "x", "creativity": "0.9"}, 400, "bad_request", "creativity"),
    ("/v2beta/stable-image/upscale/fast", {"image": make_png(2000, 200)}, {}, 400, "bad_request",
     "side"),
    ("/v2beta/stable-image/edit/outpaint", {"image": IMG}, {}, 400, "bad_request",
     "at least one"),
    ("/v2beta/stable-image/edit/outpaint", {"image": IMG}, {"left": "2001"}, 400, "bad_request",
     "left"),
    ("/v2beta/stable-image/edit/erase", {"image": make_png(50, 50)}, {}, 400, "bad_request",
     "pixels"),
    ("/v2beta/stable-image/edit/search-and-recolor", {"image": IMG}, {"prompt": "x"}, 400,
     "bad_request", "select_prompt: is required"),
    ("/v2beta/stable-image/edit/remove-background", {"image": make_png(1000, 300)}, {}, 400,
     "bad_request", "aspect ratio"),
    (RELIGHT, {"image": IMG}, {"background_prompt": "b"}, 400, "bad_request",
     "subject_image: is required"),
    (RELIGHT, {"subject_image": IMG}, {}, 400, "bad_request", "at least one"),
    ("/v2beta/stable-image/control/sketch", {"image": IMG},
     {"prompt": "x", "control_strength": "2"}, 400, "bad_request", "control_strength"),
    ("/v2beta/stable-image/control/style", {"image": IMG}, {"prompt": "x", "seed": "-1"}, 400,
     "bad_request", "seed"),
]


def test(fn):
    TESTS.append(fn)
    return fn


def auth(key=KEYS[0], **extra):
    return dict({"authorization": "Bearer " + key}, **extra)


def post(path, files, fields, key=KEYS[0], **headers):
    parts = {name: (name + ".img", data, "application/octet-stream") for name, data in
             files.items()}
    if not parts:  # requests sends a urlencoded body without files; force multipart
        parts = {k: (None, v) for k, v in fields.items()}
        fields = None
    return requests.post(API.url(path), headers=auth(key, **headers), files=parts, data=fields,
                         verify=API.ca_file, timeout=30)


def get(path, key=KEYS[0], **headers):
    return requests.get(API.url(path), headers=auth(key, **headers), verify=API.ca_file,
                        timeout=30)


def balance(key=KEYS[0]):
    r = get("/v1/user/balance", key)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json", r.text
    return r.json()["credits"]


def set_credits(index, credits):
    r = requests.post(API.url("/__credits"), json={"key": index, "credits": credits},
                      verify=API.ca_file, timeout=30)
    assert r.status_code == 200, r.text


def assert_error(r, status, name, mentions=None):
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"id", "name", "errors"}, body
    assert body["name"] == name, body
    if mentions:
        assert any(mentions in e for e in body["errors"]), (mentions, body)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def generation_for(kind, result_sha):
    found = [g for g in API.generations().values()
             if g["kind"] == kind and g["sha256"] == result_sha]
    assert len(found) == 1, (kind, len(found))
    return found[0]


@test
def every_sync_route_in_both_forms_charges_its_price():
    set_credits(0, START)
    spent = 0
    for kind, path, files, fields, price in ROUTES:
        fmt = fields.get("output_format", "png")
        seeded = kind not in ("upscale-fast", "remove-background")  # these take no seed
        raw = post(path, files, dict(fields, seed="77") if seeded else fields)
        assert raw.status_code == 200, (kind, raw.status_code, raw.text)
        assert raw.headers["content-type"] == "image/" + fmt, (kind, raw.headers)
        assert raw.headers["finish-reason"] == "SUCCESS", kind
        assert raw.headers["seed"] == "77" if seeded else int(raw.headers["seed"]) > 0, kind
        assert raw.content.startswith(MAGIC[fmt]), kind
        g = generation_for(kind, sha256(raw.content))
        assert g["served_form"] == "bytes" and g["format"] == fmt, (kind, g)
        if "image" in files:
            assert g["input_sha256"] == sha256(files["image"]), kind
            assert g["params"]["image"]["width"] > 0, (kind, g["params"])
        else:
            assert g["input_sha256"] == "", (kind, g)
        for name, value in fields.items():  # what was sent is what the stand-in recorded
            assert str(g["params"][name]) == value or g["params"][name] == float(value), \
                (kind, name, g["params"])
        js = post(path, files, fields, accept="application/json")
        assert js.status_code == 200, (kind, js.text)
        assert js.headers["content-type"] == "application/json; type=image/" + fmt, kind
        assert "finish-reason" not in js.headers, kind
        body = js.json()
        assert set(body) == {"image", "finish_reason", "seed"}, body.keys()
        assert base64.b64decode(body["image"]).startswith(MAGIC[fmt]), kind
        assert body["finish_reason"] == "SUCCESS" and body["seed"] > 0, kind
        spent += 2 * price
        assert abs(balance() - (START - spent)) < 1e-9, (kind, balance(), START - spent)
    assert API.stats()["credits"][0] == START - spent


@test
def relight_is_async_behind_v2beta_results():
    set_credits(0, 100)
    r = post(RELIGHT, {"subject_image": IMG, "background_reference": make_png(300, 300, seed=9)},
             {"light_source_direction": "above", "light_source_strength": "0.4",
              "output_format": "jpeg", "seed": "12"})
    assert r.status_code == 200, r.text
    gen = r.json()["id"]
    assert len(gen) == 64, gen
    assert balance() == 92  # charged when accepted
    first = get("/v2beta/results/" + gen)
    assert first.status_code == 202 and first.json() == {"id": gen, "status": "in-progress"}
    assert get("/v2beta/results/" + gen, KEYS[1]).status_code == 404  # another key's generation
    deadline = time.monotonic() + 30
    while True:
        res = get("/v2beta/results/" + gen)
        if res.status_code == 200:
            break
        assert res.status_code == 202 and time.monotonic() < deadline, res.text
        time.sleep(0.1)
    assert res.headers["content-type"] == "image/jpeg" and res.headers["seed"] == "12"
    assert res.content.startswith(MAGIC["jpeg"])
    g = API.generations()[gen]
    assert g["kind"] == "relight" and g["input_sha256"] == sha256(IMG), g
    assert g["params"]["background_reference"]["width"] == 300, g["params"]
    js = get("/v2beta/results/" + gen, accept="application/json")
    assert js.headers["content-type"] == "application/json; type=image/jpeg"
    assert base64.b64decode(js.json()["image"]) == res.content


@test
def refusals_name_the_field_and_cost_nothing():
    set_credits(0, 50)
    for path, files, fields, status, name, mentions in REFUSALS:
        assert_error(post(path, files, fields), status, name, mentions)
    assert balance() == 50


@test
def balance_endpoint_and_payment_required():
    set_credits(1, 10)
    assert balance(KEYS[1]) == 10
    assert balance(BROKE) == 0  # a key without credits still reads its balance
    path, files, fields = ROUTES[5][1], ROUTES[5][2], ROUTES[5][3]  # conservative: 40
    assert_error(post(path, files, fields, KEYS[1]), 402, "payment_required", "costs 40")
    assert balance(KEYS[1]) == 10  # a refused request is not charged
    core = ROUTES[2]
    for _ in range(3):
        assert post(core[1], core[2], core[3], KEYS[1]).status_code == 200
    assert balance(KEYS[1]) == 1
    assert_error(post(core[1], core[2], core[3], KEYS[1]), 402, "payment_required")
    assert_error(post(core[1], core[2], core[3], BROKE), 402, "payment_required")
    r = requests.get(API.url("/v1/user/balance"), verify=API.ca_file, timeout=30)
    assert_error(r, 401, "unauthorized")
    stats = API.stats()
    assert stats["refused_for_credits"] >= 2 and stats["balance_reads"] >= 4, stats
    reads = [e for e in API.log_entries() if e["path"] == "/v1/user/balance"]
    assert reads and all(e["op"] == "balance" for e in reads), reads[-3:]


@test
def balance_reads_count_against_the_limit():
    with FakeApi(BIN_DIR, os.path.join(WORK, "limited"), keys=KEYS[:1], limit=3, window=5,
                 lockout=5, seed=4) as api:
        codes = [requests.get(api.url("/v1/user/balance"), headers=auth(), verify=api.ca_file,
                              timeout=30).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429], codes


def main():
    global API
    if not os.path.exists(os.path.join(BIN_DIR, "tests", "genq-fakeapi")):
        print("GENQ_BIN_DIR must point at a build directory with tests/genq-fakeapi")
        return 2
    # gen_time (only relight is asynchronous): long enough that the two requests between its
    # submission and its first poll leave it in progress also on a loaded machine (at 0.4 s the
    # margin was 0.36 s for two fresh TLS connections).
    API = FakeApi(BIN_DIR, os.path.join(WORK, "shared"), keys=KEYS, no_credit_keys=[BROKE],
                  gen_time=2, gen_jitter=0.1, seed=5, limit=10000, credits=START)
    passed = failed = 0
    try:
        for fn in TESTS:
            try:
                fn()
                passed += 1
                print("PASS", fn.__name__, flush=True)
            except Exception:
                failed += 1
                print("FAIL", fn.__name__, flush=True)
                traceback.print_exc()
        code = API.stop()
        if code != 0:
            failed += 1
            print("FAIL clean exit on SIGTERM: exit code", code)
    finally:
        API.stop()
        if failed == 0:
            shutil.rmtree(WORK, ignore_errors=True)
        else:
            print("work directory kept:", WORK)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
