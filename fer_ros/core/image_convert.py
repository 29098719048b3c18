"""Conversion between sensor_msgs images and numpy arrays, without cv_bridge and without ROS.

The functions only read and write the fields of ``sensor_msgs/Image`` / ``CompressedImage`` (``encoding``,
``width``, ``height``, ``step``, ``is_bigendian``, ``data``, ``format``), so the same code serves rclpy
messages in the node (``fer_ros/ros``) and the ``rosbags`` message classes of the bag reader (``fer_ros/bag``).

``image_to_bgr`` (builtin) views the message buffer in place (no copy for ``bgr8``), honouring ``step`` (row
padding) and ``is_bigendian``, and converts other encodings (colour orders, grey, Bayer mosaics, YUV 4:2:2)
to BGR with one OpenCV call; 16-bit data is scaled to 8 bit as cv_bridge does (x * 255 / 65535).
The node's choice between this builtin converter and cv_bridge is ``fer_ros/ros/image_converter.py``.
``compressed_to_bgr`` decodes JPEG/PNG with OpenCV once their header says the size is allowed.
Every malformed message raises ``ImageConversionError`` whose ``problem`` is a short key (for
throttled logging) and whose text names what is wrong.
"""

from __future__ import annotations

import array
from dataclasses import dataclass

import cv2
import numpy as np

from fer_ros.core.image_header import read_header, sniff_format

DEFAULT_MAX_PIXELS = 4096 * 4096


class ImageConversionError(ValueError):
    """A message that cannot be turned into an image; ``problem`` is a short, stable key."""

    def __init__(self, problem: str, message: str) -> None:
        super().__init__(message)
        self.problem = problem


@dataclass(frozen=True)
class _Layout:
    dtype: str  # numpy dtype without byte order: "u1" or "u2"
    channels: int
    to_bgr: int | None  # cv2.cvtColor code, None when the array already is BGR (or needs special care)


_ENCODINGS: dict[str, _Layout] = {
    "bgr8": _Layout("u1", 3, None),
    "8UC3": _Layout("u1", 3, None),
    "rgb8": _Layout("u1", 3, cv2.COLOR_RGB2BGR),
    "bgra8": _Layout("u1", 4, cv2.COLOR_BGRA2BGR),
    "rgba8": _Layout("u1", 4, cv2.COLOR_RGBA2BGR),
    "mono8": _Layout("u1", 1, cv2.COLOR_GRAY2BGR),
    "8UC1": _Layout("u1", 1, cv2.COLOR_GRAY2BGR),
    "mono16": _Layout("u2", 1, cv2.COLOR_GRAY2BGR),
    "16UC1": _Layout("u2", 1, cv2.COLOR_GRAY2BGR),
    # sensor_msgs/image_encodings: "yuv422" is UYVY byte order, "yuv422_yuy2" is YUYV.
    "yuv422": _Layout("u1", 2, cv2.COLOR_YUV2BGR_UYVY),
    "uyvy": _Layout("u1", 2, cv2.COLOR_YUV2BGR_UYVY),
    "yuv422_yuy2": _Layout("u1", 2, cv2.COLOR_YUV2BGR_YUYV),
    "yuyv": _Layout("u1", 2, cv2.COLOR_YUV2BGR_YUYV),
}
# Bayer mosaics, named by their top-left 2x2 block. OpenCV names the pattern by the second row's
# second and third pixels, so ROS "rggb" is OpenCV "BayerBG" (the mapping cv_bridge uses too).
_BAYER = {"rggb": cv2.COLOR_BayerBG2BGR, "bggr": cv2.COLOR_BayerRG2BGR, "gbrg": cv2.COLOR_BayerGR2BGR,
          "grbg": cv2.COLOR_BayerGB2BGR}
for _pattern, _code in _BAYER.items():
    _ENCODINGS[f"bayer_{_pattern}8"] = _Layout("u1", 1, _code)
    _ENCODINGS[f"bayer_{_pattern}16"] = _Layout("u2", 1, _code)
SUPPORTED_ENCODINGS: tuple[str, ...] = tuple(_ENCODINGS)
SCALE_16_TO_8 = 255.0 / 65535.0  # cv_bridge's 16 -> 8 bit scaling (rounded)


def check_size(width: int, height: int, max_pixels: int) -> None:
    """Raise ImageConversionError for a zero-size image or one with more than ``max_pixels`` pixels."""
    if width <= 0 or height <= 0:
        raise ImageConversionError("zero_size", f"zero-size image ({width}x{height})")
    if width * height > max_pixels:
        raise ImageConversionError(
            "too_large", f"image {width}x{height} exceeds max_image_pixels={max_pixels}"
        )


