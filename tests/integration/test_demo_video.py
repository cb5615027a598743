"""The demo's videos are real: every video the stand-in serves (through genqd, to disk) is an MP4
that ffprobe accepts and ffmpeg decodes. The built-in clip (H.264 written by the stand-in itself)
needs no ffmpeg; with --videos zoom, the clip is a two-second slow zoom into the submitted image,
and its first frame is that image."""

import json
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

from genqtest import BIN_DIR, FakeApi, Genqd, assert_outputs_match, run_tests
from images import make_jpeg_header

FAKE = dict(limit=100, window=1, lockout=2, poll_interval=0.2)
HAVE_FFPROBE = shutil.which("ffprobe") is not None
HAVE_FFMPEG = shutil.which("ffmpeg") is not None


def boxes(data):
    """The top-level ISO BMFF boxes as (type, size); fails on a box that overruns the file."""
    out, at = [], 0
    while at < len(data):
        size, kind = struct.unpack(">I4s", data[at:at + 8])
        assert size >= 8 and at + size <= len(data), "box %r at %d overruns" % (kind, at)
        out.append((kind.decode(), size))
        at += size
    return out


def probe(path):
    r = subprocess.run(["ffprobe", "-v", "error", "-of", "json", "-show_entries",
                        "stream=codec_name,width,height,nb_frames:format=duration",
                        str(path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and not r.stderr.strip(), "ffprobe refused %s: %s" % (path, r.stderr)
    info = json.loads(r.stdout)
    s = info["streams"][0]
    return {"codec": s["codec_name"], "size": (s["width"], s["height"]),
            "frames": int(s["nb_frames"]), "duration": float(info["format"]["duration"])}


def decodes_cleanly(path):
    r = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and not r.stderr.strip(), "ffmpeg decode of %s: %s" % (path, r.stderr)


def thumbnail(path, frame=None):
    """32x18 RGB bytes of an image, or of one frame of a video."""
    vf = "scale=32:18" if frame is None else "select=eq(n\\,%d),scale=32:18" % frame
    r = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-vf", vf,
                        "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                       capture_output=True, timeout=60)
    assert r.returncode == 0 and len(r.stdout) == 32 * 18 * 3, r.stderr
    return r.stdout


def difference(a, b):
    return sum(abs(x - y) for x, y in zip(a, b)) / len(a)


def gradient_png(path, width, height, flip=False):
    """Red rises left to right, blue falls (or the reverse): easy to tell apart and to zoom."""
    rows = []
    for y in range(height):
        row = bytearray(b"\x00")
        g = y * 255 // (height - 1)
        for x in range(width):
            r = x * 255 // (width - 1)
            row += bytes((255 - r, g, r) if flip else (r, g, 255 - r))
        rows.append(bytes(row))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                     + chunk(b"IDAT", zlib.compress(b"".join(rows), 6)) + chunk(b"IEND", b""))
    return path


def run_jobs(tmp, api, images):
    with Genqd(tmp / "d", api) as d:
        ids = d.submit(images)
        jobs = d.wait_all(ids)
        assert [j["state"] for j in jobs] == ["succeeded"] * len(images), jobs
        assert_outputs_match(api, jobs)
        return [Path(j["output"]) for j in jobs]


def test_builtin_clip_is_a_playable_mp4(tmp):
    (tmp / "in").mkdir()
    images = [gradient_png(tmp / "in" / "a.png", 1024, 576),
              gradient_png(tmp / "in" / "b.png", 768, 768, flip=True)]
    with FakeApi(BIN_DIR, tmp / "api", gen_time=0.2, video_bytes=5000, **FAKE) as api:
        outputs = run_jobs(tmp, api, images)
    for out in outputs:
        data = out.read_bytes()
        assert len(data) == 5000, len(data)  # --video-bytes pads with a trailing free box
        assert [k for k, _ in boxes(data)] == ["ftyp", "moov", "mdat", "free"], boxes(data)
        if HAVE_FFPROBE:
            info = probe(out)
            assert info == {"codec": "h264", "size": (64, 32), "frames": 20, "duration": 2.0}, info
            decodes_cleanly(out)
    assert outputs[0].read_bytes() != outputs[1].read_bytes()  # the colours follow the seed
    if not HAVE_FFPROBE:
        print("  SKIP ffprobe checks: ffprobe is not installed (apt-get install ffmpeg)")


def test_zoom_is_made_from_the_submitted_image(tmp):
    if not HAVE_FFMPEG:
        print("  SKIP: ffmpeg is not installed (apt-get install ffmpeg)")
        return
    (tmp / "in").mkdir()
    wide = gradient_png(tmp / "in" / "wide.png", 1024, 576)
    flipped = gradient_png(tmp / "in" / "flipped.png", 1024, 576, flip=True)
    tall = gradient_png(tmp / "in" / "tall.png", 576, 1024)
    # A JPEG header with no picture data: ffmpeg cannot decode it, so the built-in clip stands in.
    broken = tmp / "in" / "header-only.jpg"
    broken.write_bytes(make_jpeg_header(1024, 576))
    images = [wide, flipped, tall, broken]
    with FakeApi(BIN_DIR, tmp / "api", gen_time=0.2, video_bytes=0, videos="zoom",
                 **FAKE) as api:
        outputs = run_jobs(tmp, api, images)
        log = api.output_file.read_text()
    expect = [(512, 288), (512, 288), (288, 512), (64, 32)]
    for out, size in zip(outputs, expect):
        info = probe(out)
        frames = 48 if size != (64, 32) else 20
        assert info == {"codec": "h264", "size": size, "frames": frames, "duration": 2.0}, info
        decodes_cleanly(out)
    first = thumbnail(outputs[0], 0)
    assert difference(first, thumbnail(wide)) < 12, difference(first, thumbnail(wide))
    assert difference(first, thumbnail(flipped)) > 60, "the clip is not made from its own image"
    assert difference(thumbnail(outputs[1], 0), thumbnail(flipped)) < 12
    zoomed = difference(first, thumbnail(outputs[0], 47))
    assert zoomed > 2, "the last frame equals the first: no zoom (%.2f)" % zoomed
    assert "took too long" not in log, log


if __name__ == "__main__":
    run_tests([test_builtin_clip_is_a_playable_mp4, test_zoom_is_made_from_the_submitted_image])
