"""Tracker: stable ids for moving faces, separate ids for separate faces, retirement and smoothing."""

from __future__ import annotations

import numpy as np
import pytest

from fer_ros.core.labels import EMOTION_LABELS
from fer_ros.core.results import Detection, Face
from fer_ros.core.tracking import Tracker, TrackerConfig

HAPPY = EMOTION_LABELS.index("happy")
SAD = EMOTION_LABELS.index("sad")


def make_face(x: float, y: float, size: float = 100.0, top: int = HAPPY, p: float = 0.9,
              landmarks: bool = False, gender: str = "female", gender_p: float = 0.8) -> Face:
    scores = np.full(len(EMOTION_LABELS), (1.0 - p) / (len(EMOTION_LABELS) - 1), np.float32)
    scores[top] = p
    lm = None
    if landmarks:
        rel = np.array([[0.3, 0.4], [0.7, 0.4], [0.5, 0.6], [0.35, 0.8], [0.65, 0.8]], np.float32)
        lm = (rel * size + np.array([x, y], np.float32)).astype(np.float32)
    return Face(Detection((x, y, size, size), 0.99, lm), EMOTION_LABELS[top], p, scores, gender, gender_p)


@pytest.mark.parametrize("landmarks", [False, True])
def test_ids_stay_stable_for_a_moving_face(landmarks: bool) -> None:
    tracker = Tracker(TrackerConfig(smoothing="off"))
    ids = []
    for step in range(30):  # 12 px per frame: boxes of consecutive frames overlap
        faces = tracker.update([make_face(50 + 12 * step, 80 + 3 * step, landmarks=landmarks)])
        ids.append(faces[0].track_id)
    assert ids[0] != ""
    assert set(ids) == {ids[0]}


def test_fast_motion_is_followed_by_velocity_prediction() -> None:
    tracker = Tracker(TrackerConfig(smoothing="off"))
    x, ids = 0.0, set()
    for shift in range(50, 130, 10):  # accelerating to 120 px/frame on a 100 px box: no overlap left
        x += shift
        ids.add(tracker.update([make_face(x, 100)])[0].track_id)
    assert len(ids) == 1  # the constant-velocity prediction keeps the id


def test_two_faces_get_two_ids_that_survive_swapped_order() -> None:
    tracker = Tracker()
    a, b = tracker.update([make_face(0, 0), make_face(400, 0)])
    assert a.track_id != b.track_id
    b2, a2 = tracker.update([make_face(405, 2), make_face(4, 1)])
    assert (a2.track_id, b2.track_id) == (a.track_id, b.track_id)


def test_missed_frames_keep_the_id_until_retired() -> None:
    tracker = Tracker(TrackerConfig(max_missed=3))
    first = tracker.update([make_face(100, 100)])[0].track_id
    for _ in range(3):
        assert tracker.update([]) == []
    assert tracker.update([make_face(102, 100)])[0].track_id == first  # 3 missed: still alive
    for _ in range(4):
        tracker.update([])
    assert tracker.active_ids == []
    new = tracker.update([make_face(102, 100)])[0].track_id
    assert new != first  # retired ids are never reused


def test_far_away_face_starts_a_new_track() -> None:
    tracker = Tracker()
    first = tracker.update([make_face(0, 0)])[0].track_id
    second = tracker.update([make_face(600, 400)])[0].track_id
    assert first != second


def test_ema_smoothing_damps_a_single_frame_flicker() -> None:
    tracker = Tracker(TrackerConfig(smoothing="ema", ema_alpha=0.3))
    for _ in range(5):
        tracker.update([make_face(100, 100, top=HAPPY, p=0.9)])
    flicker = tracker.update([make_face(100, 100, top=SAD, p=0.9)])[0]
    assert flicker.emotion == "happy"
    assert flicker.emotion_scores.sum() == pytest.approx(1.0, abs=1e-5)
    assert flicker.emotion_confidence == pytest.approx(float(flicker.emotion_scores[HAPPY]))
    # expected EMA value after one SAD frame following a converged HAPPY history
    assert flicker.emotion_scores[SAD] == pytest.approx(0.3 * 0.9 + 0.7 * (0.1 / 6), abs=0.02)


