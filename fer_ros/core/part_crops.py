"""Aligned face and part crops (eyes, nose, mouth) from a detection's 5 landmarks, for temporal models.

One similarity transform maps the landmarks onto dlib's mean face in a unit square (the ``dlib-aligned``
chip of ``fer_ros.core.face_crop``, padding 0.2). The face crop is that unit square; each part crop is
a fixed window of it, centred on the part's own landmarks mapped into the square (eye centres, nose
tip, mouth corners), so a mouth that opens moves its window with it. A detection without landmarks
(Haar) gets the mean face placed in its box (the ``dlib-box`` rule). Training
(``fer_ros.training``) and the runtime (``fer_ros.core.temporal``) cut crops with this module only.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from fer_ros.core.face_crop import MEAN_FACE_5, box_region, get_policy, similarity_transform, warp_chip
from fer_ros.core.results import Detection

PARTS: tuple[str, ...] = ("eyes", "nose", "mouth")
PADDING = get_policy("dlib-aligned").padding  # the dlib chip padding of that crop policy
UNIT_FACE_5 = (MEAN_FACE_5 + PADDING) / (1 + 2 * PADDING)  # the 5 points in the unit face square
# per part: landmark indices whose mean is the centre, (dx, dy) offset and (w, h) size, in unit-square units
PART_WINDOWS: dict[str, tuple[tuple[int, ...], tuple[float, float], tuple[float, float]]] = {
    "eyes": ((0, 1), (0.0, -0.06), (0.70, 0.34)),  # both eyes and the brows
    "nose": ((2,), (0.0, -0.04), (0.40, 0.30)),  # nose tip, wings and the wrinkles above
    "mouth": ((3, 4), (0.0, 0.02), (0.60, 0.36)),  # mouth corners, lips and chin top
}


@dataclass(frozen=True)
class CropSizes:
    """Pixel sizes (width, height) of the face crop and of every part crop."""

    face: tuple[int, int] = (40, 40)
    part: tuple[int, int] = (32, 20)


def landmarks_of(detection: Detection) -> np.ndarray:
    """(5, 2) landmarks of ``detection``; without any, the mean face placed in its ``dlib-box`` region."""
    if detection.landmarks is not None:
        return np.asarray(detection.landmarks, np.float64).reshape(5, 2)
    x1, y1, x2, y2 = box_region(detection, get_policy("dlib-box"))
    return np.array([x1, y1]) + UNIT_FACE_5 * np.array([x2 - x1, y2 - y1])


def unit_transform(detection: Detection) -> np.ndarray:
    """3x3 matrix mapping frame pixels into the unit face square (mean face at ``UNIT_FACE_5``)."""
    m = np.eye(3)
    m[:2] = similarity_transform(landmarks_of(detection), UNIT_FACE_5)
    return m


def _window_to_pixels(x1: float, y1: float, w: float, h: float, size: tuple[int, int]) -> np.ndarray:
    return np.array([[size[0] / w, 0.0, -x1 * size[0] / w], [0.0, size[1] / h, -y1 * size[1] / h], [0, 0, 1]])


def part_windows(detection: Detection, unit: np.ndarray | None = None) -> list[tuple[float, float, float, float]]:
    """(x1, y1, w, h) of every part window in unit-square coordinates, in ``PARTS`` order."""
    unit = unit_transform(detection) if unit is None else unit
    points = landmarks_of(detection) @ unit[:2, :2].T + unit[:2, 2]
    windows = []
    for name in PARTS:
        indices, (dx, dy), (w, h) = PART_WINDOWS[name]
        cx, cy = points[list(indices)].mean(axis=0) + (dx, dy)
        windows.append((cx - w / 2, cy - h / 2, w, h))
    return windows


def _gray(chip: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(chip, cv2.COLOR_BGR2GRAY) if chip.ndim == 3 else chip


def face_and_parts(image: np.ndarray, detection: Detection, sizes: CropSizes = CropSizes(),
                   jitter: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Gray uint8 face crop (H, W) and part crops (3, h, w) of one face in a BGR or gray frame.

    ``jitter`` (3x3, unit-square coordinates) moves the whole face square before cutting: training uses
    it for small shifts, scales and rotations; the runtime leaves it None.
    """
    unit = unit_transform(detection)
    windows = part_windows(detection, unit)  # parts follow the landmarks, before any jitter
    if jitter is not None:
        unit = jitter @ unit
    face = _gray(warp_chip(image, (_window_to_pixels(0.0, 0.0, 1.0, 1.0, sizes.face) @ unit)[:2], sizes.face))
    parts = np.stack([_gray(warp_chip(image, (_window_to_pixels(*w, sizes.part) @ unit)[:2], sizes.part))
                      for w in windows])
    return face, parts


def similarity_jitter(rng: np.random.Generator, shift: float = 0.04, scale: float = 0.06,
                      rotation_deg: float = 6.0) -> np.ndarray:
    """A random similarity about the unit square's centre (what a tracked face's detections wobble by)."""
    s = 1.0 + rng.uniform(-scale, scale)
    a = np.deg2rad(rng.uniform(-rotation_deg, rotation_deg))
    t = rng.uniform(-shift, shift, size=2)
    c = np.array([0.5, 0.5])
    r = s * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    m = np.eye(3)
    m[:2, :2] = r
    m[:2, 2] = c - r @ c + t
    return m
