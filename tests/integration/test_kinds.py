"""Every operation of the table end to end against the stand-in, in both result forms (raw bytes
with finish-reason/seed headers, JSON with base64); validation refusals per field; credit
accounting and the [budget] daily_credits cap (SPEC §3-4, issue 6)."""

import json
import struct
import subprocess
import time
import uuid
import zlib

from genqtest import BIN_DIR, GENQD, FakeApi, Genqd, run_tests, sha256_file
from images import make_png, make_webp_header

FAKE = dict(limit=10, window=1, lockout=2, poll_interval=0.5)
PRICES = {"video": 20, "video-v2alpha": 20, "upscale": 25, "upscale-creative": 25,
          "inpaint": 3, "inpaint-v2beta": 3}
FILTERED = "4000000777"   # the stand-in's seed for a CONTENT_FILTERED success
REFUSED = "4000000400"    # the stand-in's seed for a 400 bad_request
MAGIC = {"mp4": lambda b: b[4:8] == b"ftyp", "png": lambda b: b[:8] == b"\x89PNG\r\n\x1a\n",
         "jpg": lambda b: b[:3] == b"\xff\xd8\xff", "webp": lambda b: b[:4] == b"RIFF"
         and b[8:12] == b"WEBP"}
EXT_OF_FORMAT = {"mp4": "mp4", "png": "png", "jpeg": "jpg", "webp": "webp"}


def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def make_png_rgba(width, height, seed=0):
    """An 8-bit RGBA PNG whose centre quarter is transparent: inpaint's area without a mask."""
    rows = []
    for y in range(height):
        row = bytearray(b"\x00")
        for x in range(width):
            clear = width // 4 <= x < 3 * width // 4 and height // 4 <= y < 3 * height // 4
            row += bytes(((x + seed) % 256, y % 256, seed % 256, 0 if clear else 255))
        rows.append(bytes(row))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
            + _chunk(b"IDAT", zlib.compress(b"".join(rows), 1)) + _chunk(b"IEND", b""))


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def set_result_form(d, form):
    """Adds [api] result_form to a daemon's config (the harness writes [api] itself)."""
    text = d.config.read_text()
    assert "timeout = 5\n" in text
    d.config.write_text(text.replace("timeout = 5\n", 'timeout = 5\nresult_form = "%s"\n' % form,
                                     1))


def case_list(inp, tag):
    """(kind, image, genqctl options, expected extension, expected finish reason) per case.
    `tag` makes every input unique, so a sync job (no remote id) is found by its input hash."""
    s = sum(map(ord, tag))
    mask = write(inp / "mask.png", make_png(256, 256, seed=7))
    mask_small = write(inp / "mask128.png", make_png(128, 128, seed=8))
    return [
        ("video", write(inp / "v.png", make_png(1024, 576, seed=s)), [], "mp4", "SUCCESS"),
        ("video-v2alpha", write(inp / "v2.png", make_png(768, 768, seed=s + 1)),
         ["--cfg-scale", "2.5", "--motion", "40"], "mp4", "SUCCESS"),
        ("upscale", write(inp / "up.png", make_png(512, 512, seed=s + 2)),
         ["--prompt", "a cat", "--output-format", "jpeg", "--creativity", "0.2"], "jpg", "SUCCESS"),
        ("upscale", write(inp / "upf.png", make_png(256, 128, seed=s + 3)),
         ["--prompt", "a cat", "--seed", FILTERED], "png", "CONTENT_FILTERED"),
        ("upscale-creative", write(inp / "uc.webp", make_webp_header(300, 200 + s % 50)),
         ["--prompt", "sharper", "--negative-prompt", "blur", "--output-format", "webp"],
         "webp", "SUCCESS"),
        ("inpaint", write(inp / "im.png", make_png(256, 256, seed=s + 4)),
         ["--mode", "mask", "--prompt", "a hat", "--mask", str(mask)], "png", "SUCCESS"),
        ("inpaint", write(inp / "is.png", make_png(256, 256, seed=s + 5)),
         ["--mode", "search", "--search-prompt", "the dog", "--prompt", "a cat",
          "--output-format", "webp"], "webp", "SUCCESS"),
        ("inpaint", write(inp / "ia.png", make_png_rgba(96, 96, seed=s)),
         ["--mode", "mask", "--prompt", "sky", "--output-format", "jpeg"], "jpg", "SUCCESS"),
        ("inpaint-v2beta", write(inp / "ib.png", make_png(128, 128, seed=s + 6)),
         ["--prompt", "a hat", "--mask", str(mask_small), "--grow-mask", "10",
          "--output-format", "jpeg"], "jpg", "SUCCESS"),
        ("inpaint-v2beta", write(inp / "iba.png", make_png_rgba(80, 80, seed=s + 1)),
         ["--prompt", "sky", "--seed", FILTERED], "png", "CONTENT_FILTERED"),
    ]


