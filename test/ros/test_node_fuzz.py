"""Malformed camera messages must not stop the node: 1000 bad Image messages to a ``transport: raw`` node
and 500 bad CompressedImage messages to a ``transport: compressed`` one, mixed with good frames; then every
good frame (in every encoding of that transport) is still answered.
"""

from __future__ import annotations

import array
import time

import numpy as np
import pytest
from image_messages import message_in
from ros_harness import RosProbe, answer, node_health, perception_session, wait_matched

from fer_ros.bench.decode_guard import png_bomb
from fer_ros.core.boxes import box_iou as iou
from fer_ros.core.image_convert import encode_compressed
from fer_ros.ros.synthetic_stream import SyntheticFaceStream

DOMAIN_ID = 82


def bad_image(rng: np.random.Generator, kind: str):
    from sensor_msgs.msg import Image

    w, h = int(rng.integers(8, 80)), int(rng.integers(8, 60))
    msg = Image(width=w, height=h, encoding="bgr8", step=3 * w)
    size = 3 * w * h
    if kind == "unknown_encoding":
        msg.encoding = str(rng.choice(["bayer_weird8", "32FC1", "", "BGR8", "rgb16", "\u00e9\u00e9"]))
    elif kind == "step_too_small":
        msg.step = int(rng.integers(0, 3 * w))
        size = msg.step * h
    elif kind == "truncated":
        size = int(rng.integers(0, size))
    elif kind == "too_much_data":
        size += int(rng.integers(1, 500))
    elif kind == "zero_size":
        msg.width, msg.height = (0, h) if rng.random() < 0.5 else (w, 0)
        msg.step = 3 * msg.width
        size = 0 if rng.random() < 0.5 else 64
    elif kind == "huge_claim":
        msg.width = msg.height = 10000
        msg.step = 30000
    elif kind == "odd_yuv":
        msg.encoding, msg.width = "yuv422", w | 1
        msg.step = 2 * msg.width
        size = msg.step * h
    elif kind == "absurd_step":
        msg.step = int(rng.integers(2**20, 2**32 - 1))
    msg.data = array.array("B", rng.integers(0, 256, size, dtype=np.uint8).tobytes())
    return msg


def bad_compressed(rng: np.random.Generator, kind: str, jpeg: bytes):
    from sensor_msgs.msg import CompressedImage

    msg = CompressedImage(format="jpeg")
    if kind == "random_bytes":
        data = rng.integers(0, 256, int(rng.integers(1, 3000)), dtype=np.uint8).tobytes()
    elif kind == "broken_header":
        cut = int(rng.integers(20, len(jpeg)))
        data = b"\xff\xd8" + bytes(rng.integers(0, 256, 30, dtype=np.uint8)) + jpeg[cut:]
    elif kind == "empty":
        data = b""
    elif kind == "png_garbage":
        msg.format = "png"
        data = b"\x89PNG\r\n\x1a\n" + bytes(rng.integers(0, 256, 200, dtype=np.uint8))
    elif kind == "png_bomb":  # 5000x5000 pixels in ~73 KB: over max_image_pixels, rejected from its header
        msg.format = "png"
        data = PNG_BOMB
    else:  # compressedDepth is not an image format the node handles
        msg.format = "16UC1; compressedDepth"
        data = jpeg
    msg.data = array.array("B", data)
    return msg


IMAGE_KINDS = ("unknown_encoding", "step_too_small", "truncated", "too_much_data", "zero_size", "huge_claim",
               "odd_yuv", "absurd_step")
COMPRESSED_KINDS = ("random_bytes", "broken_header", "empty", "png_garbage", "depth", "png_bomb")
PNG_BOMB = png_bomb(5000, 5000)


def good_frame(probe: RosProbe, bgr: np.ndarray, encoding: str):
    """The same picture in any supported encoding (raw Image, rows padded, 16 bit big-endian; or JPEG/PNG)."""
    from sensor_msgs.msg import CompressedImage

    if encoding in ("jpeg", "png"):
        msg = encode_compressed(CompressedImage(), bgr, encoding)
    else:
        msg = message_in(encoding, bgr)
    msg.header.stamp = probe.next_stamp()
    msg.header.frame_id = f"fuzz_{encoding}"
    return msg


