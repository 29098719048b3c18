"""Image-folder and FER+ datasets preloaded into memory, plus synthetic label noise.

Layouts: ``<root>/<class>/<image>`` (class folder names must match the configured labels), or a FER+
folder (``<root>/label.csv`` + images, see ``fer_ros.training.ferplus``). Images are
decoded once with OpenCV, resized to the model input size and kept as one uint8 array (FER-2013 train
is 28.7k x 48 x 48 = 66 MB), so an epoch never touches the disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fer_ros.core.image_input import image_files
from fer_ros.training.config import DataConfig


@dataclass
class ImageSet:
    images: np.ndarray  # uint8, (N, H, W) gray or (N, H, W, 3) RGB
    targets: np.ndarray  # int64, (N,)
    labels: tuple[str, ...]
    paths: list[str]
    soft: np.ndarray | None = None  # float32 (N, K) target distributions (FER+ votes), None for hard labels
    missing: int = 0  # further items without an image (photos where no face was found): counted as wrong

    def subset(self, keep: np.ndarray) -> ImageSet:
        return ImageSet(self.images[keep], self.targets[keep], self.labels, [self.paths[i] for i in keep],
                        None if self.soft is None else self.soft[keep])


INTERPOLATIONS = {"linear": cv2.INTER_LINEAR, "area": cv2.INTER_AREA}


def read_image(path: Path, size: int, colour: str, interpolation: str) -> np.ndarray:
    """One image as uint8 gray (H, W) or RGB (H, W, 3), resized to ``size`` x ``size``."""
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE if colour == "gray" else cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"cannot decode image: {path}")
    if image.shape[:2] != (size, size):
        image = cv2.resize(image, (size, size), interpolation=INTERPOLATIONS[interpolation])
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if colour == "rgb" else image


def _check_options(colour: str, interpolation: str) -> None:
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {sorted(INTERPOLATIONS)}, got {interpolation!r}")
    if colour not in ("gray", "rgb"):
        raise ValueError(f"colour must be 'gray' or 'rgb', got {colour!r}")


def load_ferplus(root: str | Path, size: int, target: str = "majority", contempt: bool = False,
                 colour: str = "gray", interpolation: str = "linear", drop_single_votes: bool = True) -> ImageSet:
    """A FER+ folder (``label.csv`` + images) with ``target`` = majority | distribution | probability."""
    from fer_ros.training.ferplus import LABEL_FILE, ferplus_labels, ferplus_targets, read_label_csv

    _check_options(colour, interpolation)
    root = Path(root)
    rows = read_label_csv(root / LABEL_FILE)
    keep, hard, soft = ferplus_targets(np.stack([r.votes for r in rows]), target, contempt, drop_single_votes)
    kept = [r for r, k in zip(rows, keep) if k]
    if not kept:
        raise ValueError(f"{root}: no image is kept by the FER+ {target!r} rule")
    paths = [str(root / r.name) for r in kept]
    missing = [p for p in paths if not Path(p).is_file()]
    if missing:
        raise FileNotFoundError(f"{root}: {len(missing)} images named in {LABEL_FILE} are missing, e.g. {missing[0]}")
    images = np.stack([read_image(Path(p), size, colour, interpolation) for p in paths])
    # majority targets are hard labels (so every training mode, label noise included, applies to them)
    return ImageSet(images, hard, ferplus_labels(contempt), paths, None if target == "majority" else soft)


def load_dataset(root: str | Path, data: DataConfig, target: str, size: int) -> ImageSet:
    """A FER+ folder (``label.csv`` present; ``target`` applies) or a ``<class>/<image>`` folder."""
    from fer_ros.training.ferplus import is_ferplus_folder

    if is_ferplus_folder(root):
        images = load_ferplus(root, size, target, data.contempt, data.colour, data.interpolation)
        if tuple(images.labels) != tuple(data.labels):
            raise ValueError(f"{root}: FER+ classes {list(images.labels)} (contempt={data.contempt}) differ from "
                             f"the configured labels {list(data.labels)}")
        return images
    return load_image_folder(root, data.labels, size, data.colour, data.interpolation)


def concat_sets(sets: list[ImageSet]) -> ImageSet:
    """One set from several with the same labels; hard-label sets get one-hot rows when any set is soft."""
    if len({tuple(s.labels) for s in sets}) != 1:
        raise ValueError(f"cannot join sets with different labels: {[list(s.labels) for s in sets]}")
    soft = None
    if any(s.soft is not None for s in sets):
        k = len(sets[0].labels)
        soft = np.concatenate([s.soft if s.soft is not None else np.eye(k, dtype=np.float32)[s.targets]
                               for s in sets])
    return ImageSet(np.concatenate([s.images for s in sets]), np.concatenate([s.targets for s in sets]),
                    sets[0].labels, [p for s in sets for p in s.paths], soft)


def load_image_folder(root: str | Path, labels: tuple[str, ...], size: int, colour: str = "gray",
                      interpolation: str = "linear") -> ImageSet:
    """Read every image under ``root/<label>/`` for each label, resized to ``size`` x ``size``.

    ``linear`` resizing matches ``fer_ros.core.classifiers`` (bilinear), so validation numbers equal
    what the product sees; ``area`` is the smoother choice for strong downscaling.
    """
    _check_options(colour, interpolation)
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder not found: {root}")
    extra = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name not in labels)
    if extra:
        raise ValueError(f"{root}: class folders {extra} are not in labels {list(labels)}")
    images, targets, paths = [], [], []
    for index, label in enumerate(labels):
        folder = root / label
        if not folder.is_dir():
            continue
        for path in image_files(folder):
            images.append(read_image(path, size, colour, interpolation))
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
