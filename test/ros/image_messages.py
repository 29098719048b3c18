"""Building sensor_msgs/Image test messages by hand, in every encoding the node's builtin converter covers.

Written independently of ``fer_ros.core.image_convert`` (which is under test): rows padded with junk bytes,
16-bit data in either byte order, Bayer mosaics sampled from a BGR picture, YUV 4:2:2 packed from the
BT.601 formulas (numpy, no OpenCV conversion).
"""

from __future__ import annotations

import array

import cv2
import numpy as np

PATCHES_BGR = ((200, 40, 10), (10, 200, 90), (60, 30, 220), (90, 160, 250))  # asymmetric: no two alike
BGR_INDEX = {"b": 0, "g": 1, "r": 2}


def make_msg(encoding: str, pixels: np.ndarray, pad: int = 0, bigendian: bool = False):
    """An Image of ``pixels`` (H, W, C) in ``encoding``: rows padded with ``pad`` 0xAB bytes."""
    from sensor_msgs.msg import Image

    h, w = pixels.shape[:2]
    if pixels.dtype == np.uint16:
        pixels = pixels.astype(">u2" if bigendian else "<u2")
    row = pixels.reshape(h, -1).view(np.uint8).reshape(h, -1)
    padded = np.concatenate([row, np.full((h, pad), 0xAB, np.uint8)], axis=1)
    msg = Image(height=h, width=w, encoding=encoding, is_bigendian=int(bigendian), step=row.shape[1] + pad)
    msg.data = array.array("B", padded.tobytes())
    return msg


def patch_image(size: int = 16, grid: tuple[int, int] = (2, 2)) -> np.ndarray:
    """Uniform colour patches (``PATCHES_BGR``, repeated) in a grid of ``size`` px squares."""
    rows, cols = grid
    image = np.zeros((rows * size, cols * size, 3), np.uint8)
    for i in range(rows * cols):
        y, x = divmod(i, cols)
        image[y * size:(y + 1) * size, x * size:(x + 1) * size] = PATCHES_BGR[i % len(PATCHES_BGR)]
    return image


def patch_interiors(image: np.ndarray, size: int, margin: int = 3) -> list[np.ndarray]:
    """The pixels of each patch of ``patch_image`` away from its edges, (N, 3) each, in patch order."""
    rows, cols = image.shape[0] // size, image.shape[1] // size
    return [image[y * size + margin:(y + 1) * size - margin, x * size + margin:(x + 1) * size - margin]
            .reshape(-1, 3) for y in range(rows) for x in range(cols)]


def mosaic(bgr: np.ndarray, pattern: str) -> np.ndarray:
    """What a Bayer sensor with this 2x2 pattern (ROS naming, top-left block row by row) records."""
    out = np.empty(bgr.shape[:2], bgr.dtype)
    for dy in (0, 1):
        for dx in (0, 1):
            out[dy::2, dx::2] = bgr[dy::2, dx::2, BGR_INDEX[pattern[2 * dy + dx]]]
    return out


def to_16bit(values: np.ndarray) -> np.ndarray:
    """8-bit values as 16-bit data with non-zero low bits (x * 256 + 128: scales back to x)."""
    return values.astype(np.uint16) * 256 + 128


def bt601_yuv(bgr: np.ndarray) -> np.ndarray:
    """Y, U, V (limited "video" range, ITU-R BT.601) per pixel: what YUV 4:2:2 cameras send."""
    b, g, r = (bgr[:, :, i].astype(np.float64) for i in range(3))
    y = 16 + 0.257 * r + 0.504 * g + 0.098 * b
    u = 128 - 0.148 * r - 0.291 * g + 0.439 * b
    v = 128 + 0.439 * r - 0.368 * g - 0.071 * b
    return np.clip(np.rint(np.stack([y, u, v], axis=2)), 0, 255).astype(np.uint8)


def message_in(encoding: str, bgr: np.ndarray, pad: int = 4, bigendian: bool = True):
    """The picture ``bgr`` (H, W, 3 uint8) as an Image in ``encoding`` (16-bit data in the given byte order)."""
    if encoding.startswith("bayer_"):
        raw = mosaic(bgr, encoding[6:10])
        raw = to_16bit(raw) if encoding.endswith("16") else raw
        return make_msg(encoding, raw[:, :, None], pad=pad, bigendian=bigendian)
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    if encoding in ("mono8", "8UC1"):
        return make_msg(encoding, grey[:, :, None], pad=pad)
    if encoding in ("mono16", "16UC1"):
        return make_msg(encoding, to_16bit(grey)[:, :, None], pad=pad, bigendian=bigendian)
    if encoding in ("yuv422", "uyvy", "yuv422_yuy2", "yuyv"):
        yuv = bt601_yuv(bgr)
        chroma = np.empty(bgr.shape[:2], np.uint8)
        chroma[:, 0::2], chroma[:, 1::2] = yuv[:, 0::2, 1], yuv[:, 0::2, 2]  # U of even, V of odd pixels
        luma_first = encoding in ("yuv422_yuy2", "yuyv")
        packed = np.stack([yuv[:, :, 0], chroma] if luma_first else [chroma, yuv[:, :, 0]], axis=2)
        return make_msg(encoding, packed, pad=pad)
    code = {"rgb8": cv2.COLOR_BGR2RGB, "bgra8": cv2.COLOR_BGR2BGRA, "rgba8": cv2.COLOR_BGR2RGBA}.get(encoding)
    if code is not None:
        return make_msg(encoding, cv2.cvtColor(bgr, code), pad=pad)
    if encoding in ("bgr8", "8UC3"):
        return make_msg(encoding, bgr, pad=pad)
    raise ValueError(f"no test message builder for {encoding!r}")
