"""Test images made on the fly (stdlib only): real PNGs, and JPEG/WebP headers that are enough
for a dimension sniffer but are not decodable pictures."""

import struct
import zlib


def _png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def make_png(width, height, seed=0):
    """A valid 8-bit RGB PNG of width x height; different seeds give different bytes."""
    pattern = bytes(range(256)) * (width * 3 // 256 + 2)
    rows = []
    for y in range(height):
        offset = (seed * 31 + y) % 256
        rows.append(b"\x00" + pattern[offset:offset + width * 3])
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"tEXt", b"seed\x00" + str(seed).encode())
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
