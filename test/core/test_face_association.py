"""Results stay with their own face: several different faces in one frame, ``max_faces`` selection, tracking.

Faces: skimage's astronaut (public domain) and three photos of skimage's bundled LFW subset, chosen so the
default models give them different emotions and genders. Each face's result in a shared frame must equal
the single-face result of its own box in a frame that holds only its own photo: a result attached to the
wrong face, or a reordered batch, changes the scores.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data

from fer_ros.core.config import PipelineConfig
from fer_ros.core.detectors import ScaledDetector
from fer_ros.core.pipeline import Pipeline
from fer_ros.core.results import Detection
from fer_ros.core.tracking import Tracker, TrackerConfig

CANVAS = (480, 800)  # height, width
SLOTS = ((20, 20), (20, 420), (250, 20), (250, 420))  # top-left (y, x) of each face, 180 px apart at least
LFW = (35, 45, 10)  # lfw_subset indices: angry man, fearful woman, smiling man (default models)


def faces(side: int = 200) -> list[np.ndarray]:
    """Four different BGR face photos, ``side`` px square."""
    astronaut = np.ascontiguousarray(skimage.data.astronaut()[30:250, 120:330, ::-1])
    out = [cv2.resize(astronaut, (side, side), interpolation=cv2.INTER_AREA)]
    lfw = skimage.data.lfw_subset()
    for i in LFW:
        gray = cv2.resize((lfw[i] * 255).astype(np.uint8), (side, side), interpolation=cv2.INTER_CUBIC)
        out.append(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR))
    return out


def frame(photos: list[np.ndarray | None], slots=SLOTS) -> np.ndarray:
    canvas = np.full((*CANVAS, 3), 127, np.uint8)
    for photo, (y, x) in zip(photos, slots, strict=False):
        if photo is not None:
            canvas[y:y + photo.shape[0], x:x + photo.shape[1]] = photo
    return canvas


def slot_of(box, slots=SLOTS, side: int = 200) -> int:
    x, y, w, h = box
    cx, cy = x + w / 2, y + h / 2
    hits = [i for i, (sy, sx) in enumerate(slots) if sx <= cx < sx + side and sy <= cy < sy + side]
    assert len(hits) == 1, f"box {box} is in no single slot"
    return hits[0]


@pytest.fixture(scope="module", params=["haar", "mtcnn", "blazeface"])
def pipe(request) -> Pipeline:
    # every frame searched in full: the steady-scene check below compares boxes of full detections
    return Pipeline(PipelineConfig(detector=request.param, detect_every=1))


def own_result(pipe: Pipeline, face):
    """The single-face result for this face's box in a frame that holds only its own photo."""
    photos = faces()
    slot = slot_of(face.detection.box)
    only = frame([p if j == slot else None for j, p in enumerate(photos)])
    return pipe.classify(only, [face.detection])[0]


def assert_same_classification(face, own) -> None:
    np.testing.assert_allclose(face.emotion_scores, own.emotion_scores, atol=1e-5)
    assert (face.emotion, face.gender) == (own.emotion, own.gender)
    assert face.emotion_confidence == pytest.approx(own.emotion_confidence, abs=1e-5)
    assert face.gender_confidence == pytest.approx(own.gender_confidence, abs=1e-5)


def test_each_face_gets_the_result_of_its_own_crop(pipe):
    together = pipe.process(frame(faces())).faces
    assert sorted(slot_of(f.detection.box) for f in together) == [0, 1, 2, 3]
    # the faces really differ, so an exchange of results between them cannot go unnoticed
    assert len({(f.emotion, f.gender) for f in together}) >= 3, [(f.emotion, f.gender) for f in together]
    for face in together:
        assert_same_classification(face, own_result(pipe, face))


def test_tracking_keeps_each_face_with_its_own_id_and_scores(pipe):
    tracker = Tracker(TrackerConfig(smoothing="ema", ema_alpha=0.5))
    image, ids = frame(faces()), {}
    for _ in range(3):  # a steady scene: every track's smoothed scores are its own face's scores
        for face in tracker.update(pipe.process(image).faces):
            assert face.track_id == ids.setdefault(slot_of(face.detection.box), face.track_id)
            assert_same_classification(face, own_result(pipe, face))
    assert len(set(ids.values())) == 4


def test_max_faces_keeps_the_largest_faces_of_equal_score():
    # Haar gives every face score 1.0: the largest faces must be kept
    photos = faces(200)
    sizes = (200, 110, 170, 140)
    resized = [cv2.resize(p, (s, s), interpolation=cv2.INTER_AREA) for p, s in zip(photos, sizes, strict=True)]
    everyone = Pipeline(PipelineConfig(detector="haar", max_faces=10)).process(frame(resized)).faces
    assert sorted(slot_of(f.detection.box) for f in everyone) == [0, 1, 2, 3]
    assert {f.detection.score for f in everyone} == {1.0}
    areas = sorted(f.detection.box[2] * f.detection.box[3] for f in everyone)
    assert areas[1] < areas[2]  # a clear choice: the two largest are larger than the other two
    kept = Pipeline(PipelineConfig(detector="haar", max_faces=2)).process(frame(resized)).faces
    assert sorted(f.detection.box[2] * f.detection.box[3] for f in kept) == areas[2:]


def test_max_faces_keeps_the_highest_scores_first():
    photos = faces(200)
    sizes = (200, 110, 170, 140)
    image = frame([cv2.resize(p, (s, s), interpolation=cv2.INTER_AREA) for p, s in zip(photos, sizes, strict=True)])
    everyone = Pipeline(PipelineConfig(detector="mtcnn", max_faces=10)).process(image).faces
    assert len(everyone) == 4 and len({f.detection.score for f in everyone}) == 4
    expected = sorted(everyone, key=lambda f: (-f.detection.score, -f.detection.box[2] * f.detection.box[3]))[:2]
    kept = Pipeline(PipelineConfig(detector="mtcnn", max_faces=2)).process(image).faces
    assert sorted(slot_of(f.detection.box) for f in kept) == sorted(slot_of(f.detection.box) for f in expected)


class _ListedFaces:
    """A base detector that reports fixed detections (input for the real ScaledDetector selection)."""

    def __init__(self, detections: list[Detection]):
        self.detections = detections

    def detect(self, bgr: np.ndarray, min_face_size: int) -> list[Detection]:
        return list(self.detections)

    def redetect(self, bgr: np.ndarray, previous: list[Detection]) -> list[Detection]:
        return list(self.detections)


def test_selection_order_is_score_then_size():
    small_sure = Detection((0, 0, 60, 60), 0.99)
    big_sure = Detection((100, 0, 120, 120), 0.99)
    huge_unsure = Detection((300, 0, 200, 200), 0.80)
    tiny = Detection((600, 0, 30, 30), 1.0)  # below min_face_size: never kept, whatever its score
    detector = ScaledDetector(_ListedFaces([huge_unsure, small_sure, tiny, big_sure]), 1.0,
                              min_face_size=48, max_faces=2)
    image = np.zeros((300, 800, 3), np.uint8)
    assert detector.detect(image) == [big_sure, small_sure]
    assert detector.redetect(image, [big_sure]) == [big_sure, small_sure]
    detector.max_faces = 3
    assert detector.detect(image) == [big_sure, small_sure, huge_unsure]
