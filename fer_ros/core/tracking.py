"""Face tracking across frames: stable ids by box/landmark matching and per-track score smoothing.

ROS-free; used by the ROS node and the CLI for videos. ``Tracker.update`` takes the faces of one frame
(as produced by ``Pipeline.classify``) and returns copies carrying a ``track_id`` and, when smoothing is
on, probabilities smoothed over the track's history. A track that is not seen for more than
``max_missed`` consecutive frames is retired; its id is never reused. Frames passed while tracking is
disabled count as missed frames too, so re-enabling it never joins a face to a stale track.

The emotion label and its confidence are both taken from the (smoothed) scores, with the labels the
faces carry (``Face.emotion_labels``, i.e. the emotion model's), for any number of classes.

Gender once per track: ``gender_due(detections)`` tells the pipeline which faces need the gender model
this frame (a new track, then every ``gender_every`` frames the track is seen); ``update`` gives the
others their track's smoothed gender (``Pipeline.process(frame, tracker)`` does both).
"""

from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from fer_ros.core.boxes import box_iou
from fer_ros.core.labels import GENDER_LABELS
from fer_ros.core.results import Detection, Face

SMOOTHING_MODES: tuple[str, ...] = ("off", "ema", "window")


@dataclass
class TrackerConfig:
    """How faces are matched between frames and how their scores are smoothed."""

    enabled: bool = True  # False: faces pass through untouched, track_id stays ""
    iou_threshold: float = 0.2  # a detection may join a track when their boxes overlap (IoU > 0) at least this much
    max_center_shift: float = 0.6  # ...or when its centre lies within this many box sizes of the prediction
    max_missed: int = 5  # frames a track survives without a detection before its id is retired
    smoothing: str = "ema"  # "off" | "ema" | "window"
    ema_alpha: float = 0.5  # weight of the newest frame for "ema" (1.0 = no smoothing)
    window: int = 5  # number of recent frames averaged for "window"
    # gender is classified for a new track, then on every N-th frame the track is seen (smoothed in between
    # by the track); 1 = every frame. Faces are classified every frame while tracking is off.
    gender_every: int = 10

    def validate(self) -> None:
        """Raise ValueError naming the first field that is out of range."""
        if not 0.0 <= self.iou_threshold <= 1.0:
            raise ValueError(f"iou_threshold must be in [0, 1], got {self.iou_threshold}")
        if self.max_center_shift < 0.0:
            raise ValueError(f"max_center_shift must be >= 0, got {self.max_center_shift}")
        if self.max_missed < 0:
            raise ValueError(f"max_missed must be >= 0, got {self.max_missed}")
        if self.smoothing not in SMOOTHING_MODES:
            raise ValueError(f"smoothing must be one of {SMOOTHING_MODES}, got {self.smoothing!r}")
        if not 0.0 < self.ema_alpha <= 1.0:
            raise ValueError(f"ema_alpha must be in (0, 1], got {self.ema_alpha}")
        if self.window < 1:
            raise ValueError(f"window must be >= 1, got {self.window}")
        if self.gender_every < 1:
            raise ValueError(f"gender_every must be >= 1, got {self.gender_every}")


@dataclass
class _Track:
    track_id: str
    box: np.ndarray  # x, y, w, h (float64)
    landmarks: np.ndarray | None
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))  # centre shift per frame
    missed: int = 0
    emotion_ema: np.ndarray | None = None
    gender_ema: float | None = None  # probability of GENDER_LABELS[0]
    gender_p: float | None = None  # the track's current (smoothed) probability of GENDER_LABELS[0]
    gender_age: int = 0  # frames the track was seen since its gender was last classified
    emotion_history: deque = field(default_factory=deque)
    gender_history: deque = field(default_factory=deque)

    def predicted_box(self) -> np.ndarray:
        """Box expected in the next frame under constant velocity."""
        shift = self.velocity * (self.missed + 1)
        return self.box + np.array([shift[0], shift[1], 0.0, 0.0])


