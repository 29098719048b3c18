"""The perception node over DDS: real face images in, one FaceEmotionArray per frame out.

The node runs in its own process; this test process publishes camera frames of the smiling astronaut
(skimage.data.astronaut) moving across 640x480 and 1280x720 frames, with best-effort and reliable QoS.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from image_messages import message_in, patch_image, patch_interiors
from ros_harness import answer, node_health, perception_session, same_stamp, stamp_key, wait_matched

from fer_ros.core.boxes import box_iou as iou
from fer_ros.core.image_convert import image_to_bgr
from fer_ros.core.labels import EMOTION_LABELS
from fer_ros.msg import FaceEmotionArray
from fer_ros.ros.synthetic_stream import SyntheticFaceStream

DOMAIN_ID = 81
REPLY_S = 20.0


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from sensor_msgs.msg import Image

    with perception_session(DOMAIN_ID, tmp_path_factory.mktemp("node")) as s:
        s["publishers"] = {reliable: s["probe"].publisher(Image, reliable=reliable) for reliable in (False, True)}
        wait_matched(s, *s["publishers"].values())
        yield s


def send_and_wait(s, msg, reliable: bool = False) -> FaceEmotionArray:
    """Publish one frame and wait for the answer carrying its stamp (best effort may lose a frame)."""
    return answer(s, s["publishers"][reliable], msg)


def find_face(reply: FaceEmotionArray, expected_box, frame_size) -> object:
    boxes = [(f.x, f.y, f.width, f.height) for f in reply.faces]
    overlaps = [iou(b, expected_box) for b in boxes]
    assert overlaps and max(overlaps) > 0.5, f"no face box around {expected_box} in {boxes} ({frame_size})"
    return reply.faces[int(np.argmax(overlaps))]


@pytest.mark.parametrize("reliable", [False, True], ids=["best_effort", "reliable"])
@pytest.mark.parametrize("width,height", [(640, 480), (1280, 720)])
def test_moving_smiling_face_is_found_labelled_and_tracked(setup, width: int, height: int, reliable: bool):
    s = setup
    stream = SyntheticFaceStream(width, height, step_px=8.0)
    start = {(640, 480): 0, (1280, 720): 300}[(width, height)] + (150 if reliable else 0)
    frames = 12
    ids, replies = [], []
    for index in range(start, start + frames):
        msg = s["probe"].image(stream.frame(index), frame_id=f"cam_{width}")
        reply = send_and_wait(s, msg, reliable)
        replies.append(reply)
        assert reply.header.frame_id == msg.header.frame_id
        assert list(reply.emotion_labels) == list(EMOTION_LABELS)
        face = find_face(reply, stream.face_box(index), (width, height))
        assert face.emotion == "happy", f"frame {index}: {face.emotion} {list(face.emotion_scores)}"
        assert face.emotion_confidence == pytest.approx(max(face.emotion_scores), abs=1e-6)
        assert len(face.emotion_scores) == len(EMOTION_LABELS)
        assert sum(face.emotion_scores) == pytest.approx(1.0, abs=1e-3)
        assert len(face.landmarks) in (0, 10)
        assert face.gender in ("female", "male") and 0.5 <= face.gender_confidence <= 1.0
        assert 0.0 <= face.detection_confidence <= 1.0
        ids.append(face.id)
    assert ids[0] != "" and ids == [ids[0]] * frames, f"track ids changed while the face moved: {ids}"
    # one answer per processed frame: never two messages with the same stamp
    keys = [stamp_key(m.header.stamp) for m in s["emotion"].messages()]
    assert len(keys) == len(set(keys)), "a frame was answered twice"


def test_frame_without_a_face_gets_an_empty_answer(setup):
    blank = np.full((480, 640, 3), 90, np.uint8)
    reply = send_and_wait(setup, setup["probe"].image(blank, frame_id="empty_room"))
    assert reply.header.frame_id == "empty_room"
    assert list(reply.faces) == []


def test_health_is_published_on_diagnostics(setup):
    s = setup
    stream = SyntheticFaceStream()
    for index in range(3):
        send_and_wait(s, s["probe"].image(stream.frame(index)))
    values = node_health(s)
    assert int(values["frames_processed"]) >= 3
    assert int(values["frames_received"]) >= int(values["frames_processed"])
    for key in ("fps", "latency_p50_ms", "latency_p95_ms", "processing_p50_ms"):
        float(values[key])  # numbers (nan when the last second held no frame)
    for key in ("frames_dropped", "frames_invalid", "frames_failed", "debug_images_published"):
        assert int(values[key]) >= 0


def test_debug_image_only_while_subscribed(setup):
    from sensor_msgs.msg import Image

    s, probe = setup, setup["probe"]
    stream = SyntheticFaceStream()

    def answered_frames(n: int, start: int) -> list:
        return [send_and_wait(s, probe.image(stream.frame(start + i))) for i in range(n)]

    def published_after_processing() -> int:
        return int(node_health(s)["debug_images_published"])

    answered_frames(3, 0)
    before = published_after_processing()
    answered_frames(3, 3)
    assert published_after_processing() == before, "debug images drawn without a subscriber"

    inbox, sub = probe.subscribe(Image, "faces/debug_image", reliable=True, depth=5)
    probe.wait_until(lambda: sub.get_publisher_count() > 0, 20.0, "debug image publisher", s["node"])
    time.sleep(0.5)  # let the node's side see the subscription too
    sent = [probe.image(stream.frame(10 + i)) for i in range(3)]
    for msg in sent:
        send_and_wait(s, msg)
        debug = inbox.wait_for(lambda m, msg=msg: same_stamp(m.header.stamp, msg.header.stamp), REPLY_S)
        assert debug is not None, "no debug image while subscribed"
        assert (debug.width, debug.height, debug.encoding) == (640, 480, "bgr8")
        assert debug.header.frame_id == msg.header.frame_id
        drawn = image_to_bgr(debug).astype(int)
        original = image_to_bgr(msg).astype(int)
        changed = np.abs(drawn - original).sum(axis=2) > 0
        x, y, w, h = (int(v) for v in stream.face_box(10))
        assert changed.any(), "debug image carries no annotation"
        assert changed[max(0, y - 60):y + h + 60, max(0, x - 60):x + w + 60].mean() < 0.5  # annotations, not noise
    with_subscriber = published_after_processing()
    assert with_subscriber >= before + 3

    probe.node.destroy_subscription(sub)
    probe.wait_until(lambda: probe.node.count_subscribers(probe.topic("faces/debug_image")) == 0, 10.0,
                     "the debug subscription to go")
    time.sleep(1.0)  # the node's DDS participant learns that the reader left
    answered_frames(3, 20)
    assert published_after_processing() == with_subscriber, "debug images drawn after the subscriber left"


COLOUR_ENCODINGS = {"bgr8": 0, "rgb8": 0, "bgra8": 0, "rgba8": 0, "bayer_rggb8": 1, "bayer_grbg8": 1,
                    "bayer_bggr16": 1, "bayer_gbrg16": 1, "yuv422": 3, "yuv422_yuy2": 3}  # encoding: tolerance


def test_colour_channel_order_survives_every_encoding(setup):
    """Asymmetric colour patches in each encoding come back on the debug image (no face: nothing drawn) in
    the right channel order: the node's own conversion, over DDS."""
    from sensor_msgs.msg import Image

    s, probe = setup, setup["probe"]
    inbox, sub = probe.subscribe(Image, "faces/debug_image", reliable=True, depth=5)
    probe.wait_until(lambda: sub.get_publisher_count() > 0, 20.0, "debug image publisher", s["node"])
    time.sleep(0.5)  # let the node's side see the subscription too
    size = 80
    picture = patch_image(size, grid=(6, 8))  # 640x480
    for encoding, tolerance in COLOUR_ENCODINGS.items():
        msg = message_in(encoding, picture)
        msg.header.stamp, msg.header.frame_id = probe.next_stamp(), f"colour_{encoding}"
        reply = send_and_wait(s, msg, reliable=True)
        assert list(reply.faces) == []
        debug = inbox.wait_for(lambda m, msg=msg: same_stamp(m.header.stamp, msg.header.stamp), REPLY_S)
        assert debug is not None, f"no debug image for {encoding}"
        out = image_to_bgr(debug)
        for i, (want, got) in enumerate(zip(patch_interiors(picture, size), patch_interiors(out, size), strict=True)):
            error = np.abs(got.astype(int) - want.astype(int)).max()
            assert error <= tolerance, f"{encoding} patch {i}: expected BGR {want[0]}, got {got[0]}"
    probe.node.destroy_subscription(sub)