RAW_ENCODINGS = ("bgr8", "rgb8", "bgra8", "rgba8", "mono8", "mono16", "yuv422", "yuyv", "bayer_rggb8",
                 "bayer_gbrg16")
TRANSPORTS = {  # transport: (bad messages, kinds of bad message, good encodings, warnings that must show)
    "raw": (1000, IMAGE_KINDS, RAW_ENCODINGS,
            ("unknown encoding", "step", "truncated data", "does not match", "zero-size",
             "exceeds max_image_pixels", "even width")),
    "compressed": (500, COMPRESSED_KINDS, ("jpeg", "png"),
                   ("cannot decode", "empty compressed", "unsupported compressed format", "neither JPEG nor PNG",
                    "5000x5000 exceeds max_image_pixels")),
}


@pytest.fixture(scope="module", params=list(TRANSPORTS))
def setup(request, tmp_path_factory):
    from sensor_msgs.msg import CompressedImage, Image

    transport = request.param
    with perception_session(DOMAIN_ID, tmp_path_factory.mktemp("node"), params={"transport": transport},
                            emotion_depth=200) as s:
        s["raw"] = s["probe"].publisher(Image, reliable=True, depth=20)
        s["compressed"] = s["probe"].publisher(CompressedImage, "camera/image_raw/compressed", reliable=True,
                                               depth=20)
        s["transport"] = transport
        s["used"], s["other"] = (s["raw"], s["compressed"]) if transport == "raw" else (s["compressed"], s["raw"])
        wait_matched(s, s["used"])
        yield s


def test_node_subscribes_to_exactly_one_transport(setup):
    """image_transport semantics: ``transport`` picks one topic; the other one has no subscriber."""
    s = setup
    s["probe"].wait_until(lambda: "listening on" in s["node"].log(), 30.0, "the start line", s["node"])
    time.sleep(1.0)  # discovery of a subscription that should not exist would have happened by now
    assert s["other"].get_subscription_count() == 0, f"{s['transport']} node subscribes to the other transport"
    assert s["used"].get_subscription_count() == 1


def test_node_survives_malformed_messages_and_answers_good_frames(setup):
    from sensor_msgs.msg import CompressedImage

    s, probe = setup, setup["probe"]
    count, kinds, encodings, expected_warnings = TRANSPORTS[s["transport"]]
    rng = np.random.default_rng(1234)
    stream = SyntheticFaceStream(640, 480)
    jpeg = bytes(encode_compressed(CompressedImage(), stream.frame(0)).data)
    warm = encodings[0]
    answer(s, s["used"], good_frame(probe, stream.frame(0), warm))  # the node works before the storm

    for i in range(count):
        if s["transport"] == "compressed":
            s["compressed"].publish(bad_compressed(rng, kinds[i % len(kinds)], jpeg))
        else:
            s["raw"].publish(bad_image(rng, kinds[i % len(kinds)]))
        if i % 50 == 0:  # good frames mixed in (they may be replaced by newer bad ones: keep-latest)
            s["used"].publish(good_frame(probe, stream.frame(i), warm))
        time.sleep(0.001)
        assert i % 200 or s["node"].alive(), f"node died during the fuzz run:\n{s['node'].log_tail()}"

    # every good frame after the storm is answered, in every encoding, with the face found
    for j, encoding in enumerate(encodings):
        index = 40 + 5 * j
        reply = answer(s, s["used"], good_frame(probe, stream.frame(index), encoding))
        assert reply.header.frame_id == f"fuzz_{encoding}"
        boxes = [(f.x, f.y, f.width, f.height) for f in reply.faces]
        assert any(iou(b, stream.face_box(index)) > 0.5 for b in boxes), f"{encoding}: {boxes}"

    assert s["node"].alive()
    log = s["node"].log()
    warnings = [line for line in log.splitlines() if "WARN" in line and "frame skipped" in line]
    for words in expected_warnings:
        assert any(words in line for line in warnings), f"no warning naming {words!r}:\n{log[-3000:]}"
    assert len(warnings) < 100, f"{len(warnings)} warnings for {count} bad messages: not throttled"

    values = node_health(s)
    assert int(values["frames_invalid"]) >= 100, values
    assert int(values["frames_failed"]) == 0, values
