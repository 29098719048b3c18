"""Image <-> numpy conversion without cv_bridge: every encoding, row padding, byte order, bad input."""

from __future__ import annotations

import array

import cv2
import numpy as np
import pytest

sensor_msgs = pytest.importorskip("sensor_msgs.msg", reason="ROS 2 messages not installed (make setup)")
from image_messages import PATCHES_BGR, make_msg, message_in, patch_image, patch_interiors  # noqa: E402

from fer_ros.core.image_convert import (  # noqa: E402
    SUPPORTED_ENCODINGS,
    ImageConversionError,
    compressed_to_bgr,
    encode_compressed,
    fill_image_msg,
    image_to_array,
    image_to_bgr,
)
from fer_ros.ros.image_converter import CV_BRIDGE_ERROR, ImageConverter  # noqa: E402

RNG = np.random.default_rng(0)
BGR = RNG.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)


@pytest.mark.parametrize("pad", [0, 5])
def test_bgr8_is_a_zero_copy_view_honouring_step(pad: int) -> None:
    msg = make_msg("bgr8", BGR, pad=pad)
    out = image_to_bgr(msg)
    np.testing.assert_array_equal(out, BGR)
    assert np.shares_memory(out, np.frombuffer(msg.data, np.uint8))


@pytest.mark.parametrize("encoding,source,code", [
    ("rgb8", cv2.cvtColor(BGR, cv2.COLOR_BGR2RGB), None),
    ("bgra8", cv2.cvtColor(BGR, cv2.COLOR_BGR2BGRA), None),
    ("rgba8", cv2.cvtColor(BGR, cv2.COLOR_BGR2RGBA), None),
])
@pytest.mark.parametrize("pad", [0, 3])
def test_colour_encodings_convert_to_bgr(encoding: str, source: np.ndarray, code, pad: int) -> None:
    np.testing.assert_array_equal(image_to_bgr(make_msg(encoding, source, pad=pad)), BGR)


@pytest.mark.parametrize("pad", [0, 2])
def test_mono8_becomes_grey_bgr(pad: int) -> None:
    grey = BGR[:, :, 1].copy()
    out = image_to_bgr(make_msg("mono8", grey[:, :, None], pad=pad))
    assert out.shape == (6, 8, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[:, :, c], grey)


@pytest.mark.parametrize("bigendian", [False, True])
@pytest.mark.parametrize("pad", [0, 4])
def test_mono16_respects_byte_order(bigendian: bool, pad: int) -> None:
    values = RNG.integers(0, 65536, size=(6, 8), dtype=np.uint16)
    msg = make_msg("mono16", values[:, :, None], pad=pad, bigendian=bigendian)
    np.testing.assert_array_equal(image_to_array(msg)[:, :, 0], values)
    scaled = np.floor(values / 257.0 + 0.5).astype(np.uint8)  # cv_bridge: x * 255 / 65535, rounded
    np.testing.assert_array_equal(image_to_bgr(msg)[:, :, 0], scaled)


@pytest.mark.parametrize("encoding,order", [("yuv422", "uyvy"), ("uyvy", "uyvy"),
                                            ("yuv422_yuy2", "yuyv"), ("yuyv", "yuyv")])
@pytest.mark.parametrize("pad", [0, 6])
def test_yuv422_variants_decode_a_known_colour(encoding: str, order: str, pad: int) -> None:
    # mid grey: Y=128, U=V=128 everywhere; a pure-luma ramp keeps chroma neutral
    h, w = 4, 8
    y = np.tile(np.linspace(16, 235, w).astype(np.uint8), (h, 1))
    packed = np.empty((h, w, 2), np.uint8)
    if order == "uyvy":
        packed[:, :, 0], packed[:, :, 1] = 128, y
    else:
        packed[:, :, 0], packed[:, :, 1] = y, 128
    out = image_to_bgr(make_msg(encoding, packed, pad=pad))
    assert out.shape == (h, w, 3)
    assert np.abs(out[:, :, 0].astype(int) - out[:, :, 2].astype(int)).max() <= 2  # grey: B == R
    assert (np.diff(out[0, :, 1].astype(int)) >= 0).all() and out[0, -1, 1] > out[0, 0, 1] + 150


