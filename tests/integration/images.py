"""Test images made on the fly (stdlib only): real PNGs, and JPEG/WebP headers that are enough
for a dimension sniffer but are not decodable pictures."""

import struct
import zlib


def _png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def make_png(width, height, seed=0, label=""):
    """A valid 8-bit RGB PNG of width x height; different seeds or labels give different bytes."""
    pattern = bytes(range(256)) * (width * 3 // 256 + 2)
    rows = []
    for y in range(height):
        offset = (seed * 31 + y) % 256
        rows.append(b"\x00" + pattern[offset:offset + width * 3])
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"tEXt", b"seed\x00" + (label + str(seed)).encode())
            + _png_chunk(b"IDAT", zlib.compress(b"".join(rows), 1))
            + _png_chunk(b"IEND", b""))


def make_jpeg_header(width, height):
    """SOI, a JFIF APP0 segment, a baseline SOF0 frame header and EOI."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) \
        + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    return b"\xff\xd8" + app0 + sof0 + b"\xff\xd9"


def make_webp_header(width, height):
    """A RIFF/WEBP container with a lossy VP8 frame header of width x height."""
    frame = b"\x10\x02\x00\x9d\x01\x2a" + struct.pack("<HH", width, height) + bytes(32)
    body = b"WEBP" + b"VP8 " + struct.pack("<I", len(frame)) + frame
    return b"RIFF" + struct.pack("<I", len(body)) + body


def image_size(data):
    """(width, height) of a PNG, for checking results."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", "not a PNG"
    return struct.unpack(">II", data[16:24])


def make_scene(width, height, seed=0):
    """A small landscape (sky, sun, two rows of hills) as an RGB PNG: something worth watching in
    the demo's zooming videos. The seed moves the sun and tints the light."""
    import math
    sun_x, sun_y = width * (0.25 + 0.5 * ((seed * 37) % 100) / 100), height * 0.3
    sun_r2 = (min(width, height) * 0.09) ** 2
    warm = (seed * 53) % 60
    far = [height * (0.62 + 0.05 * math.sin(x / width * 7 + seed)) for x in range(width)]
    near = [height * (0.78 + 0.06 * math.sin(x / width * 4.3 + 2 * seed + 1)) for x in range(width)]
    rows = []
    for y in range(height):
        t = y / height
        sky = bytes((min(255, int(90 + 150 * t + warm)), int(140 + 80 * t), int(235 - 60 * t)))
        row = bytearray(b"\x00")
        for x in range(width):
            if y > near[x]:
                row += bytes((40, int(110 - 40 * t), 50))
            elif y > far[x]:
                row += bytes((70, int(140 - 30 * t), 90))
            elif (x - sun_x) ** 2 + (y - sun_y) ** 2 < sun_r2:
                row += bytes((255, 225, 120))
            else:
                row += sky
        rows.append(bytes(row))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", zlib.compress(b"".join(rows), 6)) + _png_chunk(b"IEND", b""))
