#!/usr/bin/env python3
"""What the demo's videos cost the stand-in (issue 13): submits N distinct 1024x576 images
straight to genq-fakeapi, once with --videos builtin and once with --videos zoom (ffmpeg), and
polls each until its result is served. Prints one JSON line per mode: submit latency (the
stand-in's event loop answering while ffmpeg children run), how long after its generation time a
result was ready (the encode, when it did not fit inside the generation time), result sizes.
Usage: bench/video_bench.py [--images 12] [--gen-time 1.0] [--bin build]

It measures, it does not assert."""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))

from fakeapi import FakeApi  # noqa: E402
from images import make_scene  # noqa: E402


def run(mode, images, gen_time, bin_dir, workdir):
    with FakeApi(bin_dir, workdir, gen_time=gen_time, gen_jitter=0, video_bytes=0, videos=mode,
                 limit=10000) as api:
        s = api.session()
        headers = {"authorization": "Bearer " + api.keys[0]}
        submits, ids = [], []
        for i, img in enumerate(images):
            t0 = time.monotonic()
            r = s.post(api.url("/v2beta/image-to-video"), headers=headers,
                       files={"image": ("img%d.png" % i, img, "image/png")}, timeout=30)
            submits.append(time.monotonic() - t0)
            assert r.status_code == 200, r.text
            ids.append((r.json()["id"], t0))
        late, sizes = [], []
        for gen, t0 in ids:
            while True:
                r = s.get(api.url("/v2beta/image-to-video/result/" + gen), headers=headers,
                          timeout=30)
                if r.status_code == 200:
                    late.append(max(0.0, time.monotonic() - t0 - gen_time))
                    sizes.append(len(r.content))
                    break
                assert r.status_code == 202, r.text
                time.sleep(0.02)
    ms = lambda xs: round(1000 * xs, 1)  # noqa: E731
    return {"mode": mode, "images": len(images),
            "submit_ms_median": ms(statistics.median(submits)), "submit_ms_max": ms(max(submits)),
            "ready_after_gen_time_ms_median": ms(statistics.median(late)),
            "ready_after_gen_time_ms_max": ms(max(late)),
            "result_bytes_median": int(statistics.median(sizes))}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=12)
    ap.add_argument("--gen-time", type=float, default=1.0)
    ap.add_argument("--bin", default=str(HERE.parent / "build"))
    a = ap.parse_args()
    images = [make_scene(1024, 576, seed=i) for i in range(a.images)]
    with tempfile.TemporaryDirectory(prefix="genq-video-bench-") as tmp:
        for mode in ("builtin", "zoom"):
            print(json.dumps(run(mode, images, a.gen_time, a.bin, Path(tmp) / mode)), flush=True)


if __name__ == "__main__":
    main()