def bad(**fields) -> sensor_msgs.Image:
    msg = make_msg("bgr8", BGR)
    for key, value in fields.items():
        setattr(msg, key, value)
    return msg


@pytest.mark.parametrize("msg,problem,words", [
    (bad(encoding="bayer_weird16"), "unknown_encoding", "unknown encoding 'bayer_weird16'"),
    (bad(encoding="bayer_rggb8", width=1, height=10, step=1, data=array.array("B", bytes(10))), "bad_geometry",
     "2x2"),
    (bad(step=10), "step_mismatch", "step 10"),
    (bad(data=array.array("B", bytes(50))), "truncated", "truncated"),
    (bad(data=array.array("B", bytes(200))), "size_mismatch", "does not match"),
    (bad(width=0), "zero_size", "zero-size"),
    (bad(height=0, data=array.array("B")), "zero_size", "zero-size"),
    (bad(width=10000, height=10000, step=30000), "too_large", "10000x10000"),
    (bad(encoding="yuv422", width=7, step=14, data=array.array("B", bytes(14 * 6))), "bad_geometry", "even"),
])
def test_bad_images_raise_a_named_problem(msg, problem: str, words: str) -> None:
    with pytest.raises(ImageConversionError, match=words) as info:
        image_to_bgr(msg)
    assert info.value.problem == problem


@pytest.mark.parametrize("fmt", ["jpeg", "png"])
def test_compressed_images_decode(fmt: str) -> None:
    smooth = cv2.GaussianBlur(cv2.resize(BGR, (64, 48)), (7, 7), 0)
    msg = encode_compressed(sensor_msgs.CompressedImage(), smooth, fmt)
    out = compressed_to_bgr(msg)
    assert out.shape == (48, 64, 3)
    tolerance = 0 if fmt == "png" else 12
    assert np.abs(out.astype(int) - smooth.astype(int)).mean() <= tolerance


