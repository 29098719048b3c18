"""Temporal expression per track: a window of aligned crops per face track, scored by MGLN (ONNX).

    temporal = TemporalTracker(TemporalModel.from_model("mgln-ckplus"), window=15)
    faces = tracker.update(pipeline.process(bgr).faces)      # faces carry track ids
    faces = temporal.update(bgr, faces, tracker.active_ids)   # + temporal_* fields

Per track the last ``window`` frames keep their face and part crops (``fer_ros.core.part_crops``) and
the single-frame probability of "neutral". Once a track's window is full, every frame picks
onset = the window's first frame, peak = the frame whose single-frame prediction is least neutral,
middle = halfway between them, and runs the model on them; until then the temporal fields stay empty
(``temporal_frames`` = 0). Windows of retired tracks are dropped. Faces without a track id (tracking
off) get no temporal result.

ONNX metadata read from the model file (written by ``fer_ros.training.export``): ``model_type`` = ``mgln``,
``labels``, ``input_size`` (face ``W,H``), ``part_size`` (``w,h``), ``frames`` (3), ``window``
(default window length), ``normalisation_mean`` / ``normalisation_std``.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fer_ros.core.model_registry import ModelFileError, ModelSpec, metadata_numbers, read_onnx_metadata, resolve_model
from fer_ros.core.onnx_session import DEFAULT_PROVIDERS, create_session
from fer_ros.core.part_crops import CropSizes, face_and_parts
from fer_ros.core.results import Face

DEFAULT_TEMPORAL_WINDOW = 15  # frames: half a second at 30 fps, about one CK+ onset-to-peak sequence


def temporal_tracker(name_or_path: str, window: int = DEFAULT_TEMPORAL_WINDOW, num_threads: int = 1,
                     providers: Sequence[str] = DEFAULT_PROVIDERS) -> TemporalTracker | None:
    """A TemporalTracker for a model name or path; None when ``name_or_path`` is empty (temporal off)."""
    if not name_or_path:
        return None
    return TemporalTracker(TemporalModel.from_model(name_or_path, num_threads, providers), window)


def _pair(text: str) -> tuple[int, int]:
    values = metadata_numbers(text)
    return int(values[0]), int(values[-1])


class TemporalModel:
    """onnxruntime runner of an MGLN export: (face, parts) of N tracks -> (N, labels) probabilities."""

    def __init__(self, spec: ModelSpec, path: Path, num_threads: int = 1,
                 providers: Sequence[str] = DEFAULT_PROVIDERS) -> None:
        metadata = read_onnx_metadata(path)
        if metadata.get("model_type") != "mgln":
            raise ModelFileError(f"{path} is not a temporal MGLN model (metadata model_type="
                                 f"{metadata.get('model_type')!r}); export one with fer-ros-export")
        self.spec, self.path = spec, path
        self.session = create_session(path, num_threads, providers)
        names = [i.name for i in self.session.get_inputs()]
        if names != ["face", "parts"]:
            raise ModelFileError(f"{path}: expected inputs ['face', 'parts'], got {names}")
        self.labels = spec.labels or tuple(metadata["labels"].split(","))
        self.sizes = CropSizes(face=_pair(metadata.get("input_size", "40,40")),
                               part=_pair(metadata.get("part_size", "32,20")))
        self.window = int(metadata.get("window", "15"))
        self._mean = float(spec.mean[0])
        self._inv_std = 1.0 / float(spec.std[0])

    @classmethod
    def from_model(cls, name_or_path: str, num_threads: int = 1,
                   providers: Sequence[str] = DEFAULT_PROVIDERS) -> TemporalModel:
        spec, path = resolve_model(name_or_path, "temporal")
        return cls(spec, path, num_threads, providers)

    def predict(self, faces: np.ndarray, parts: np.ndarray) -> np.ndarray:
        """uint8 faces (N, H, W) and parts (N, 3 frames, 3 parts, h, w) -> (N, len(labels)) float32."""
        face = (faces[:, None].astype(np.float32) - self._mean) * self._inv_std
        part = (parts.astype(np.float32) - self._mean) * self._inv_std
        return self.session.run(None, {"face": face, "parts": part})[0].astype(np.float32)


def select_frames(neutral: list[float] | np.ndarray) -> tuple[int, int, int]:
    """(onset, middle, peak) in a window: first frame, least neutral frame, and halfway between."""
    peak = int(np.argmin(np.asarray(neutral, np.float64)))
    return 0, peak // 2, peak


def _without_temporal(face: Face) -> Face:
    if not face.temporal_frames and not face.temporal_emotion:
        return face
    return dataclasses.replace(face, temporal_emotion="", temporal_confidence=0.0,
                               temporal_scores=np.zeros(0, np.float32), temporal_frames=0)


@dataclasses.dataclass
class _Window:
    faces: deque  # uint8 (H, W) per frame
    parts: deque  # uint8 (3, h, w) per frame
    neutral: deque  # single-frame probability of "neutral" per frame


class TemporalTracker:
    """Per-track windows of crops and the temporal model's scores for every tracked face."""

    def __init__(self, model: TemporalModel, window: int = 0, neutral_label: str = "neutral") -> None:
        self.model = model
        self.window = int(window) or model.window
        if self.window < 3:
            raise ValueError(f"temporal window must be >= 3 frames (onset, middle, peak), got {self.window}")
        self.neutral_label = neutral_label
        self._windows: dict[str, _Window] = {}

    def reset(self) -> None:
        self._windows.clear()

    def frames_of(self, track_id: str) -> int:
        w = self._windows.get(track_id)
        return len(w.faces) if w else 0

    def update(self, image: np.ndarray, faces: list[Face], active_ids: list[str] | None = None) -> list[Face]:
        """Copies of ``faces`` with temporal fields; ``active_ids``: tracks still alive (others are dropped)."""
        if active_ids is not None:
            for gone in set(self._windows) - set(active_ids):
                del self._windows[gone]
        ready: list[int] = []
        for i, face in enumerate(faces):
            if not face.track_id:
                continue
            w = self._windows.get(face.track_id)
            if w is None:
                w = self._windows[face.track_id] = _Window(*(deque(maxlen=self.window) for _ in range(3)))
            crop, parts = face_and_parts(image, face.detection, self.model.sizes)
            w.faces.append(crop)
            w.parts.append(parts)
            w.neutral.append(self._neutral_probability(face))
            if len(w.faces) == self.window:
                ready.append(i)
        out = [_without_temporal(f) for f in faces]  # a face not ready never keeps a stale result
        if not ready:
            return out
        batch_faces, batch_parts = [], []
        for i in ready:
            w = self._windows[faces[i].track_id]
            onset, middle, peak = select_frames(w.neutral)
            batch_faces.append(w.faces[peak])
            batch_parts.append(np.stack([w.parts[onset], w.parts[middle], w.parts[peak]]))
        probabilities = self.model.predict(np.stack(batch_faces), np.stack(batch_parts))
        for i, p in zip(ready, probabilities):
            labels, p = self._in_face_order(faces[i], p)
            best = int(np.argmax(p))
            out[i] = dataclasses.replace(out[i], temporal_emotion=labels[best], temporal_confidence=float(p[best]),
                                         temporal_scores=p, temporal_frames=self.window)
        return out

    def _in_face_order(self, face: Face, p: np.ndarray) -> tuple[tuple[str, ...], np.ndarray]:
        """Scores in the order of the face's emotion labels (what messages publish), when they differ."""
        labels = tuple(face.emotion_labels)
        if labels == tuple(self.model.labels) or not set(labels) & set(self.model.labels):
            return tuple(self.model.labels), p
        index = {name: k for k, name in enumerate(self.model.labels)}
        mapped = np.array([p[index[name]] if name in index else 0.0 for name in labels], np.float32)
        return labels, mapped / max(float(mapped.sum()), 1e-12)

    def _neutral_probability(self, face: Face) -> float:
        """The face's single-frame probability of neutral (without a neutral label: 1 - its top score)."""
        labels = tuple(face.emotion_labels)
        if self.neutral_label in labels and len(face.emotion_scores) == len(labels):
            return float(face.emotion_scores[labels.index(self.neutral_label)])
        return 1.0 - float(np.max(face.emotion_scores)) if len(face.emotion_scores) else 0.0