def test_window_smoothing_averages_the_last_frames() -> None:
    tracker = Tracker(TrackerConfig(smoothing="window", window=3))
    tops = [HAPPY, HAPPY, SAD, SAD, SAD]
    out = [tracker.update([make_face(100, 100, top=t, p=1.0)])[0] for t in tops]
    assert out[2].emotion == "happy"  # window: H, H, S
    assert out[2].emotion_scores[SAD] == pytest.approx(1 / 3, abs=1e-5)
    assert out[4].emotion == "sad" and out[4].emotion_confidence == pytest.approx(1.0)


def test_gender_is_smoothed_per_track() -> None:
    tracker = Tracker(TrackerConfig(smoothing="ema", ema_alpha=0.5))
    tracker.update([make_face(0, 0, gender="female", gender_p=0.9)])
    face = tracker.update([make_face(0, 0, gender="male", gender_p=0.6)])[0]
    # p(female): 0.5 * 0.4 + 0.5 * 0.9 = 0.65
    assert face.gender == "female" and face.gender_confidence == pytest.approx(0.65)


def test_gender_refreshes_are_smoothed_and_kept_in_between() -> None:
    """gender_every 3: the pipeline classifies gender only when gender_due says so; the tracker keeps it."""
    tracker = Tracker(TrackerConfig(smoothing="ema", ema_alpha=0.5, gender_every=3))
    samples = {0: ("female", 0.9), 3: ("male", 0.6), 6: ("male", 0.9)}  # what the model gives when asked
    out = []
    for i in range(8):
        face = make_face(10 + 2 * i, 10)
        (due,) = tracker.gender_due([face.detection])
        assert due == (i in samples), i
        gender, p = samples[i] if due else ("", 0.0)  # not classified: no gender of its own
        face.gender, face.gender_confidence = gender, p
        out.append(tracker.update([face], [due])[0])
    # p(female): 0.9, then 0.5 * 0.4 + 0.5 * 0.9 = 0.65, then 0.5 * 0.1 + 0.5 * 0.65 = 0.375
    expected = [0.9] * 3 + [0.65] * 3 + [0.375] * 2
    got = [g.gender_confidence if g.gender == "female" else 1.0 - g.gender_confidence for g in out]
    assert got == pytest.approx(expected)
    assert [g.gender for g in out] == ["female"] * 6 + ["male"] * 2
    # a new face (far away) is due at once, the known one is not
    assert tracker.gender_due([make_face(10 + 2 * 8, 10).detection, make_face(400, 300).detection]) == [False, True]


def test_smoothing_off_passes_scores_through_and_disabled_tracker_sets_no_id() -> None:
    face = make_face(0, 0, top=SAD, p=0.7)
    out = Tracker(TrackerConfig(smoothing="off")).update([face])[0]
    np.testing.assert_allclose(out.emotion_scores, face.emotion_scores, atol=1e-6)
    assert out.emotion == "sad" and out.track_id == "1"
    assert Tracker(TrackerConfig(enabled=False)).update([face])[0].track_id == ""


@pytest.mark.parametrize("field,value", [("smoothing", "median"), ("ema_alpha", 0.0), ("window", 0),
                                         ("max_missed", -1), ("iou_threshold", 1.5), ("gender_every", 0)])