def image_to_array(msg, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """View a sensor_msgs/Image as an (H, W, C) array in its own encoding, without copying.

    The view shares memory with ``msg.data``; rows are ``msg.step`` bytes apart.
    """
    layout = _ENCODINGS.get(msg.encoding)
    if layout is None:
        raise ImageConversionError(
            "unknown_encoding",
            f"unknown encoding {msg.encoding!r} (supported: {', '.join(SUPPORTED_ENCODINGS)})",
        )
    width, height, step = int(msg.width), int(msg.height), int(msg.step)
    check_size(width, height, max_pixels)
    if layout.channels == 2 and width % 2:
        raise ImageConversionError("bad_geometry", f"{msg.encoding} needs an even width, got {width}")
    if msg.encoding.startswith("bayer_") and (width < 2 or height < 2):
        raise ImageConversionError("bad_geometry", f"{msg.encoding} needs at least 2x2 pixels, got {width}x{height}")
    itemsize = np.dtype(layout.dtype).itemsize
    row_bytes = width * layout.channels * itemsize
    if step < row_bytes:
        raise ImageConversionError(
            "step_mismatch",
            f"step {step} is smaller than one row of {width} {msg.encoding} pixels ({row_bytes} bytes)",
        )
    buffer = memoryview(msg.data).cast("B") if not isinstance(msg.data, (bytes, bytearray)) else msg.data
    expected = step * height
    if len(buffer) < expected:
        raise ImageConversionError(
            "truncated",
            f"truncated data: {len(buffer)} bytes for {width}x{height} step {step} (need {expected})",
        )
    if len(buffer) > expected:
        raise ImageConversionError(
            "size_mismatch",
            f"data size {len(buffer)} does not match step*height = {step}*{height} = {expected}",
        )
    byte_order = ">" if (msg.is_bigendian and itemsize > 1) else "<"
    dtype = np.dtype(byte_order + layout.dtype) if itemsize > 1 else np.dtype(layout.dtype)
    return np.ndarray(
        shape=(height, width, layout.channels),
        dtype=dtype,
        buffer=buffer,
        strides=(step, layout.channels * itemsize, itemsize),
    )


def image_to_bgr(msg, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Return a (H, W, 3) uint8 BGR image: a view of ``msg.data`` for bgr8, one conversion otherwise."""
    view = image_to_array(msg, max_pixels)
    layout = _ENCODINGS[msg.encoding]
    if layout.to_bgr is None:
        return view
    source = view[:, :, 0] if layout.channels == 1 else view
    if source.dtype.itemsize == 2:  # grey or Bayer at 16 bit: convert there, then scale as cv_bridge does
        bgr16 = cv2.cvtColor(source.astype(np.uint16, copy=False), layout.to_bgr)  # native byte order
        return cv2.convertScaleAbs(bgr16, alpha=SCALE_16_TO_8)
    return cv2.cvtColor(source, layout.to_bgr)


def compressed_to_bgr(msg, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode a sensor_msgs/CompressedImage (jpeg, png) into a (H, W, 3) uint8 BGR image.

    The size is read from the JPEG/PNG header first: an image over ``max_pixels`` (a decompression bomb)
    is rejected without being decoded, and so is data that is neither JPEG nor PNG.
    """
    fmt = (msg.format or "").lower()
    if "compresseddepth" in fmt:
        raise ImageConversionError("unsupported_format", f"unsupported compressed format {msg.format!r}")
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if data.size == 0:
        raise ImageConversionError("empty_compressed", f"empty compressed image (format {msg.format!r})")
    if not sniff_format(data):
        raise ImageConversionError(  # its own kind: throttled apart from compressedDepth
            "unknown_compressed_data",
            f"unsupported compressed format {msg.format!r}: {data.size} bytes that are neither JPEG nor PNG "
            f"(first bytes {bytes(data[:4]).hex()})",
        )
    try:
        header = read_header(data)
    except ValueError as exc:
        raise ImageConversionError(
            "corrupt_compressed", f"cannot decode compressed image of {data.size} bytes: {exc}") from None
    check_size(header.width, header.height, max_pixels)
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if bgr is None:
        raise ImageConversionError(
            "corrupt_compressed",
            f"cannot decode compressed image of {data.size} bytes (format {msg.format!r})",
        )
    if (bgr.shape[1], bgr.shape[0]) != (header.width, header.height):
        raise ImageConversionError(
            "corrupt_compressed", f"decoded {bgr.shape[1]}x{bgr.shape[0]} image but its {header.format} header "
            f"says {header.width}x{header.height}")
    return bgr


def fill_image_msg(msg, pixels: np.ndarray, encoding: str = "bgr8"):
    """Fill a sensor_msgs/Image with a uint8 array (one copy into the message buffer).

    ``bgr8``/``rgb8`` take (H, W, 3) arrays in that channel order, ``mono8`` an (H, W) or (H, W, 1) array.
    """
    channels = {"bgr8": 3, "rgb8": 3, "mono8": 1}.get(encoding)
    if channels is None:
        raise ValueError(f"fill_image_msg supports bgr8, rgb8 and mono8, not {encoding!r}")
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != channels:
        raise ValueError(f"{encoding} needs an (H, W, {channels}) uint8 array, "
                         f"got {pixels.shape} {pixels.dtype}")
    pixels = np.ascontiguousarray(pixels)
    msg.height, msg.width = int(pixels.shape[0]), int(pixels.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = int(pixels.shape[1] * channels)
    data = array.array("B")
    data.frombytes(pixels.data)
    msg.data = data
    return msg


def encode_compressed(msg, bgr: np.ndarray, fmt: str = "jpeg", quality: int = 90):
    """Fill a sensor_msgs/CompressedImage with a JPEG or PNG encoding of a BGR image."""
    ext = ".png" if fmt == "png" else ".jpg"
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if ext == ".jpg" else []
    ok, encoded = cv2.imencode(ext, bgr, params)
    if not ok:
        raise ValueError(f"OpenCV could not encode a {bgr.shape} image as {fmt}")
    msg.format = fmt
    data = array.array("B")
    data.frombytes(encoded.tobytes())
    msg.data = data
    return msg
