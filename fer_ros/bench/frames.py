"""Benchmark frames: real face crops composited on a background, with ground-truth face boxes.

Faces come from ``../shared/data/utkface_dev`` (UTKFace aligned 200x200 crops: the crop is the face, so
the pasted square is its ground-truth box) when present, otherwise from the public-domain astronaut
portrait ``skimage.data.astronaut()``. Backgrounds are face-free photos scikit-image ships (coffee cup,
rocket). Sizes, positions and which face goes where come from a fixed seed, so every tool in one run
(fer_ros, Arriaga's pipeline, the ``fer`` package) sees identical frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from fer_ros.core.boxes import box_iou, greedy_matches
from fer_ros.core.image_input import image_files

UTKFACE_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "utkface_dev"
# Tight square around the astronaut's face in skimage.data.astronaut() (x, y, side), framed like UTKFace.
ASTRONAUT_FACE = (170, 58, 110)
FACE_SIZE_RANGE = (60, 140)  # side of the pasted face square in px (faces of a 640x480 robot camera view)


@dataclass
class BenchFrame:
    """One synthetic frame and where its faces are."""

    bgr: np.ndarray  # uint8 HxWx3
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)  # x, y, w, h ground truth


@lru_cache(maxsize=4)
def face_crops(source: str = "auto", limit: int = 400) -> tuple[str, tuple[np.ndarray, ...]]:
    """(description, BGR face crops). ``source``: "auto" | "utkface" | "astronaut" | a folder of images."""
    folder = UTKFACE_DIR if source in ("auto", "utkface") else Path(source)
    if source != "astronaut" and folder.is_dir():
        files = image_files(folder, recursive=True)
        step = max(len(files) // limit, 1)
        crops = [cv2.imread(str(p), cv2.IMREAD_COLOR) for p in files[::step][:limit]]
        crops = [c for c in crops if c is not None]
        if crops:
            return f"{len(crops)} crops from {folder}", tuple(crops)
    if source == "utkface":
        raise FileNotFoundError(f"{UTKFACE_DIR} not found (use --faces astronaut)")
    from skimage import data

    x, y, side = ASTRONAUT_FACE
    crop = np.ascontiguousarray(data.astronaut()[y:y + side, x:x + side, ::-1])
    return "skimage.data.astronaut() face (public domain)", (crop,)


@lru_cache(maxsize=4)
def backgrounds(width: int, height: int) -> tuple[np.ndarray, ...]:
    """Face-free photos shipped by scikit-image, resized to width x height (BGR)."""
    from skimage import data

    out = []
    for image in (data.coffee(), data.rocket()):
        out.append(cv2.resize(np.ascontiguousarray(image[:, :, ::-1]), (width, height), interpolation=cv2.INTER_AREA))
    return tuple(out)


def _feather_mask(side: int) -> np.ndarray:
    """Alpha mask for a pasted face square: 1 inside, soft 4 % border (no hard edge the detectors key on)."""
    ramp = np.clip(np.minimum(np.arange(side), np.arange(side)[::-1]) / max(side * 0.04, 1.0), 0.0, 1.0)
    return np.minimum(ramp[:, None], ramp[None, :]).astype(np.float32)[:, :, None]


def _place(rng: np.random.Generator, sizes: list[int], width: int, height: int) -> list[tuple[int, int, int]]:
    """Non-overlapping squares (x, y, side) with a small gap, by rejection sampling (largest first)."""
    placed: list[tuple[int, int, int]] = []
    for side in sorted(sizes, reverse=True):
        for _ in range(2000):
            x, y = int(rng.integers(0, width - side)), int(rng.integers(0, height - side))
            if all(x + side + 8 <= px or px + ps + 8 <= x or y + side + 8 <= py or py + ps + 8 <= y
                   for px, py, ps in placed):
                placed.append((x, y, side))
                break
        else:
            raise RuntimeError(f"cannot place {len(sizes)} faces of sizes {sizes} in {width}x{height}")
    return placed


def make_frames(n_faces: int, count: int, seed: int = 0, width: int = 640, height: int = 480,
                faces: str = "auto", size_range: tuple[int, int] = FACE_SIZE_RANGE) -> list[BenchFrame]:
    """``count`` frames with ``n_faces`` faces each; identical for identical arguments."""
    _, crops = face_crops(faces)
    bgs = backgrounds(width, height)
    rng = np.random.default_rng([seed, n_faces, width, height])
    frames = []
    for i in range(count):
        canvas = bgs[i % len(bgs)].astype(np.float32)
        lo, hi = size_range
        hi = min(hi, int(0.9 * min(width, height)))
        sizes = [int(rng.integers(lo, hi + 1)) for _ in range(n_faces)]
        if n_faces >= 6:  # keep 8 faces placeable at 640x480
            sizes = [min(s, int(lo + (hi - lo) * 0.6)) for s in sizes]
        boxes = []
        for x, y, side in _place(rng, sizes, width, height):
            crop = crops[int(rng.integers(len(crops)))]
            face = cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA).astype(np.float32)
            alpha = _feather_mask(side)
            region = canvas[y:y + side, x:x + side]
            canvas[y:y + side, x:x + side] = alpha * face + (1.0 - alpha) * region
            boxes.append((float(x), float(y), float(side), float(side)))
        frames.append(BenchFrame(bgr=np.clip(canvas + 0.5, 0, 255).astype(np.uint8), boxes=boxes))
    return frames


MATCH_IOU = 0.4  # a detection finds a ground-truth face when their boxes overlap at least this much


def count_matches(truth: list[tuple[float, float, float, float]],
                  found: list[tuple[float, float, float, float]], min_iou: float = MATCH_IOU) -> tuple[int, int]:
    """(true positives, false positives): greedy one-to-one matching by IoU."""
    scored = ((box_iou(t, f), i, j) for i, t in enumerate(truth) for j, f in enumerate(found))
    matches = greedy_matches(p for p in scored if p[0] >= min_iou)
    return len(matches), len(found) - len(matches)


class FaceSequence:
    """A video-like stream of ``n_faces`` faces drifting over a fixed background.

    Each face bounces inside its own grid cell (faces never overlap); half of them enter later, to
    measure how soon new faces are found. Frame ``i`` is a pure function of ``i``; ``boxes(i)`` are the
    faces visible in frame ``i``.
    """

    def __init__(self, n_faces: int, length: int, seed: int = 0, width: int = 640, height: int = 480,
                 faces: str = "auto", speed_px: float = 3.0):
        _, crops = face_crops(faces)
        rng = np.random.default_rng([seed, n_faces, length, 7])
        self.width, self.height, self.length = width, height, length
        self.background = backgrounds(width, height)[int(rng.integers(2))]
        cols = max(1, int(np.ceil(np.sqrt(n_faces * width / height))))
        rows = max(1, int(np.ceil(n_faces / cols)))
        cw, ch = width // cols, height // rows
        self.tracks = []
        for j in range(n_faces):
            cx, cy = (j % cols) * cw, (j // cols) * ch
            side = int(min(rng.integers(FACE_SIZE_RANGE[0], FACE_SIZE_RANGE[1] + 1), cw - 12, ch - 12))
            angle = rng.uniform(0, 2 * np.pi)
            enter = 0 if j < (n_faces + 1) // 2 else int(rng.integers(length // 4, length // 2 + 1))
            crop = crops[int(rng.integers(len(crops)))]
            self.tracks.append({"cell": (cx, cy, cw, ch), "side": side, "enter": enter,
                                "pos0": (rng.uniform(0, cw - side), rng.uniform(0, ch - side)),
                                "vel": (speed_px * np.cos(angle), speed_px * np.sin(angle)),
                                "face": cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA).astype(np.float32),
                                "alpha": _feather_mask(side)})

    @staticmethod
    def _bounce(x0: float, v: float, span: float, i: int) -> float:
        if span <= 0:
            return 0.0
        p = (x0 + v * i) % (2 * span)
        return p if p <= span else 2 * span - p

    def boxes(self, i: int) -> list[tuple[float, float, float, float]]:
        out = []
        for t in self.tracks:
            if i < t["enter"]:
                continue
            cx, cy, cw, ch = t["cell"]
            s = t["side"]
            x = cx + self._bounce(t["pos0"][0], t["vel"][0], cw - s, i)
            y = cy + self._bounce(t["pos0"][1], t["vel"][1], ch - s, i)
            out.append((float(round(x)), float(round(y)), float(s), float(s)))
        return out

    def entered(self, i: int) -> list[int]:
        """Indices (into ``boxes(i)`` order of all tracks) of faces that enter at frame ``i``."""
        return [j for j, t in enumerate(self.tracks) if t["enter"] == i]

    def frame(self, i: int) -> BenchFrame:
        canvas = self.background.astype(np.float32)
        visible = [t for t in self.tracks if i >= t["enter"]]
        boxes = self.boxes(i)
        for t, (x, y, s, _) in zip(visible, boxes, strict=True):
            x, y, s = int(x), int(y), int(s)
            canvas[y:y + s, x:x + s] = t["alpha"] * t["face"] + (1.0 - t["alpha"]) * canvas[y:y + s, x:x + s]
        return BenchFrame(bgr=np.clip(canvas + 0.5, 0, 255).astype(np.uint8), boxes=boxes)