def test_invalid_config_is_rejected(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        Tracker(TrackerConfig(**{field: value}))


def labelled_face(x: float, scores: list[float], labels: tuple[str, ...]) -> Face:
    """A face of a model with its own labels; ``emotion`` is the raw top label, as the pipeline sets it."""
    s = np.asarray(scores, np.float32)
    top = int(np.argmax(s))
    return Face(Detection((x, 50.0, 100.0, 100.0), 0.99), labels[top], float(s[top]), s, "", 0.0,
                emotion_labels=labels)


@pytest.mark.parametrize("smoothing", ["off", "ema", "window"])
def test_a_custom_label_model_keeps_its_labels(smoothing: str) -> None:
    # seven classes like FER-2013 but other names and order: they must not become FER-2013 names
    labels = ("calm", "joy", "anger", "fright", "grief", "awe", "loathing")
    tracker = Tracker(TrackerConfig(smoothing=smoothing))
    out = tracker.update([labelled_face(100, [0.05, 0.7, 0.05, 0.05, 0.05, 0.05, 0.05], labels)])[0]
    assert out.emotion == "joy"
    assert out.emotion_labels == labels


@pytest.mark.parametrize("smoothing", ["ema", "window"])
@pytest.mark.parametrize("labels", [("yes", "no", "maybe"), ("a", "b", "c", "d", "e", "f", "g")])
def test_label_and_confidence_come_from_the_same_smoothed_scores(smoothing: str, labels: tuple[str, ...]) -> None:
    n = len(labels)
    tracker = Tracker(TrackerConfig(smoothing=smoothing, ema_alpha=0.3, window=5))
    steady = [0.8 if i == 0 else 0.2 / (n - 1) for i in range(n)]
    flicker = [0.8 if i == 1 else 0.2 / (n - 1) for i in range(n)]
    for _ in range(4):
        tracker.update([labelled_face(100, steady, labels)])
    out = tracker.update([labelled_face(100, flicker, labels)])[0]  # raw top: labels[1]
    best = int(np.argmax(out.emotion_scores))
    assert best == 0  # smoothing keeps the steady class on top...
    assert out.emotion == labels[0]  # ...and the label says so, not the raw frame's labels[1]
    assert out.emotion_confidence == pytest.approx(float(out.emotion_scores[0]))


def test_scores_and_labels_of_different_length_are_rejected() -> None:
    face = labelled_face(100, [0.5, 0.5], ("a", "b", "c"))
    with pytest.raises(ValueError, match="2 emotion scores but 3 labels"):
        Tracker().update([face])


def test_a_new_emotion_model_restarts_the_track_history() -> None:
    tracker = Tracker(TrackerConfig(smoothing="ema", ema_alpha=0.5))
    tracker.update([make_face(100, 100)])
    out = tracker.update([labelled_face(100, [0.1, 0.9], ("no", "yes"))])[0]
    assert out.emotion == "yes" and out.emotion_confidence == pytest.approx(0.9)


def test_iou_threshold_zero_does_not_join_faces_far_apart() -> None:
    tracker = Tracker(TrackerConfig(iou_threshold=0.0))
    first = tracker.update([make_face(0, 0)])[0].track_id
    assert tracker.update([make_face(1000, 0)])[0].track_id != first
    # without overlap the centre-distance gate still joins a near face: 120 px shift, 1.2 box sizes
    tracker = Tracker(TrackerConfig(iou_threshold=0.0, max_center_shift=1.5))
    first = tracker.update([make_face(0, 0)])[0].track_id
    assert tracker.update([make_face(120, 0)])[0].track_id == first


def test_tracks_age_while_tracking_is_off() -> None:
    tracker = Tracker(TrackerConfig(max_missed=3))
    first = tracker.update([make_face(100, 100)])[0].track_id
    tracker.config = TrackerConfig(enabled=False, max_missed=3)  # as the node applies a parameter change
    for _ in range(5):  # longer than max_missed
        assert tracker.update([make_face(100, 100)])[0].track_id == ""
    assert tracker.active_ids == []
    tracker.config = TrackerConfig(enabled=True, max_missed=3)
    assert tracker.update([make_face(100, 100)])[0].track_id not in ("", first)


def test_a_short_pause_of_tracking_keeps_the_track() -> None:
    tracker = Tracker(TrackerConfig(max_missed=3))
    first = tracker.update([make_face(100, 100)])[0].track_id
    tracker.config = TrackerConfig(enabled=False, max_missed=3)
    tracker.update([])
    tracker.config = TrackerConfig(enabled=True, max_missed=3)
    assert tracker.update([make_face(100, 100)])[0].track_id == first
