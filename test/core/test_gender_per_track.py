"""Gender once per track and emotion on re-found boxes, with the real models on a generated stream.

Two different faces drift over a gradient: the astronaut (skimage.data.astronaut, public domain; the
gender model says female) from frame 0 and a man from scikit-image's LFW subset (``lfw_subset()[7]``,
25x25 upscaled; the model says male) entering at frame ``MAN_FROM``. The gender model's own counters
(``GenderClassifier.runs`` / ``faces_classified``) count the real model calls.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data

from fer_ros.core.config import PipelineConfig
from fer_ros.core.pipeline import Pipeline
from fer_ros.core.tracking import Tracker, TrackerConfig

MAN_FROM = 3
LENGTH = 14


def _astronaut() -> np.ndarray:
    return np.ascontiguousarray(skimage.data.astronaut()[20:220, 140:320, ::-1])  # 180x200 around the face


def _man() -> np.ndarray:
    face = (skimage.data.lfw_subset()[7] * 255).astype(np.uint8)
    return cv2.cvtColor(cv2.resize(face, (140, 140), interpolation=cv2.INTER_CUBIC), cv2.COLOR_GRAY2BGR)


ASTRONAUT, MAN = _astronaut(), _man()


def astronaut_at(i: int) -> tuple[int, int]:
    return 40 + 6 * i, 120 + 3 * i


def frame(i: int, man: bool = True, swap: bool = False) -> np.ndarray:
    """Frame ``i``: the astronaut moving right/down, the man (from MAN_FROM) moving left/down.

    ``swap``: the man's face is pasted over the astronaut's face (same place): a different face where
    the astronaut's track is.
    """
    y = np.linspace(0.0, 1.0, 480, dtype=np.float32)[:, None]
    x = np.linspace(0.0, 1.0, 640, dtype=np.float32)[None, :]
    out = np.clip(np.stack([90 + 60 * x + 0 * y, 100 + 40 * y + 0 * x, 110 + 30 * (1 - x) * y], 2), 0, 255)
    out = out.astype(np.uint8)
    ax, ay = astronaut_at(i)
    out[ay:ay + 200, ax:ax + 180] = ASTRONAUT
    if swap:
        out[ay + 40:ay + 180, ax + 20:ax + 160] = MAN
    if man and i >= MAN_FROM:
        mx, my = 440 - 5 * (i - MAN_FROM), 150 + 2 * (i - MAN_FROM)
        out[my:my + 140, mx:mx + 140] = MAN
    return out


@pytest.fixture(scope="module")
def pipe() -> Pipeline:
    return Pipeline(PipelineConfig(detector="haar", detect_every=1))


def run(pipe: Pipeline, tracker: Tracker | None, length: int = LENGTH):
    """Per frame: (faces, faces the gender model classified, gender model calls)."""
    pipe.reset()
    out = []
    for i in range(length):
        faces0, runs0 = pipe.gender.faces_classified, pipe.gender.runs
        result = pipe.process(frame(i), tracker)
        out.append((result.faces, pipe.gender.faces_classified - faces0, pipe.gender.runs - runs0))
    return out


def test_gender_runs_for_a_new_track_then_every_n_frames(pipe):
    every = 5
    frames = run(pipe, Tracker(TrackerConfig(gender_every=every)))
    assert [len(faces) for faces, _, _ in frames] == [1] * MAN_FROM + [2] * (LENGTH - MAN_FROM)
    # astronaut: new at 0, then 5, 10; the man: new at MAN_FROM (his first frame), then 8, 13
    due = {0, 5, 10} | {MAN_FROM, MAN_FROM + every, MAN_FROM + 2 * every}
    assert [n for _, n, _ in frames] == [int(i in due) for i in range(LENGTH)]
    assert [r for _, _, r in frames] == [int(i in due) for i in range(LENGTH)]  # one batched call at most
    genders: dict[str, set[str]] = {}
    for faces, _, _ in frames:
        for f in faces:
            genders.setdefault(f.track_id, set()).add(f.gender)
    assert sorted(genders.items()) == [("1", {"female"}), ("2", {"male"})]  # each track keeps its gender
    man = next(f for f in frames[MAN_FROM][0] if f.track_id == "2")
    assert man.gender == "male" and man.gender_confidence > 0.5  # classified on the new track's first frame
    # between refreshes a track reports its kept (smoothed) gender unchanged
    confidences = [next(f.gender_confidence for f in faces if f.track_id == "1") for faces, _, _ in frames]
    assert confidences[1:5] == [confidences[0]] * 4 and confidences[6:10] == [confidences[5]] * 4


@pytest.mark.parametrize("tracker", [
    lambda: Tracker(TrackerConfig(gender_every=1)),
    lambda: Tracker(TrackerConfig(enabled=False, gender_every=5)),  # no tracks: every face, every frame
    lambda: None,
], ids=["gender_every-1", "tracking-off", "no-tracker"])
def test_every_face_is_classified_every_frame_without_per_track_gender(pipe, tracker):
    frames = run(pipe, tracker(), length=6)
    assert [n for _, n, _ in frames] == [len(faces) for faces, _, _ in frames] == [1, 1, 1, 2, 2, 2]
    assert all(f.gender == ("female" if f.detection.box[0] < 320 else "male") for fs, _, _ in frames for f in fs)


@pytest.mark.parametrize("detector", ["haar", "mtcnn", "blazeface"])
def test_emotion_on_refound_frames_comes_from_the_refound_box(detector):
    """detect_every 4: frames 1-3 only re-find the face; at frame 2 the face there becomes another one."""
    pipe = Pipeline(PipelineConfig(detector=detector, detect_every=4))
    frames = [frame(i, man=False, swap=i >= 2) for i in range(4)]
    results = [pipe.process(f) for f in frames]
    assert [r.full_detection for r in results] == [True, False, False, False]
    assert all(len(r.faces) == 1 for r in results)
    before, after = results[1].faces[0], results[2].faces[0]
    assert before.emotion == "happy" and after.emotion != "happy"  # the smiling astronaut is gone
    assert after.detection.box != before.detection.box
    # the scores are those of the box re-found in this frame, not of the previous frame's box
    on_refound = pipe.classify(frames[2], [after.detection])[0]
    on_previous = pipe.classify(frames[2], [before.detection])[0]
    np.testing.assert_allclose(after.emotion_scores, on_refound.emotion_scores, atol=1e-6)
    assert not np.allclose(after.emotion_scores, on_previous.emotion_scores, atol=1e-3)


def test_emotion_on_refound_frames_reaches_the_track():
    """Through the tracker (smoothing off): a re-found frame's emotion is the new face's, gender stays."""
    pipe = Pipeline(PipelineConfig(detector="haar", detect_every=4))
    tracker = Tracker(TrackerConfig(smoothing="off", gender_every=10))
    faces = [pipe.process(frame(i, man=False, swap=i >= 2), tracker).faces for i in range(3)]
    assert [len(f) for f in faces] == [1, 1, 1] and {f[0].track_id for f in faces} == {"1"}
    assert [f[0].emotion == "happy" for f in faces] == [True, True, False]
    assert [f[0].gender for f in faces] == ["female"] * 3  # gender once per track: not re-classified
