"""detect_every: full detection on every N-th frame, previous faces re-found near their boxes in between."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from fer_ros.bench.frames import FaceSequence, count_matches
from fer_ros.core.config import PipelineConfig
from fer_ros.core.pipeline import Pipeline

LENGTH = 24


@pytest.fixture(scope="module")
def stream():
    """Four moving astronaut faces on a photo background: two from the first frame, two entering later."""
    seq = FaceSequence(4, LENGTH, seed=3, faces="astronaut")
    frames = [seq.frame(i) for i in range(LENGTH)]
    assert len(frames[0].boxes) == 2 and len(frames[-1].boxes) == 4
    return frames


def run(pipe: Pipeline, frames) -> tuple[list[bool], int, int, int]:
    """(full-detection flags, faces matched, faces in truth, false positives) over the stream."""
    flags, found, truth, false = [], 0, 0, 0
    for f in frames:
        result = pipe.process(f.bgr)
        flags.append(result.full_detection)
        tp, fp = count_matches(f.boxes, [face.detection.box for face in result.faces])
        found, truth, false = found + tp, truth + len(f.boxes), false + fp
    return flags, found, truth, false


@pytest.mark.parametrize("detector", ["haar", "mtcnn", "blazeface", "blazeface-full"])
def test_faces_are_refound_between_full_detections(stream, detector):
    every = PipelineConfig(detector=detector, detect_every=1)
    full_flags, full_found, truth, _ = run(Pipeline(every), stream)
    assert all(full_flags)
    pipe = Pipeline(dataclasses.replace(every, detect_every=4))
    flags, found, truth, false = run(pipe, stream)
    assert flags[:8] == [True, False, False, False, True, False, False, False]
    # re-finding near the previous boxes keeps (almost) every face the full detector finds, with no extras
    assert found >= 0.9 * full_found and false == 0
    faces = pipe.process(stream[1].bgr).faces  # continues the stream: a re-found frame still has classifications
    assert faces and all(f.emotion and f.gender for f in faces)


def test_mtcnn_refound_faces_keep_landmarks(stream):
    pipe = Pipeline(PipelineConfig(detector="mtcnn", detect_every=3))
    first, second = pipe.process(stream[0].bgr), pipe.process(stream[1].bgr)
    assert first.full_detection and not second.full_detection
    assert len(first.faces) == 2 and len(second.faces) == 2
    for face in second.faces:
        x, y, w, h = face.detection.box
        lm = face.detection.landmarks
        assert lm.shape == (5, 2) and np.all((lm[:, 0] > x) & (lm[:, 0] < x + w) & (lm[:, 1] > y) & (lm[:, 1] < y + h))


def test_full_detection_while_no_face_is_known_and_after_a_size_change(stream):
    pipe = Pipeline(PipelineConfig(detect_every=10))
    empty = np.full((480, 640, 3), 90, np.uint8)
    assert [pipe.process(empty).full_detection for _ in range(3)] == [True, True, True]
    assert pipe.process(stream[0].bgr).full_detection
    assert not pipe.process(stream[1].bgr).full_detection
    resized = np.ascontiguousarray(stream[2].bgr[:400, :600])
    assert pipe.process(resized).full_detection  # a new frame size is a new stream
    pipe.reset()
    assert pipe.process(resized).full_detection


def test_detect_every_must_be_positive():
    with pytest.raises(ValueError, match="detect_every"):
        PipelineConfig(detect_every=0).validate()


@pytest.mark.parametrize("detector", ["blazeface", "mtcnn"])
def test_a_face_lost_between_full_detections_is_searched_for_at_once(stream, detector):
    """A face that jumps away from its box is not re-found nearby: that frame gets a full detection."""
    pipe = Pipeline(PipelineConfig(detector=detector, detect_every=5))
    first = pipe.process(stream[0].bgr)
    assert first.full_detection and len(first.faces) == 2
    jumped = np.ascontiguousarray(np.roll(stream[0].bgr, 240, axis=1))  # both faces 240 px to the right
    result = pipe.process(jumped)
    assert result.full_detection and len(result.faces) == 2
    assert not pipe.process(jumped).full_detection  # and the stream goes on re-finding them
