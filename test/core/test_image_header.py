"""JPEG/PNG sizes from the header, without decoding: real encoder output of many kinds, and malformed data."""

from __future__ import annotations

import struct

import cv2
import numpy as np
import pytest

from fer_ros.bench.decode_guard import png_bomb
from fer_ros.core.image_header import read_header, sniff_format

RNG = np.random.default_rng(3)


def picture(width: int, height: int, channels: int = 3, dtype=np.uint8) -> np.ndarray:
    high = 65535 if dtype == np.uint16 else 255
    shape = (height, width) if channels == 1 else (height, width, channels)
    return RNG.integers(0, high, size=shape).astype(dtype)


@pytest.mark.parametrize("width,height,channels,dtype", [
    (1, 1, 3, np.uint8), (640, 480, 3, np.uint8), (37, 1021, 1, np.uint8), (300, 200, 4, np.uint8),
    (123, 45, 3, np.uint16), (70000 // 70, 3, 1, np.uint16),
])
def test_png_size_matches_the_encoded_image(width, height, channels, dtype):
    ok, data = cv2.imencode(".png", picture(width, height, channels, dtype))
    assert ok
    header = read_header(data)
    assert (header.format, header.width, header.height) == ("png", width, height)
    assert sniff_format(data.tobytes()) == "png"


@pytest.mark.parametrize("params", [[], [cv2.IMWRITE_JPEG_PROGRESSIVE, 1], [cv2.IMWRITE_JPEG_RST_INTERVAL, 4],
                                    [cv2.IMWRITE_JPEG_OPTIMIZE, 1]], ids=["baseline", "progressive", "restart",
                                                                          "optimized"])
@pytest.mark.parametrize("width,height,channels", [(640, 480, 3), (1, 1, 3), (1280, 720, 1), (4097, 9, 3)])
def test_jpeg_size_matches_the_encoded_image(width, height, channels, params):
    ok, data = cv2.imencode(".jpg", picture(width, height, channels), params)
    assert ok
    header = read_header(data)
    assert (header.format, header.width, header.height) == ("jpeg", width, height)
    decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    assert decoded.shape[:2] == (height, width)


def with_segments_before_the_frame(jpeg: bytes, extra: bytes) -> bytes:
    return jpeg[:2] + extra + jpeg[2:]


def test_jpeg_with_a_large_exif_segment_and_fill_bytes():
    ok, data = cv2.imencode(".jpg", picture(320, 240))
    exif = b"\xff\xe1" + struct.pack(">H", 60002) + b"Exif\x00\x00" + bytes(59994)  # 60 KB APP1
    jpeg = with_segments_before_the_frame(data.tobytes(), exif + b"\xff\xff\xff")  # fill bytes: FF FF FF
    header = read_header(jpeg)
    assert (header.width, header.height) == (320, 240)
    assert cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).shape == (240, 320, 3)


def test_the_10000x10000_png_bomb_is_read_from_its_header():
    bomb = png_bomb(10000, 10000)
    assert len(bomb) < 400_000
    header = read_header(memoryview(bomb))
    assert (header.format, header.width, header.height) == ("png", 10000, 10000)


@pytest.mark.parametrize("data,words", [
    (b"", "neither JPEG nor PNG"),
    (b"GIF89a\x01\x00", "neither JPEG nor PNG"),
    (bytes(range(50)), "neither JPEG nor PNG"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00", "truncated"),
    (b"\x89PNG\r\n\x1a\n" + struct.pack(">I4sII", 13, b"tEXt", 10, 10), "IHDR"),
    (b"\xff\xd8", "truncated"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "truncated"),
    (b"\xff\xd8\xff\xe0\x00\x10" + bytes(14) + b"\xff\xda\x00\x08", "no frame header"),
    (b"\xff\xd8\xff\xd9", "no frame header"),
    (b"\xff\xd8\x00\x01\x02", "marker expected"),
    (b"\xff\xd8\xff\xe0\x00\x01", "invalid length"),
    (b"\xff\xd8\xff\xc0\x00\x11\x08\x00\x00\x01\x00\x03", "height 0"),
    (b"\xff\xd8\xff\xc0\x00\x11\x08\x01", "truncated"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_malformed_headers_raise_a_named_problem(data: bytes, words: str):
    with pytest.raises(ValueError, match=words):
        read_header(data)


def test_dht_before_the_frame_header_is_not_taken_for_a_size():
    ok, data = cv2.imencode(".jpg", picture(64, 32))
    dht = b"\xff\xc4" + struct.pack(">H", 7) + b"\x00\x7f\x7f\x7f\x7f"  # C4 sits in the SOF range
    header = read_header(with_segments_before_the_frame(data.tobytes(), dht))
    assert (header.width, header.height) == (64, 32)