def _center(box: np.ndarray) -> np.ndarray:
    return np.array([box[0] + box[2] / 2.0, box[1] + box[3] / 2.0])


def _normalised_distance(track: _Track, box: np.ndarray, landmarks: np.ndarray | None) -> float:
    """Distance between a detection and a track's prediction, in units of the mean box size.

    Uses the five landmarks when both sides have them (more precise than box centres), else centres.
    """
    predicted = track.predicted_box()
    size = max(1.0, (predicted[2] + predicted[3] + box[2] + box[3]) / 4.0)
    if landmarks is not None and track.landmarks is not None and landmarks.shape == track.landmarks.shape:
        shift = track.velocity * (track.missed + 1)
        expected = track.landmarks + shift
        return float(np.linalg.norm(landmarks - expected, axis=1).mean() / size)
    return float(np.linalg.norm(_center(box) - _center(predicted)) / size)


def _geometry(detections: list[Detection]) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """Boxes (float64) and (N, 2) landmarks (or None) of detections, as the matching uses them."""
    boxes = [np.asarray(d.box, dtype=np.float64) for d in detections]
    lms = [None if d.landmarks is None else np.asarray(d.landmarks, np.float64).reshape(-1, 2) for d in detections]
    return boxes, lms


def _gender_probability(face: Face) -> float | None:
    """Probability of GENDER_LABELS[0], or None when the face carries no gender."""
    if face.gender not in GENDER_LABELS:
        return None
    p = float(face.gender_confidence)
    return p if face.gender == GENDER_LABELS[0] else 1.0 - p


