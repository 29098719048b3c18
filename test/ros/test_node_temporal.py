"""The node's temporal expression per track over DDS (temporal_model: mgln-ckplus).

A second process publishes the astronaut (skimage.data.astronaut) moving across the frame while her
expression changes (mouth opening, brows rising). The temporal fields of FaceEmotion stay empty until
the track's window is full, then come with every frame; when the face leaves and returns it is a new
track and its window starts empty again.
"""

from __future__ import annotations

import numpy as np
import pytest
from ros_harness import perception_session, same_stamp, wait_matched

from fer_ros.core.boxes import box_iou
from fer_ros.core.labels import EMOTION_LABELS
from fer_ros.msg import FaceEmotionArray
from fer_ros.ros.synthetic_stream import SyntheticFaceStream, astronaut_with_expression

DOMAIN_ID = 84
REPLY_S = 20.0
WINDOW = 5


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from sensor_msgs.msg import Image

    with perception_session(DOMAIN_ID, tmp_path_factory.mktemp("node"),
                            params={"detector": "mtcnn", "temporal_model": "mgln-ckplus",
                                    "temporal_window": WINDOW, "track_max_missed": 1,
                                    "reliability": "reliable"}) as s:
        s["publisher"] = s["probe"].publisher(Image, reliable=True)
        wait_matched(s, s["publisher"])
        yield s


def answer(s, bgr: np.ndarray) -> FaceEmotionArray:
    msg = s["probe"].image(bgr)
    s["publisher"].publish(msg)
    reply = s["emotion"].wait_for(lambda m: same_stamp(m.header.stamp, msg.header.stamp), REPLY_S)
    assert reply is not None, f"no answer:\n{s['node'].log_tail()}"
    return reply


def the_face(reply: FaceEmotionArray, box) -> object:
    overlaps = [box_iou((f.x, f.y, f.width, f.height), box) for f in reply.faces]
    assert overlaps and max(overlaps) > 0.5, f"no face near {box}: {[(f.x, f.y) for f in reply.faces]}"
    return reply.faces[int(np.argmax(overlaps))]


def check_track(s, stream: SyntheticFaceStream, indices: range) -> tuple[str, list[np.ndarray]]:
    """Publish frames ``indices``; check the temporal fields frame by frame; (track id, temporal scores)."""
    ids, scores = [], []
    for n, index in enumerate(indices):
        amount = min(1.0, n / 6.0)  # the expression changes over the stream
        reply = answer(s, stream.frame(index, astronaut_with_expression(amount)))
        face = the_face(reply, stream.face_box(index))
        ids.append(face.id)
        if n < WINDOW - 1:
            assert (face.temporal_emotion, face.temporal_confidence, list(face.temporal_scores),
                    face.temporal_frames) == ("", 0.0, [], 0), f"frame {n} of the track"
        else:
            assert face.temporal_frames == WINDOW
            assert face.temporal_emotion in EMOTION_LABELS
            assert len(face.temporal_scores) == len(EMOTION_LABELS)
            assert sum(face.temporal_scores) == pytest.approx(1.0, abs=1e-3)
            assert face.temporal_confidence == pytest.approx(max(face.temporal_scores), abs=1e-6)
            assert face.temporal_emotion == reply.emotion_labels[int(np.argmax(face.temporal_scores))]
            scores.append(np.asarray(face.temporal_scores))
        assert face.emotion in EMOTION_LABELS  # the single-frame fields are there on every frame
    assert ids[0] and ids == [ids[0]] * len(ids), f"track id changed: {ids}"
    return ids[0], scores


def test_temporal_fields_fill_after_the_window_and_follow_the_track(setup):
    s = setup
    stream = SyntheticFaceStream(640, 480, step_px=8.0)
    first_id, scores = check_track(s, stream, range(0, 10))
    assert max(np.abs(a - scores[0]).max() for a in scores) > 1e-3, "temporal scores ignore the expression"
    for _ in range(3):  # the face leaves: its track is retired (track_max_missed 1)
        assert list(answer(s, np.full((480, 640, 3), 90, np.uint8)).faces) == []
    second_id, _ = check_track(s, stream, range(40, 47))  # it returns: a new track, an empty window
    assert second_id != first_id
