"""Pipeline input: image files of a folder, and validation/normalisation to a contiguous uint8 BGR image.

``as_bgr`` accepts uint8 arrays of shape (H, W, 3) BGR (used as is), (H, W) or (H, W, 1) gray (converted
to BGR) and (H, W, 4) BGRA (alpha dropped). Everything else raises ValueError saying what was wrong.
``IMAGE_SUFFIXES`` (the file types every tool reads from a folder) and ``image_files`` are the one
definition the CLI, the benches, the camera source and the training data use.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".ppm", ".webp",
                                            ".tif", ".tiff"})


def is_image_file(path: Path) -> bool:
    """True for a file whose suffix (any case) is one of ``IMAGE_SUFFIXES``."""
    return path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()


def image_files(folder: Path, recursive: bool = False) -> list[Path]:
    """The image files of ``folder`` (and its subfolders when ``recursive``), sorted by path."""
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in found if is_image_file(p))


def as_bgr(image) -> np.ndarray:
    if image is None:
        raise ValueError("image is None (was the file readable / the frame captured?)")
    if not isinstance(image, np.ndarray):
        raise ValueError(f"image must be a numpy array, got {type(image).__name__}")  # noqa: TRY004
    if image.size == 0 or image.ndim < 2 or min(image.shape[:2]) == 0:
        raise ValueError(f"image is empty (shape {image.shape})")
    if image.dtype != np.uint8:
        raise ValueError(f"image dtype must be uint8 (0..255), got {image.dtype}; "
                         "scale/convert it first, e.g. np.clip(img * 255, 0, 255).astype(np.uint8)")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"image must be HxW (gray), HxWx3 (BGR) or HxWx4 (BGRA), got shape {image.shape}")
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return np.ascontiguousarray(image)
