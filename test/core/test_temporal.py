"""Temporal expression per track: part crops from landmarks, frame selection, and the shipped MGLN runner."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from fer_ros.core.config import PipelineConfig
from fer_ros.core.labels import EMOTION_LABELS
from fer_ros.core.model_registry import MODELS, ModelFileError, resolve_model
from fer_ros.core.part_crops import PARTS, CropSizes, face_and_parts, landmarks_of, part_windows
from fer_ros.core.pipeline import Pipeline
from fer_ros.core.results import Detection
from fer_ros.core.temporal import TemporalModel, TemporalTracker, select_frames
from fer_ros.core.tracking import Tracker, TrackerConfig
from fer_ros.ros.synthetic_stream import SyntheticFaceStream, astronaut_with_expression

LANDMARKS = np.array([[143.0, 99.5], [186.0, 102.9], [164.3, 127.7], [140.5, 138.5], [184.3, 141.2]])


def detection(landmarks=LANDMARKS, box=(117.0, 57.0, 90.0, 117.0)) -> Detection:
    return Detection(box=box, score=1.0, landmarks=np.asarray(landmarks, np.float32))


def test_part_crops_follow_the_landmarks_not_the_image_position():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, size=(300, 320), dtype=np.uint8)
    shifted = np.zeros((300 + 17, 320 + 23), np.uint8)
    shifted[17:, 23:] = image
    face, parts = face_and_parts(image, detection())
    face2, parts2 = face_and_parts(shifted, detection(LANDMARKS + (23, 17), (140.0, 74.0, 90.0, 117.0)))
    assert face.shape == (40, 40) and parts.shape == (3, 20, 32)
    assert np.abs(face.astype(int) - face2).max() <= 1 and np.abs(parts.astype(int) - parts2).max() <= 1


def test_mouth_window_is_centred_on_the_mouth_corners():
    image = np.zeros((300, 320), np.uint8)
    mouth = LANDMARKS[3:5].mean(axis=0) + (0.0, 6.0)
    image[int(mouth[1]) - 2:int(mouth[1]) + 3, int(mouth[0]) - 2:int(mouth[0]) + 3] = 255
    _, parts = face_and_parts(image, detection())
    mouth_crop = parts[PARTS.index("mouth")]
    y, x = np.unravel_index(np.argmax(mouth_crop), mouth_crop.shape)
    assert abs(x - mouth_crop.shape[1] / 2) <= 2, x  # horizontally centred
    assert parts[PARTS.index("eyes")].max() == 0  # the dot is not in the eyes window
    # a mouth that opens (corners lower) moves its window: the dot moves up in the crop
    lower = LANDMARKS.copy()
    lower[3:5, 1] += 6.0
    _, parts_low = face_and_parts(image, detection(lower))
    y_low = np.unravel_index(np.argmax(parts_low[PARTS.index("mouth")]), mouth_crop.shape)[0]
    assert y_low < y


def test_haar_boxes_get_the_mean_face_inside_the_box():
    det = Detection(box=(100.0, 50.0, 120.0, 120.0), score=1.0)
    points = landmarks_of(det)
    assert points.shape == (5, 2)
    assert 100 < points[:, 0].min() and points[:, 0].max() < 220 and points[0, 1] < points[3, 1]
    windows = part_windows(det)
    assert [w[1] for w in windows] == sorted(w[1] for w in windows)  # eyes above nose above mouth


def test_select_frames_takes_first_least_neutral_and_halfway():
    assert select_frames([0.9, 0.8, 0.5, 0.1, 0.3]) == (0, 1, 3)
    assert select_frames([0.1, 0.9, 0.9]) == (0, 0, 0)
    assert select_frames([0.9] * 6 + [0.2]) == (0, 3, 6)


def test_registry_knows_the_temporal_model():
    spec, path = resolve_model("mgln-ckplus", "temporal")
    assert spec.kind == "temporal" and "mgln" in spec.name and path.is_file()
    assert MODELS["mgln-ckplus"].labels == EMOTION_LABELS
    with pytest.raises(ValueError, match="temporal model, not emotion"):
        resolve_model("mgln-ckplus", "emotion")


def test_single_frame_model_is_refused_as_temporal_model():
    _, path = resolve_model("fer-resnet-fer2013", "emotion")
    with pytest.raises(ModelFileError, match="not a temporal MGLN model"):
        TemporalModel.from_model(str(path))


@pytest.fixture(scope="module")
def model() -> TemporalModel:
    return TemporalModel.from_model("mgln-ckplus")


def test_shipped_model_metadata(model):
    assert model.labels == EMOTION_LABELS
    assert model.sizes == CropSizes(face=(40, 40), part=(32, 20))
    assert model.window >= 3


def test_window_fills_per_track_then_scores_every_frame(model):
    stream = SyntheticFaceStream(640, 480, step_px=6.0)
    pipe = Pipeline(PipelineConfig(detector="mtcnn", gender_model=""))
    tracker = Tracker(TrackerConfig(smoothing="off"))
    temporal = TemporalTracker(model, window=4)
    seen = []
    for i in range(8):
        bgr = stream.frame(i, astronaut_with_expression(min(1.0, i / 5)))
        faces = temporal.update(bgr, tracker.update(pipe.process(bgr).faces), tracker.active_ids)
        assert len(faces) == 1
        face = faces[0]
        if i < 3:
            assert (face.temporal_frames, face.temporal_emotion, len(face.temporal_scores)) == (0, "", 0)
        else:
            assert face.temporal_frames == 4 and face.temporal_emotion in EMOTION_LABELS
            assert face.temporal_scores.shape == (7,) and face.temporal_scores.sum() == pytest.approx(1, abs=1e-4)
            assert face.temporal_confidence == pytest.approx(face.temporal_scores.max())
            assert face.temporal_emotion == EMOTION_LABELS[int(np.argmax(face.temporal_scores))]
            seen.append(face.temporal_scores)
        assert face.track_id == "1"
    assert np.abs(seen[0] - seen[-1]).max() > 1e-3, "temporal scores ignore the changing expression"
    # a retired track's window goes; a new id starts empty
    assert temporal.frames_of("1") == 4
    temporal.update(bgr, [], active_ids=[])
    assert temporal.frames_of("1") == 0
    face = temporal.update(bgr, [dataclasses.replace(faces[0], track_id="9")], ["9"])[0]
    assert face.temporal_frames == 0 and temporal.frames_of("9") == 1


def test_faces_without_track_id_get_no_temporal_result(model):
    bgr = SyntheticFaceStream().frame(0)
    faces = Pipeline(PipelineConfig(detector="mtcnn", gender_model="")).process(bgr).faces
    temporal = TemporalTracker(model, window=3)
    for _ in range(4):
        out = temporal.update(bgr, faces)
    assert out[0].temporal_frames == 0 and out[0].track_id == ""


def test_window_shorter_than_three_frames_is_refused(model):
    with pytest.raises(ValueError, match=">= 3"):
        TemporalTracker(model, window=2)


def test_temporal_scores_follow_the_emotion_models_label_order(model):
    bgr = SyntheticFaceStream().frame(0)
    face = dataclasses.replace(Pipeline(PipelineConfig(detector="mtcnn", gender_model="")).process(bgr).faces[0],
                               track_id="1")
    flipped = dataclasses.replace(face, emotion_labels=EMOTION_LABELS[::-1], emotion_scores=face.emotion_scores[::-1])
    plain, reordered = TemporalTracker(model, window=3), TemporalTracker(model, window=3)
    for _ in range(3):
        a = plain.update(bgr, [face])[0]
        b = reordered.update(bgr, [flipped])[0]
    assert a.temporal_emotion == b.temporal_emotion
    np.testing.assert_allclose(b.temporal_scores, a.temporal_scores[::-1], atol=1e-6)