def generation_of(gens, job):
    """The stand-in's generation behind a job: by remote id (async), else by input hash (sync)."""
    if job["remote_id"]:
        return gens[job["remote_id"]]
    found = [g for g in gens.values()
             if g["input_sha256"] == job["input"]["sha256"] and g["kind"] == job["kind"]]
    assert len(found) == 1, (job["id"], len(found))
    return found[0]


def check_case(api_gens, job, case, form):
    kind, image, options, ext, reason = case
    g = generation_of(api_gens, job)
    where = "%s %s (%s form)" % (kind, image.name, form)
    assert job["state"] == "succeeded", (where, job)
    assert g["kind"] == kind and g["served_form"] == form, (where, g)
    assert sha256_file(job["output"]) == g["sha256"], where
    assert job["output"].endswith("/" + image.name.rsplit(".", 1)[0] + "." + ext), where
    assert EXT_OF_FORMAT[g["format"]] == ext, (where, g["format"])
    with open(job["output"], "rb") as f:
        assert MAGIC[ext](f.read(16)), where
    assert job["finish_reason"] == reason == g["finish_reason"], (where, job["finish_reason"])
    assert job["seed"] == str(g["seed"]), (where, job["seed"], g["seed"])
    assert job["cost"] == PRICES[kind], (where, job["cost"])
    sent = g["params"]
    if "--output-format" in options:
        assert sent["output_format"] == options[options.index("--output-format") + 1], where
    if kind.startswith("video"):  # all three numbers always sent
        assert {"cfg_scale", "motion_bucket_id"} <= set(sent), (where, sent)
    if kind.startswith("inpaint"):
        assert sent["mask"] == ("--mask" in options), (where, sent)


def run_all_kinds(tmp, api, form):
    d = Genqd(tmp / form, api, start=False)
    if form == "json":
        set_result_form(d, form)
    d.start()
    with d:
        cases = case_list(tmp / ("in-" + form), form)
        ids = [d.submit([img], "--kind", kind, *opts)[0] for kind, img, opts, _, _ in cases]
        jobs = d.wait_all(ids, timeout=120)
        gens = api.generations()
        for job, case in zip(jobs, cases):
            check_case(gens, job, case, form)
        # Per-key accounting: every case succeeded, so the key's total is the sum of prices.
        expected = sum(PRICES[c[0]] for c in cases)
        key = d.get_json("/v1/status")["keys"][0]
        assert key["credits_today"] == expected == key["credits_total"], (key, expected)
        r = d.ctl("status", check=0)
        assert "CREDITS TODAY" in r.stdout and str(expected) in r.stdout, r.stdout


def test_every_kind_bytes_form(tmp):
    with FakeApi(BIN_DIR, tmp / "api", gen_time=0.3, **FAKE) as api:
        run_all_kinds(tmp, api, "bytes")


def test_every_kind_json_form(tmp):
    with FakeApi(BIN_DIR, tmp / "api", gen_time=0.3, **FAKE) as api:
        run_all_kinds(tmp, api, "json")


