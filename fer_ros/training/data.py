"""Image-folder datasets preloaded into memory, plus synthetic label noise.

Layout: ``<root>/<class>/<image>``; class folder names must match the configured labels. Images are
decoded once with OpenCV, resized to the model input size and kept as one uint8 array (FER-2013 train
is 28.7k x 48 x 48 = 66 MB), so an epoch never touches the disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fer_ros.core.image_input import image_files


@dataclass
class ImageSet:
    images: np.ndarray  # uint8, (N, H, W) gray or (N, H, W, 3) RGB
    targets: np.ndarray  # int64, (N,)
    labels: tuple[str, ...]
    paths: list[str]


INTERPOLATIONS = {"linear": cv2.INTER_LINEAR, "area": cv2.INTER_AREA}


def load_image_folder(root: str | Path, labels: tuple[str, ...], size: int, colour: str = "gray",
                      interpolation: str = "linear") -> ImageSet:
    """Read every image under ``root/<label>/`` for each label, resized to ``size`` x ``size``.

    ``linear`` resizing matches ``fer_ros.core.classifiers`` (bilinear), so validation numbers equal
    what the product sees; ``area`` is the smoother choice for strong downscaling.
    """
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {sorted(INTERPOLATIONS)}, got {interpolation!r}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder not found: {root}")
    if colour not in ("gray", "rgb"):
        raise ValueError(f"colour must be 'gray' or 'rgb', got {colour!r}")
    extra = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name not in labels)
    if extra:
        raise ValueError(f"{root}: class folders {extra} are not in labels {list(labels)}")
    images, targets, paths = [], [], []
    flag = cv2.IMREAD_GRAYSCALE if colour == "gray" else cv2.IMREAD_COLOR
    for index, label in enumerate(labels):
        folder = root / label
        if not folder.is_dir():
            continue
        for path in image_files(folder):
            image = cv2.imread(str(path), flag)
            if image is None:
                raise ValueError(f"cannot decode image: {path}")
            if image.shape[:2] != (size, size):
                image = cv2.resize(image, (size, size), interpolation=INTERPOLATIONS[interpolation])
            if colour == "rgb":
                image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
            images.append(image)
            targets.append(index)
            paths.append(str(path))
    if not images:
        raise ValueError(f"no images found under {root} for labels {list(labels)}")
    return ImageSet(np.stack(images), np.asarray(targets, dtype=np.int64), tuple(labels), paths)


def inject_label_noise(targets: np.ndarray, rate: float, num_classes: int, seed: int) -> np.ndarray:
    """Return a copy where exactly ``round(rate * N)`` labels are moved to a different random class."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"label noise rate must be in [0, 1], got {rate}")
    rng = np.random.default_rng(seed)
    noisy = targets.copy()
    count = int(round(rate * len(targets)))
    chosen = rng.choice(len(targets), size=count, replace=False)
    shift = rng.integers(1, num_classes, size=count)  # never 0, so the class always changes
    noisy[chosen] = (targets[chosen] + shift) % num_classes
    return noisy


def stratified_subset(targets: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Indices of a class-stratified random subset of about ``count`` samples."""
    if count <= 0 or count >= len(targets):
        return np.arange(len(targets))
    rng = np.random.default_rng(seed)
    keep = []
    for cls in np.unique(targets):
        members = np.flatnonzero(targets == cls)
        take = max(1, int(round(count * len(members) / len(targets))))
        keep.append(rng.choice(members, size=min(take, len(members)), replace=False))
    return np.sort(np.concatenate(keep))