def test_corrupt_and_empty_compressed_images_are_named() -> None:
    msg = encode_compressed(sensor_msgs.CompressedImage(), BGR, "jpeg")
    whole = msg.data
    msg.data = whole[: len(whole) // 2]  # header intact, scan cut off
    with pytest.raises(ImageConversionError, match="cannot decode") as info:
        compressed_to_bgr(msg)
    assert info.value.problem == "corrupt_compressed"
    msg.data = whole[:40]  # cut inside the header
    with pytest.raises(ImageConversionError, match="cannot decode.*truncated") as info:
        compressed_to_bgr(msg)
    assert info.value.problem == "corrupt_compressed"
    msg.data = array.array("B", [0, 0]) + whole[2:]  # not a JPEG any more
    with pytest.raises(ImageConversionError, match="neither JPEG nor PNG") as info:
        compressed_to_bgr(msg)
    assert info.value.problem == "unknown_compressed_data"  # throttled apart from compressedDepth
    with pytest.raises(ImageConversionError, match="empty") as info:
        compressed_to_bgr(sensor_msgs.CompressedImage(format="jpeg"))
    assert info.value.problem == "empty_compressed"
    depth = sensor_msgs.CompressedImage(format="16UC1; compressedDepth", data=msg.data)
    with pytest.raises(ImageConversionError, match="unsupported compressed format") as info:
        compressed_to_bgr(depth)
    assert info.value.problem == "unsupported_format"


def test_fill_image_msg_round_trips() -> None:
    view = BGR[:, 1:7]  # non-contiguous input
    msg = fill_image_msg(sensor_msgs.Image(), view)
    assert (msg.width, msg.height, msg.step, msg.encoding) == (6, 6, 18, "bgr8")
    np.testing.assert_array_equal(image_to_bgr(msg), view)


@pytest.mark.parametrize("encoding", ["rgb8", "mono8"])
def test_fill_image_msg_other_encodings(encoding: str) -> None:
    pixels = BGR[:, :, ::-1] if encoding == "rgb8" else BGR[:, :, 0]
    msg = fill_image_msg(sensor_msgs.Image(), pixels, encoding)
    expected = BGR if encoding == "rgb8" else cv2.cvtColor(BGR[:, :, 0], cv2.COLOR_GRAY2BGR)
    np.testing.assert_array_equal(image_to_bgr(msg), expected)
    with pytest.raises(ValueError, match="supports"):
        fill_image_msg(sensor_msgs.Image(), BGR, "yuv422")


@pytest.fixture
def imdecode_calls(monkeypatch):
    """Records every cv2.imdecode call (and still decodes): shows whether a message was decoded at all."""
    calls = []
    real = cv2.imdecode

    def spy(*args, **kwargs):
        calls.append(args[0].size)
        return real(*args, **kwargs)

    monkeypatch.setattr(cv2, "imdecode", spy)
    return calls


@pytest.mark.parametrize("size,max_pixels", [((10000, 10000), 4096 * 4096), ((641, 480), 640 * 480)])
def test_png_bomb_is_rejected_from_its_header_without_decoding(imdecode_calls, size, max_pixels) -> None:
    from fer_ros.bench.decode_guard import png_bomb

    msg = sensor_msgs.CompressedImage(format="png")
    msg.data = array.array("B", png_bomb(*size))
    with pytest.raises(ImageConversionError, match=f"{size[0]}x{size[1]} exceeds max_image_pixels") as info:
        compressed_to_bgr(msg, max_pixels)
    assert info.value.problem == "too_large"
    assert imdecode_calls == [], "the bomb was decoded before its size was checked"


def test_jpeg_over_the_limit_is_rejected_without_decoding(imdecode_calls) -> None:
    msg = encode_compressed(sensor_msgs.CompressedImage(), np.zeros((480, 640, 3), np.uint8), "jpeg")
    with pytest.raises(ImageConversionError, match="640x480 exceeds") as info:
        compressed_to_bgr(msg, 640 * 480 - 1)
    assert info.value.problem == "too_large" and imdecode_calls == []
    assert compressed_to_bgr(msg, 640 * 480).shape == (480, 640, 3) and len(imdecode_calls) == 1


# --- Bayer mosaics: known colour patches, each pattern, 8 and 16 bit ---
@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("pattern", ["rggb", "bggr", "gbrg", "grbg"])
def test_bayer_mosaics_demosaic_to_the_known_colours(pattern: str, bits: int) -> None:
    size = 16
    image = patch_image(size)
    msg = message_in(f"bayer_{pattern}{bits}", image, pad=2, bigendian=bits == 16)
    out = image_to_bgr(msg)
    assert out.shape == image.shape and out.dtype == np.uint8
    for colour, inner in zip(PATCHES_BGR, patch_interiors(out, size), strict=True):
        assert np.abs(inner.astype(int) - colour).max() <= 1, (pattern, bits, colour, inner[0])


# --- the converter choice: builtin, cv_bridge, auto ---
def test_builtin_converter_names_an_encoding_it_does_not_cover() -> None:
    msg = make_msg("32FC1", np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(ImageConversionError, match="unknown encoding '32FC1'") as info:
        ImageConverter("builtin")(msg)
    assert info.value.problem == "unknown_encoding"
    with pytest.raises(ValueError, match="not one of"):
        ImageConverter("opencv")


def test_auto_converter_uses_the_builtin_one_for_its_encodings() -> None:
    for encoding, pixels in (("bgr8", BGR), ("rgb8", BGR[:, :, ::-1])):
        msg = make_msg(encoding, np.ascontiguousarray(pixels))
        np.testing.assert_array_equal(ImageConverter("auto")(msg), BGR)
    msg = make_msg("bgr8", BGR)
    assert np.shares_memory(ImageConverter("auto")(msg), np.frombuffer(msg.data, np.uint8))  # builtin: a view


@pytest.mark.skipif(not CV_BRIDGE_ERROR, reason="cv_bridge is importable here: covered by the parity tests")
def test_without_cv_bridge_other_encodings_get_a_clear_error() -> None:
    msg = make_msg("32FC1", np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(ImageConversionError, match="unknown encoding '32FC1'.*cv_bridge.*not available") as info:
        ImageConverter("auto")(msg)
    assert info.value.problem == "unknown_encoding"
    with pytest.raises(ValueError, match="cv_bridge cannot be imported"):
        ImageConverter("cv_bridge")


def test_every_builtin_encoding_gives_the_picture_back() -> None:
    image = patch_image(8)
    for encoding in SUPPORTED_ENCODINGS:
        out = image_to_bgr(message_in(encoding, image))
        assert out.shape == image.shape
        tolerance = 3 if encoding in ("yuv422", "uyvy", "yuv422_yuy2", "yuyv") else 1  # YUV: rounding
        if encoding in ("mono8", "8UC1", "mono16", "16UC1"):
            expected = cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
        else:
            expected = image
        for want, got in zip(patch_interiors(expected, 8, 2), patch_interiors(out, 8, 2), strict=True):
            assert np.abs(got.astype(int) - want.astype(int)).max() <= tolerance, encoding


@pytest.mark.skipif(bool(CV_BRIDGE_ERROR), reason=f"cv_bridge is not importable here ({CV_BRIDGE_ERROR}); "
                    "the parity check runs on ROS installs with ros-<distro>-cv-bridge")
@pytest.mark.parametrize("encoding", SUPPORTED_ENCODINGS)
def test_builtin_and_cv_bridge_agree_on_every_encoding(encoding: str) -> None:
    """``image_converter: builtin`` and ``cv_bridge`` give the same BGR image (cv_bridge refuses "bgr8" for
    the generic 8UC1/8UC3/16UC1, so the cv_bridge converter takes them as passthrough arrays)."""
    msg = message_in(encoding, patch_image(8))
    ours = ImageConverter("builtin")(msg)
    try:
        theirs = ImageConverter("cv_bridge")(msg)
    except ImageConversionError as exc:
        if "nrecognized" in str(exc):  # e.g. "uyvy"/"yuyv" are newer names than some cv_bridge releases
            pytest.skip(f"this cv_bridge does not know {encoding!r}: {exc}")
        raise
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype == np.uint8
    tolerance = 1 if "16" in encoding else 0  # 16 -> 8 bit: both x * 255 / 65535, rounding may differ by 1
    assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= tolerance, encoding


@pytest.mark.skipif(bool(CV_BRIDGE_ERROR), reason=f"cv_bridge is not importable here ({CV_BRIDGE_ERROR})")
@pytest.mark.parametrize("encoding,dtype,channels", [("32FC1", np.float32, 1), ("8UC4", np.uint8, 4),
                                                     ("64FC1", np.float64, 1)])
def test_auto_hands_other_encodings_to_cv_bridge(encoding: str, dtype, channels: int) -> None:
    from cv_bridge import CvBridge

    values = np.linspace(0, 1 if np.dtype(dtype).kind == "f" else 100, 48).astype(dtype).reshape(4, 4, 3)
    values = values[:, :, :channels] if channels <= 3 else np.concatenate([values, values[:, :, :1]], axis=2)
    msg = CvBridge().cv2_to_imgmsg(np.ascontiguousarray(values), encoding=encoding)
    out = ImageConverter("auto")(msg)
    assert out.shape == (4, 4, 3) and out.dtype == np.uint8


def test_passthrough_arrays_from_cv_bridge_map_to_bgr() -> None:
    """What the cv_bridge converter does with the generic encodings' arrays (runs without cv_bridge)."""
    from fer_ros.ros.image_converter import _generic_to_bgr

    floats = np.array([[0.0, 0.5], [1.0, 2.0]], np.float32)  # 32FC1 in 0..1; out of range saturates
    np.testing.assert_array_equal(_generic_to_bgr(floats)[:, :, 1], [[0, 128], [255, 255]])
    words = np.array([[0, 257 * 100], [65535, 128]], np.uint16)  # 16UC1: x * 255 / 65535
    np.testing.assert_array_equal(_generic_to_bgr(words[:, :, None])[:, :, 2], [[0, 100], [255, 0]])
    bgra = np.dstack([BGR, np.full(BGR.shape[:2], 7, np.uint8)])  # 8UC4: alpha dropped, order kept
    np.testing.assert_array_equal(_generic_to_bgr(bgra), BGR)
    with pytest.raises(ImageConversionError, match="int16"):
        _generic_to_bgr(np.zeros((2, 2), np.int16))