def test_result_form_is_validated(tmp):
    d = Genqd(tmp / "d", None, start=False)
    set_result_form(d, "xml")
    r = subprocess.run([str(GENQD), "--config", str(d.config), "--check-config"], env=d.env,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "api.result_form" in r.stderr and "bytes|json" in r.stderr, r.stderr


def test_refusals_per_field(tmp):
    inp = tmp / "in"
    rgb = write(inp / "rgb.png", make_png(256, 256, seed=1))
    rgb128 = write(inp / "rgb128.png", make_png(128, 128, seed=2))
    video = write(inp / "video.png", make_png(1024, 576, seed=3))
    mask = write(inp / "mask.png", make_png(256, 256, seed=4))
    huge = write(inp / "huge.png", make_png(2048, 1024, seed=5))   # 2,097,152 px
    thin = write(inp / "thin.png", make_png(40, 200, seed=6))      # a side under 64
    tiny = write(inp / "tiny.png", make_png(50, 50, seed=7))       # 2,500 px
    webp = write(inp / "video.webp", make_webp_header(1024, 576))
    up = ["--kind", "upscale", "--prompt", "p"]
    inpaint = ["--kind", "inpaint", "--prompt", "p"]
    cases = [
        ([rgb, "--kind", "upscale"], "prompt: is required"),
        ([rgb, "--kind", "upscale-creative", "--prompt", ""], "prompt"),
        ([rgb, "--kind", "inpaint-v2beta", "--mask", mask], "prompt: is required"),
        ([rgb, "--kind", "upscale", "--prompt", "x" * 10001], "prompt: must be a string of 1"),
        ([rgb, *up, "--creativity", "0.5"], "creativity: must be a number from 0 to 0.35"),
        ([rgb, *up, "--creativity", "-0.1"], "creativity"),
        ([rgb, *up, "--output-format", "gif"], "output_format: must be one of png, jpeg or webp"),
        ([rgb, *up, "--seed", "4294967295"], "seed"),
        ([rgb, *up, "--motion", "40"], "motion_bucket_id: unknown field for upscale"),
        ([video, "--prompt", "p"], "prompt: unknown field for video"),
        ([huge, *up], "image: must have 4096 to 1048576 pixels"),
        ([thin, *up], "image: each side must be at least 64 pixels"),
        ([tiny, *inpaint, "--mode", "search", "--search-prompt", "x"], "image: must have 4096"),
        ([webp], "image: must be a PNG or JPEG image"),
        ([video, "--mask", mask], "mask: kind \"video\" takes no mask"),
        ([rgb, *up, "--mask", mask], "mask: kind \"upscale\" takes no mask"),
        ([rgb, *inpaint, "--mode", "search"], "search_prompt: required when mode is search"),
        ([rgb, *inpaint], "mode: is required"),
        ([rgb, *inpaint, "--mode", "blur"], "mode: must be one of mask or search"),
        ([rgb, *inpaint, "--mode", "mask"], "image: has no alpha channel and no mask"),
        ([rgb128, "--kind", "inpaint-v2beta", "--prompt", "p"], "image: has no alpha channel"),
        ([rgb128, "--kind", "inpaint-v2beta", "--prompt", "p", "--mask", mask,
          "--grow-mask", "101"], "grow_mask: must be an integer from 0 to 100"),
        ([rgb, *inpaint, "--mode", "mask", "--mask", tiny], "mask: must have 4096"),
    ]
    with FakeApi(BIN_DIR, tmp / "api", **FAKE) as api, Genqd(tmp / "d", api) as d:
        for args, needle in cases:
            r = d.ctl("submit", *[str(a) for a in args])
            shown = " ".join(str(a)[:40] for a in args)
            assert r.returncode == 1, (shown, r.returncode, r.stdout, r.stderr[:300])
            assert needle in r.stderr, (shown, r.stderr[:300])
            assert r.stdout == "", (shown, r.stdout)
        assert d.get_json("/v1/jobs")["jobs"] == []
        # Only the start-up balance read reached the provider; nothing of a refused job.
        st = api.stats()
        assert st["requests"] == st["balance_reads"] and st["submits"] == 0, st


# ---- credits and the daily cap --------------------------------------------------------------

def states(d, ids):
    return [d.job(i) for i in ids]


def wait_for(what, predicate, timeout=60, step=0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(step)


def count(jobs, state):
    return sum(1 for j in jobs if j["state"] == state)


def assert_held(d, api, ids, succeeded, submits, settle=1.5):
    """Exactly `succeeded` jobs done, the rest queued for the budget, and no further submission
    reaches the provider while they wait. The dispatcher's verdict is waited for (a loaded
    machine may take a while to give it); `settle` is then a window in which nothing more may
    be sent, not a guess at how long the verdict takes."""
    def verdict():
        jobs = states(d, ids)
        return count(jobs, "succeeded") >= succeeded and all(
            j["wait_reason"] == "budget" for j in jobs if j["state"] == "queued") and \
            count(jobs, "queued") + count(jobs, "succeeded") == len(jobs)
    wait_for("the jobs held for the budget", verdict)
    time.sleep(settle)
    jobs = states(d, ids)
    assert count(jobs, "succeeded") == succeeded, [j["state"] for j in jobs]
    waiting = [j for j in jobs if j["state"] != "succeeded"]
    assert all(j["state"] == "queued" and j["wait_reason"] == "budget" for j in waiting), \
        [(j["state"], j["wait_reason"]) for j in waiting]
    assert api.stats()["submits"] == submits, api.stats()


def test_budget_cap_exact_with_many_waiting(tmp):
    with FakeApi(BIN_DIR, tmp / "api", gen_time=0.8, **FAKE) as api, \
            Genqd(tmp / "d", api, extra="[budget]\ndaily_credits = 60") as d:
        images = [write(tmp / "in" / ("v%02d.png" % i), make_png(1024, 576, seed=i))
                  for i in range(10)]
        ids = d.submit(images)
        # While the first three run, their price is reserved: never a fourth in flight.
        peak = 0
        deadline = time.monotonic() + 60
        while count(states(d, ids), "succeeded") < 3:
            jobs = states(d, ids)
            peak = max(peak, sum(1 for j in jobs if j["state"] in ("submitting", "running")))
            assert time.monotonic() < deadline, [j["state"] for j in jobs]
            time.sleep(0.05)
        assert peak <= 3, peak
        assert_held(d, api, ids, 3, 3)
        status = d.get_json("/v1/status")
        assert status["budget"]["spent_today"] == 60, status["budget"]
        assert status["keys"][0]["credits_today"] == 60, status["keys"]
        assert "budget: 60 of 60 credits today" in d.ctl("status", check=0).stdout
        # A plain resume does not lift the cap.
        d.ctl("resume", check=0)
        assert_held(d, api, ids, 3, 3, settle=1)
        # A reload with a higher cap lets exactly two more go (100 = 5 x 20).
        d.config.write_text(d.config.read_text().replace("daily_credits = 60",
                                                         "daily_credits = 100"))
        d.ctl("reload", check=0)
        wait_for("five successes", lambda: count(states(d, ids), "succeeded") >= 5)
        assert_held(d, api, ids, 5, 5)
        # resume --budget lifts today's cap: the rest go.
        d.ctl("resume", "--budget", check=0)
        jobs = d.wait_all(ids, timeout=90)
        assert count(jobs, "succeeded") == 10
        assert all(j["cost"] == 20 for j in jobs)
        status = d.get_json("/v1/status")
        assert status["keys"][0]["credits_today"] == 200 == status["keys"][0]["credits_total"]


def submit_one(d, path, *options):
    return d.submit([path], *options)[0]


def test_accounting_survives_restart(tmp):
    """Mixed prices up to a cap of exactly 53; failures cost nothing, CONTENT_FILTERED costs the
    price; per-key totals, the cap and the waiting jobs all survive a SIGKILL restart."""
    inp = tmp / "in"
    with FakeApi(BIN_DIR, tmp / "api", keys=["test-key-0", "test-key-1"], gen_time=0.5,
                 **FAKE) as api:
        d = Genqd(tmp / "d", api, keys={"main": 1, "second": 1},
                  extra="[budget]\ndaily_credits = 53")
        rgb = write(inp / "rgb.png", make_png(256, 256, seed=1))
        mask = write(inp / "mask.png", make_png(256, 256, seed=2))
        inpaint = ["--kind", "inpaint", "--mode", "mask", "--prompt", "p", "--mask", str(mask)]
        failed = submit_one(d, rgb, *inpaint, "--key", "main", "--seed", REFUSED)
        assert d.wait_all([failed])[0]["state"] == "failed"
        up = ["--kind", "upscale", "--prompt", "p"]
        charged = [submit_one(d, write(inp / "u1.png", make_png(512, 512, seed=3)), *up,
                              "--key", "main"),
                   submit_one(d, write(inp / "u2.png", make_png(512, 512, seed=4)), *up,
                              "--key", "second"),
                   submit_one(d, rgb, *inpaint, "--key", "second", "--seed", FILTERED)]
        jobs = d.wait_all(charged)
        assert [j["cost"] for j in jobs] == [25, 25, 3], jobs
        assert jobs[2]["finish_reason"] == "CONTENT_FILTERED"
        assert d.job(failed)["cost"] == 0
        held = [submit_one(d, rgb, *inpaint, "--key", "main"),
                submit_one(d, write(inp / "v.png", make_png(1024, 576, seed=5)))]
        assert_held(d, api, held, 0, 4)

        def check_accounts():
            status = d.get_json("/v1/status")
            keys = {k["name"]: (k["credits_today"], k["credits_total"]) for k in status["keys"]}
            assert keys == {"main": (25, 25), "second": (28, 28)}, keys
            assert status["budget"]["spent_today"] == 53 and status["budget"]["daily_credits"] == 53

        check_accounts()
        d.kill()
        d.start()
        check_accounts()
        assert_held(d, api, held, 0, 4)
        d.ctl("resume", "--budget", check=0)
        jobs = d.wait_all(held)
        assert [j["state"] for j in jobs] == ["succeeded", "succeeded"]
        status = d.get_json("/v1/status")
        keys = {k["name"]: k["credits_total"] for k in status["keys"]}
        assert keys["main"] + keys["second"] == 76, keys
        d.stop()


# ---- the rest of the stable-image family (issue 15) --------------------------------------------

# genq's price per kind (its budget figure: sd3's row is 7, the dearest of its models rounded up)
# and what the stand-in charges (sd3.5-large-turbo: 4).
FAMILY_PRICES = {"ultra": 8, "core": 3, "sd3": 7, "upscale-conservative": 40, "upscale-fast": 2,
                 "erase": 5, "outpaint": 4, "search-and-replace": 5, "search-and-recolor": 5,
                 "remove-background": 5, "relight": 8, "sketch": 5, "structure": 5, "style": 5}
STANDIN_PRICES = dict(FAMILY_PRICES, sd3=4)


def post_job(d, kind, image=None, fields=None, mask=None):
    """POST /v1/jobs as multipart (every param as a form field); returns (status, body)."""
    boundary = "genqtest" + uuid.uuid4().hex
    out = b""

    def part(name, data, filename=None):
        nonlocal out
        disposition = 'form-data; name="%s"' % name
        if filename:
            disposition += '; filename="%s"' % filename
        out += ("--%s\r\nContent-Disposition: %s\r\n\r\n" % (boundary, disposition)).encode()
        out += (data if isinstance(data, bytes) else str(data).encode()) + b"\r\n"

    part("kind", kind)
    for name, value in (fields or {}).items():
        part(name, value)
    if image is not None:
        part("image", image.read_bytes(), image.name)
    if mask is not None:
        part("mask", mask.read_bytes(), mask.name)
    out += ("--%s--\r\n" % boundary).encode()
    status, body = d.request("POST", "/v1/jobs", out,
                             {"Content-Type": "multipart/form-data; boundary=" + boundary})
    return status, json.loads(body)


def family_cases(inp, tag):
    """(kind, image, fields, mask, expected extension, expected finish reason): every new kind
    the engine carries today (an image under `image`)."""
    s = sum(map(ord, tag)) + 100
    mask = write(inp / "fmask.png", make_png(256, 256, seed=17))

    def img(name, w, h, seed):
        return write(inp / name, make_png(w, h, seed=s + seed))

    return [
        ("upscale-conservative", img("cons.png", 512, 512, 1),
         {"prompt": "sharp", "creativity": "0.3", "output_format": "jpeg"}, None, "jpg",
         "SUCCESS"),
        ("upscale-fast", img("fast.png", 256, 128, 2), {"output_format": "webp"}, None, "webp",
         "SUCCESS"),
        ("erase", write(inp / "era.png", make_png_rgba(96, 96, seed=s)), {"grow_mask": "10"},
         None, "png", "SUCCESS"),
        ("erase", img("erm.png", 256, 256, 3), {}, mask, "png", "SUCCESS"),
        ("outpaint", img("out.png", 256, 256, 4), {"left": "100", "up": "50", "prompt": "sky"},
         None, "png", "SUCCESS"),
        ("search-and-replace", img("sar.png", 256, 256, 5),
         {"prompt": "a cat", "search_prompt": "the dog", "seed": FILTERED}, None, "png",
         "CONTENT_FILTERED"),
        ("search-and-recolor", img("rec.png", 256, 256, 6),
         {"prompt": "red", "select_prompt": "the car", "output_format": "jpeg"}, None, "jpg",
         "SUCCESS"),
        ("remove-background", img("rmbg.png", 300, 200, 7), {"output_format": "webp"}, None,
         "webp", "SUCCESS"),
        ("sketch", img("sk.png", 256, 256, 8), {"prompt": "a castle", "control_strength": "0.5"},
         None, "png", "SUCCESS"),
        ("structure", img("st.png", 256, 256, 9), {"prompt": "a castle"}, None, "png",
         "SUCCESS"),
        ("style", img("sty.png", 256, 256, 10),
         {"prompt": "a castle", "fidelity": "0.8", "aspect_ratio": "16:9"}, None, "png",
         "SUCCESS"),
        ("ultra", img("ul.png", 256, 256, 11), {"prompt": "a fox", "strength": "0.5"}, None,
         "png", "SUCCESS"),
        ("sd3", img("sd.png", 256, 256, 12),
         {"prompt": "a fox", "strength": "0.6", "model": "sd3.5-large-turbo",
          "output_format": "jpeg"}, None, "jpg", "SUCCESS"),
    ]


def check_family_case(gens, job, case, form):
    kind, image, fields, mask, ext, reason = case
    where = "%s %s (%s form)" % (kind, image.name, form)
    assert job["state"] == "succeeded", (where, job)
    g = generation_of(gens, job)
    assert g["kind"] == kind and g["served_form"] == form, (where, g)
    assert sha256_file(job["output"]) == g["sha256"], where
    assert job["output"].endswith("/" + image.name.rsplit(".", 1)[0] + "." + ext), where
    with open(job["output"], "rb") as f:
        assert MAGIC[ext](f.read(16)), where
    assert job["finish_reason"] == reason == g["finish_reason"], where
    assert job["seed"] == str(g["seed"]), where
    assert job["cost"] == FAMILY_PRICES[kind], (where, job["cost"])
    sent = g["params"]
    for name, value in fields.items():  # every param reached the provider as given
        assert str(sent[name]) == value or sent[name] == float(value), (where, name, sent)
    if kind == "sd3":  # genq filled in the mode from the image
        assert sent["mode"] == "image-to-image", (where, sent)
    if mask is not None:
        assert sent["mask"]["width"] == 256, (where, sent)


def run_family(tmp, api, form):
    d = Genqd(tmp / ("fam-" + form), api, start=False)
    if form == "json":
        set_result_form(d, form)
    d.start()
    with d:
        before = api.stats()["credits"][0]
        cases = family_cases(tmp / ("fin-" + form), form)
        ids = []
        for kind, image, fields, mask, _, _ in cases:
            status, body = post_job(d, kind, image, fields, mask)
            assert status == 201, (kind, status, body)
            ids.append(body["id"])
        jobs = d.wait_all(ids, timeout=120)
        gens = api.generations()
        for job, case in zip(jobs, cases):
            check_family_case(gens, job, case, form)
        key = d.get_json("/v1/status")["keys"][0]
        assert key["credits_total"] == sum(FAMILY_PRICES[c[0]] for c in cases), key
        # The stand-in's balance went down by what it charged for each success.
        charged = sum(STANDIN_PRICES[c[0]] for c in cases)
        assert abs(before - api.stats()["credits"][0] - charged) < 1e-9, (before, charged)


def test_family_bytes_form(tmp):
    with FakeApi(BIN_DIR, tmp / "api", gen_time=0.3, **FAKE) as api:
        run_family(tmp, api, "bytes")


def test_family_json_form(tmp):
    with FakeApi(BIN_DIR, tmp / "api", gen_time=0.3, **FAKE) as api:
        run_family(tmp, api, "json")


def test_family_refusals(tmp):
    """Validation of the new kinds at the socket: refused at once, naming the field and what is
    allowed; nothing queued, nothing sent."""
    inp = tmp / "in"
    rgb = write(inp / "rgb.png", make_png(256, 256, seed=1))
    wide = write(inp / "wide.png", make_png(1000, 300, seed=2))
    big = write(inp / "big.png", make_png(1600, 400, seed=3))
    cases = [
        ("core", rgb, {"prompt": "p"}, 'image: kind "core" takes no image'),
        ("erase", None, {}, "image: missing"),
        ("core", None, {}, "prompt: is required"),
        ("ultra", rgb, {"prompt": "p"}, "strength: required when an image is given"),
        ("ultra", None, {"prompt": "p", "strength": "0.5"}, "strength: only with an image"),
        ("sd3", None, {"prompt": "p", "mode": "image-to-image"},
         "image: required when mode is image-to-image"),
        ("sd3", None, {"prompt": "p", "output_format": "webp"},
         "output_format: must be one of png or jpeg"),
        ("upscale-conservative", rgb, {"prompt": "p", "creativity": "0.6"},
         "creativity: must be a number from 0.2 to 0.5"),
        ("upscale-fast", big, {}, "image: each side must be 32 to 1536 pixels"),
        ("erase", rgb, {}, "image: has no alpha channel and no mask"),
        ("outpaint", rgb, {}, "left, right, up or down: at least one must be greater than 0"),
        ("outpaint", rgb, {"down": "2001"}, "down: must be an integer from 0 to 2000"),
        ("search-and-replace", rgb, {"prompt": "p"}, "search_prompt: is required"),
        ("search-and-recolor", rgb, {"prompt": "p", "select_prompt": "s", "grow_mask": "21"},
         "grow_mask: must be an integer from 0 to 20"),
        ("remove-background", wide, {}, "image: aspect ratio must be between 1:2.5 and 2.5:1"),
        ("relight", rgb, {}, "background_prompt or background_reference: at least one"),
        ("relight", rgb, {"background_prompt": "b", "light_source_direction": "behind"},
         "light_source_direction: must be one of left, right, above or below"),
        ("sketch", rgb, {"prompt": "p", "control_strength": "1.5"},
         "control_strength: must be a number from 0 to 1"),
        ("style", rgb, {"prompt": "p", "fidelity": "x"}, "fidelity: must be a number from 0 to 1"),
        ("structure", rgb, {"prompt": "p", "strength": "0.5"},
         "strength: unknown field for structure"),
    ]
    with FakeApi(BIN_DIR, tmp / "api", **FAKE) as api, Genqd(tmp / "d", api) as d:
        for kind, image, fields, needle in cases:
            status, body = post_job(d, kind, image, fields)
            assert status in (400, 422), (kind, fields, status, body)
            assert needle in body["error"], (kind, fields, body)
            assert body["code"] in ("invalid_param", "invalid_image"), body
        assert d.get_json("/v1/jobs")["jobs"] == []
        assert api.stats()["submits"] == 0


def test_prompt_only_jobs_are_accepted(tmp):
    """A prompt-only kind makes a job without an image (the queue is paused: only intake is
    under test here); its input carries no file and its result will be named after the job."""
    with FakeApi(BIN_DIR, tmp / "api", **FAKE) as api, Genqd(tmp / "d", api) as d:
        d.ctl("pause", check=0)
        status, job = post_job(d, "core", None, {"prompt": "a lighthouse", "aspect_ratio": "21:9"})
        assert status == 201, job
        assert job["kind"] == "core" and job["state"] == "queued", job
        assert job["input"]["name"] == job["id"] and job["input"]["sha256"] == "", job["input"]
        assert job["params"] == {"prompt": "a lighthouse", "aspect_ratio": "21:9"}, job["params"]
        status, job = post_job(d, "sd3", None, {"prompt": "p", "model": "sd3.5-medium"})
        assert status == 201 and "mode" not in job["params"], job
        status, job = post_job(d, "ultra", None, {"prompt": "p", "style_preset": "anime"})
        assert status == 201, job
        assert len(d.get_json("/v1/jobs")["jobs"]) == 3
        assert api.stats()["submits"] == 0


# Needs the engine to send build_submit_body() (lib/provider/submit_request.hpp) and to submit a
# job without an image: not in the run list until lib/app/engine.cpp does (see the report).
def test_prompt_only_and_relight_end_to_end(tmp):
    with FakeApi(BIN_DIR, tmp / "api", gen_time=0.3, **FAKE) as api, Genqd(tmp / "d", api) as d:
        subject = write(tmp / "in" / "me.png", make_png(256, 256, seed=4))
        specs = [("core", None, {"prompt": "a lighthouse", "output_format": "webp"}, "webp"),
                 ("ultra", None, {"prompt": "a fox", "aspect_ratio": "9:16"}, "png"),
                 ("sd3", None, {"prompt": "a fox", "model": "sd3.5-medium"}, "png"),
                 ("relight", subject, {"background_prompt": "a beach"}, "png")]
        ids = [post_job(d, kind, image, fields)[1]["id"] for kind, image, fields, _ in specs]
        jobs = d.wait_all(ids, timeout=60)
        gens = api.generations()
        for job, (kind, image, fields, ext) in zip(jobs, specs):
            assert job["state"] == "succeeded", job
            stem = image.stem if image else job["id"]
            assert job["output"].endswith("/%s.%s" % (stem, ext)), job["output"]
            g = [g for g in gens.values() if g["kind"] == kind]
            assert len(g) == 1 and g[0]["sha256"] == sha256_file(job["output"]), kind
        assert jobs[3]["remote_id"], jobs[3]  # relight is asynchronous


if __name__ == "__main__":
    run_tests([test_every_kind_bytes_form, test_every_kind_json_form, test_result_form_is_validated,
               test_refusals_per_field, test_budget_cap_exact_with_many_waiting,
               test_accounting_survives_restart, test_family_bytes_form, test_family_json_form,
               test_family_refusals, test_prompt_only_jobs_are_accepted,
               test_prompt_only_and_relight_end_to_end])
