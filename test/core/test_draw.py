"""draw_faces: an annotated copy with box, track id, emotion + confidence and gender."""

from __future__ import annotations

import numpy as np

from fer_ros.core.draw import draw_faces, face_caption
from fer_ros.core.labels import EMOTION_LABELS
from fer_ros.core.results import Detection, Face


def _face(track_id: str = "", gender: str = "female") -> Face:
    scores = np.zeros(len(EMOTION_LABELS), np.float32)
    scores[EMOTION_LABELS.index("happy")] = 0.9
    lm = np.array([[130, 140], [170, 140], [150, 160], [135, 180], [165, 180]], np.float32)
    return Face(Detection((100.0, 100.0, 100.0, 100.0), 0.99, lm), "happy", 0.9, scores, gender, 0.8, track_id)


def test_caption_shows_track_emotion_confidence_gender():
    assert face_caption(_face("7")) == "#7 happy 0.90 female"
    assert face_caption(_face("", gender="")) == "happy 0.90"


def test_draw_returns_an_annotated_copy():
    frame = np.zeros((300, 300, 3), np.uint8)
    out = draw_faces(frame, [_face("3")])
    assert frame.max() == 0  # input untouched
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert out[100, 150:200].any()  # top edge of the box
    assert out[60:100, 100:200].any()  # caption above the box
    assert np.array_equal(draw_faces(frame, []), frame)


def test_caption_moves_inside_when_the_box_touches_the_top():
    frame = np.zeros((200, 200, 3), np.uint8)
    face = _face()
    face.detection = Detection((20.0, 0.0, 80.0, 80.0), 1.0)
    out = draw_faces(frame, [face])
    assert out[82:100, 20:100].any()  # caption drawn below the box