class Tracker:
    """Assigns stable ids to faces across frames and smooths their probabilities per track."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self.config.validate()
        self._tracks: list[_Track] = []
        self._next_id = 1
        # gender_due's geometry and matching, reused by the update that follows for the same Detection objects
        self._planned: tuple[list[int], tuple[list, list], dict[int, _Track]] | None = None

    @property
    def active_ids(self) -> list[str]:
        """Ids of the tracks alive now (seen within the last ``max_missed`` frames)."""
        return [t.track_id for t in self._tracks]

    def reset(self) -> None:
        """Forget every track (ids keep increasing so old ids are never reused)."""
        self._tracks.clear()
        self._planned = None

    def gender_due(self, detections: list[Detection]) -> list[bool]:
        """Per detection of this frame, whether it needs the gender model (a new track, or a refresh due).

        Changes nothing; pass the faces of the same detections, and this answer, to ``update``.
        """
        every = self.config.gender_every
        if not self.config.enabled or every <= 1:
            return [True] * len(detections)
        geometry = _geometry(detections)
        assignment = self._match(*geometry)
        self._planned = ([id(d) for d in detections], geometry, assignment)
        due = []
        for i in range(len(detections)):
            track = assignment.get(i)
            due.append(track is None or track.gender_p is None or track.gender_age + 1 >= every)
        return due

    def update(self, faces: list[Face], gender_fresh: list[bool] | None = None) -> list[Face]:
        """Match this frame's faces to tracks; return copies with track ids and smoothed scores.

        ``gender_fresh[i]`` False: face i was not given to the gender model this frame (see ``gender_due``);
        it gets its track's gender. None: every face was.
        """
        if not self.config.enabled:
            self._age(set())
            return list(faces)
        planned, self._planned = self._planned, None
        if planned is not None and planned[0] == [id(f.detection) for f in faces]:
            # the tracks have not changed since gender_due matched these detections
            (boxes, lms), assignment = planned[1], planned[2]
        else:
            boxes, lms = _geometry([f.detection for f in faces])
            assignment = self._match(boxes, lms)
        matched_tracks = set()
        out: list[Face] = []
        for i, face in enumerate(faces):
            track = assignment.get(i)
            if track is None:
                track = _Track(track_id=str(self._next_id), box=boxes[i], landmarks=lms[i])
                self._next_id += 1
                self._tracks.append(track)
            else:
                new_velocity = (_center(boxes[i]) - _center(track.box)) / (track.missed + 1)
                track.velocity = 0.5 * track.velocity + 0.5 * new_velocity
                track.box, track.landmarks, track.missed = boxes[i], lms[i], 0
            matched_tracks.add(id(track))
            out.append(self._smooth(track, face, True if gender_fresh is None else gender_fresh[i]))
        self._age(matched_tracks)
        return out

    def _age(self, seen: set[int]) -> None:
        """One frame passed: every track not in ``seen`` (object ids) misses it; retire the expired."""
        for track in self._tracks:
            if id(track) not in seen:
                track.missed += 1
        self._tracks = [t for t in self._tracks if t.missed <= self.config.max_missed]

    def _match(self, boxes: list[np.ndarray], lms: list[np.ndarray | None]) -> dict[int, _Track]:
        """Greedy matching: the closest admissible (detection, track) pairs first."""
        candidates: list[tuple[float, int, int]] = []
        for i, box in enumerate(boxes):
            for j, track in enumerate(self._tracks):
                iou = box_iou(box, track.predicted_box())
                dist = _normalised_distance(track, box, lms[i])
                # IoU 0 is no overlap at all: it never admits a pair, even with iou_threshold 0
                overlaps = iou > 0.0 and iou >= self.config.iou_threshold
                if overlaps or dist <= self.config.max_center_shift:
                    candidates.append((dist - iou, i, j))
        candidates.sort()
        assignment: dict[int, _Track] = {}
        used_tracks: set[int] = set()
        for _, i, j in candidates:
            if i in assignment or j in used_tracks:
                continue
            assignment[i] = self._tracks[j]
            used_tracks.add(j)
        return assignment

    def _smooth(self, track: _Track, face: Face, gender_fresh: bool = True) -> Face:
        cfg = self.config
        scores = np.asarray(face.emotion_scores, dtype=np.float32)
        labels = tuple(face.emotion_labels)
        if len(labels) != len(scores):
            raise ValueError(f"face has {len(scores)} emotion scores but {len(labels)} labels {labels}")
        previous = track.emotion_ema if track.emotion_ema is not None else (
            track.emotion_history[-1] if track.emotion_history else None)
        if previous is not None and previous.shape != scores.shape:
            track.emotion_ema = None  # the emotion model changed: its history means nothing now
            track.emotion_history.clear()
        gender_p = _gender_probability(face) if gender_fresh else None
        if cfg.smoothing == "ema":
            a = cfg.ema_alpha
            previous = scores if track.emotion_ema is None else track.emotion_ema
            track.emotion_ema = smoothed = a * scores + (1 - a) * previous
            if gender_p is not None:
                previous_p = gender_p if track.gender_ema is None else track.gender_ema
                track.gender_ema = gender_p = a * gender_p + (1 - a) * previous_p
        elif cfg.smoothing == "window":
            track.emotion_history.append(scores)
            while len(track.emotion_history) > cfg.window:
                track.emotion_history.popleft()
            smoothed = np.mean(np.stack(track.emotion_history), axis=0)
            if gender_p is not None:
                track.gender_history.append(gender_p)
                while len(track.gender_history) > cfg.window:
                    track.gender_history.popleft()
                gender_p = float(np.mean(track.gender_history))
        else:
            smoothed = scores
        if gender_p is not None:
            track.gender_p, track.gender_age = gender_p, 0
        elif not gender_fresh and track.gender_p is not None:  # not classified this frame: the track's gender
            gender_p = track.gender_p
            track.gender_age += 1
        smoothed = np.asarray(smoothed, dtype=np.float32)
        total = float(smoothed.sum())
        if total > 0:
            smoothed = smoothed / total
        best = int(np.argmax(smoothed))
        changes: dict = {
            "track_id": track.track_id,
            "emotion_scores": smoothed,
            "emotion": labels[best],
            "emotion_confidence": float(smoothed[best]),
        }
        if gender_p is not None:
            first = gender_p >= 0.5
            changes["gender"] = GENDER_LABELS[0] if first else GENDER_LABELS[1]
            changes["gender_confidence"] = float(gender_p if first else 1.0 - gender_p)
        return dataclasses.replace(face, **changes)
