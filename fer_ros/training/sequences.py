"""Labelled face sequences for temporal models (MGLN): detections cached once, crops cut per epoch.

Layout ``<root>/<class>/<sequence>/<frames in order>`` (``fer_ros.core.sequence_folder``). Every frame is
run once through the core face detector (MTCNN by default: box + 5 landmarks; the largest face); the
result is cached as JSON under ``~/.cache/fer_ros/detections`` keyed by the frame paths, sizes and
detector settings, so training and LOSO folds never detect again. A frame without a face borrows the
nearest detected frame of its sequence. In memory each frame keeps only a gray square around its face
(``REGION_SIZE`` px, the detection mapped into it), so crops with random jitter are cut every epoch with
``fer_ros.core.part_crops`` exactly as the runtime cuts them.

A sample is a triplet of frames (onset, middle, peak): the first, middle and last frame of the
sequence (Yu et al.); training draws them near those positions. With ``neutral_sequences`` each
sequence also gives a "neutral" pseudo-sequence made of its first (neutral) frames.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fer_ros.core.config import PipelineConfig
from fer_ros.core.face_crop import warp_chip
from fer_ros.core.part_crops import CropSizes, face_and_parts, similarity_jitter
from fer_ros.core.results import Detection, largest_detection
from fer_ros.core.sequence_folder import Sequence, list_sequences

log = logging.getLogger("fer_ros.training")

REGION_SIZE = 160  # px: side of the gray square kept per frame (twice the face box, around its centre)
NEUTRAL_FRAMES = 3  # the first frames of a CK+ sequence are neutral


def _detector_config(detector: str) -> PipelineConfig:
    return PipelineConfig(detector=detector, detection_scale=0.5, min_face_size=60, max_faces=5)


def cached_detections(sequences: list[Sequence], detector: str = "mtcnn",
                      cache_dir: str | Path = "~/.cache/fer_ros/detections") -> dict[str, Detection | None]:
    """Largest face per frame (None: no face), detected once and cached as JSON."""
    config = _detector_config(detector)
    frames = [str(f) for s in sequences for f in s.frames]
    key = hashlib.sha256(json.dumps([dataclasses.asdict(config), [(f, Path(f).stat().st_size) for f in frames]])
                         .encode()).hexdigest()[:16]
    path = Path(cache_dir).expanduser() / f"{detector}-{key}.json"
    if path.is_file():
        raw = json.loads(path.read_text())
    else:
        from fer_ros.core.detectors import create_detector

        det = create_detector(config)
        raw = {}
        for i, frame in enumerate(frames):
            image = cv2.imread(frame, cv2.IMREAD_COLOR)
            if image is None:
                raise ValueError(f"cannot decode image: {frame}")
            best = largest_detection(det.detect(image))
            raw[frame] = None if best is None else {
                "box": [float(v) for v in best.box], "score": float(best.score),
                "landmarks": None if best.landmarks is None else np.asarray(best.landmarks, float).tolist()}
            if (i + 1) % 100 == 0:
                log.info("detected faces in %d/%d frames", i + 1, len(frames))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(raw))
        log.info("cached %d detections in %s", len(raw), path)
    return {f: None if raw[f] is None else Detection(
        box=tuple(raw[f]["box"]), score=raw[f]["score"],
        landmarks=None if raw[f]["landmarks"] is None else np.asarray(raw[f]["landmarks"], np.float32))
        for f in frames}


def _fill_missing(detections: list[Detection | None], name: str) -> list[Detection]:
    found = [i for i, d in enumerate(detections) if d is not None]
    if not found:
        raise ValueError(f"sequence {name}: no face detected in any frame")
    return [d if d is not None else detections[min(found, key=lambda j: abs(j - i))]
            for i, d in enumerate(detections)]


def _region(gray: np.ndarray, det: Detection) -> tuple[np.ndarray, Detection]:
    """A REGION_SIZE square of ``gray`` around the face (side 2x the box) and the detection inside it."""
    x, y, w, h = det.box
    side = 2.0 * max(w, h)
    s = REGION_SIZE / side
    x0, y0 = x + w / 2 - side / 2, y + h / 2 - side / 2
    m = np.array([[s, 0.0, -x0 * s], [0.0, s, -y0 * s]])
    region = warp_chip(gray, m, (REGION_SIZE, REGION_SIZE))
    landmarks = None if det.landmarks is None else (np.asarray(det.landmarks, np.float64) - (x0, y0)) * s
    return region, Detection(box=((x - x0) * s, (y - y0) * s, w * s, h * s), score=det.score,
                             landmarks=None if landmarks is None else landmarks.astype(np.float32))


@dataclass
class FaceSequence:
    """One sequence in memory: per frame a gray face region and the detection inside it."""

    label: int
    name: str
    subject: str
    regions: list[np.ndarray]
    detections: list[Detection]
    frames: tuple[Path, ...]
    original_detections: list[Detection]  # in frame pixels (for the single-frame baselines)
    key: str = ""  # "<class>/<sequence>", unique in the data set


def load_face_sequences(root: str | Path, labels: tuple[str, ...], detector: str = "mtcnn",
                        cache_dir: str | Path = "~/.cache/fer_ros/detections") -> list[FaceSequence]:
    sequences = list_sequences(root, labels)
    found = cached_detections(sequences, detector, cache_dir)
    out = []
    for seq in sequences:
        dets = _fill_missing([found[str(f)] for f in seq.frames], seq.name)
        regions, inside = [], []
        for frame, det in zip(seq.frames, dets):
            gray = cv2.imread(str(frame), cv2.IMREAD_GRAYSCALE)
            region, moved = _region(gray, det)
            regions.append(region)
            inside.append(moved)
        out.append(FaceSequence(seq.label, seq.name, seq.subject, regions, inside, seq.frames, dets,
                                f"{labels[seq.label]}/{seq.name}"))
    return out


def load_still_sequences(root: str | Path, labels: tuple[str, ...], limit: int = 0,
                         seed: int = 0) -> list[FaceSequence]:
    """Still face crops (``<root>/<class>/<image>``, e.g. FER-2013) as one-frame pseudo-sequences.

    The crop is the face box (no landmarks: the mean face is placed in it); every triplet of such a
    sequence shows the same face under small random shifts and scales, as a track would see it.
    ``limit`` > 0 keeps that many images (class-stratified, random).
    """
    from fer_ros.training.data import load_image_folder, stratified_subset

    images = load_image_folder(root, labels, 48)
    keep = stratified_subset(images.targets, limit, seed) if limit else np.arange(len(images.targets))
    out = []
    for i in keep:
        image = images.images[i]
        det = Detection(box=(0.0, 0.0, float(image.shape[1]), float(image.shape[0])), score=1.0)
        name = Path(images.paths[i]).stem
        out.append(FaceSequence(int(images.targets[i]), name, "stills", [image], [det], (Path(images.paths[i]),),
                                [det], f"{labels[images.targets[i]]}/{name}"))
    return out


def triplet(length: int, rng: np.random.Generator | None = None) -> tuple[int, int, int]:
    """(onset, middle, peak) frame indices: first, middle and last; with ``rng``, drawn near them."""
    if rng is None:
        onset, peak = 0, length - 1
        return onset, (onset + peak) // 2, peak
    onset = int(rng.integers(0, max(1, min(2, length // 4))))
    peak = length - 1 - int(rng.integers(0, max(1, min(3, length // 5))))
    middle = (onset + peak) // 2 + int(rng.integers(-1, 2))
    return onset, int(np.clip(middle, onset, peak)), peak


def neutral_triplet(length: int, rng: np.random.Generator | None = None) -> tuple[int, int, int]:
    """Three frames from the neutral start of a sequence (sorted)."""
    top = min(NEUTRAL_FRAMES, length)
    if rng is None:
        return 0, (top - 1) // 2, top - 1
    return tuple(sorted(int(v) for v in rng.integers(0, top, size=3)))


def crops(seq: FaceSequence, indices: tuple[int, int, int], sizes: CropSizes,
          rng: np.random.Generator | None = None, jitter_scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """uint8 face crop of the peak (H, W) and part crops (3 frames, 3 parts, h, w) of one triplet.

    With ``rng``: one random similarity for the whole triplet (the track's framing) plus a small one per
    frame (detector wobble).
    """
    base = similarity_jitter(rng, 0.04 * jitter_scale, 0.06 * jitter_scale, 6.0 * jitter_scale) if rng else None
    parts, face = [], None
    for k, i in enumerate(indices):
        jitter = None
        if rng is not None:
            jitter = similarity_jitter(rng, 0.01 * jitter_scale, 0.02 * jitter_scale, 1.5 * jitter_scale) @ base
        f, p = face_and_parts(seq.regions[i], seq.detections[i], sizes, jitter)
        parts.append(p)
        if k == len(indices) - 1:
            face = f
    return face, np.stack(parts)