def test_detection2d_array_mirrors_the_faces(setup):
    vision_msgs = pytest.importorskip("vision_msgs.msg", reason="vision_msgs is not installed here (it is not on "
                                      "PyPI); the node publishes faces/detections on ROS installs that have it")
    s, probe = setup, setup["probe"]
    inbox, sub = probe.subscribe(vision_msgs.Detection2DArray, "faces/detections")
    probe.wait_until(lambda: sub.get_publisher_count() > 0, 20.0, "detections publisher", s["node"])
    stream = SyntheticFaceStream()
    msg = probe.image(stream.frame(5))
    reply = send_and_wait(s, msg)
    dets = inbox.wait_for(lambda m: same_stamp(m.header.stamp, msg.header.stamp), REPLY_S)
    assert dets is not None and dets.header.frame_id == msg.header.frame_id
    assert len(dets.detections) == len(reply.faces)
    for det, face in zip(dets.detections, reply.faces):
        assert det.id == face.id
        assert det.bbox.center.position.x == pytest.approx(face.x + face.width / 2, abs=1e-3)
        assert det.bbox.center.position.y == pytest.approx(face.y + face.height / 2, abs=1e-3)
        assert (det.bbox.size_x, det.bbox.size_y) == pytest.approx((face.width, face.height), abs=1e-3)
        assert det.results[0].hypothesis.class_id == face.emotion
        assert det.results[0].hypothesis.score == pytest.approx(face.emotion_confidence, abs=1e-6)


def test_missing_vision_msgs_is_said_once_at_start(setup):
    try:
        import vision_msgs.msg  # noqa: F401
    except ImportError:
        log = setup["node"].log()
        assert log.count("vision_msgs not available") == 1, log
    else:
        pytest.skip("vision_msgs is installed: the node publishes faces/detections instead")
