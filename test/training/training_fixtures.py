"""Helpers for the training tests: a tiny generated image-folder dataset (no ../shared needed)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from fer_ros.core.labels import EMOTION_LABELS


def make_image(label_index: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """A gray image whose class is visible: a bright bar at a class-specific position plus noise."""
    image = rng.integers(0, 60, size=(size, size)).astype(np.uint8)
    band = size // len(EMOTION_LABELS)
    image[:, label_index * band : (label_index + 1) * band] += 150
    return image


def write_folder(root: Path, per_class: int, size: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    for index, label in enumerate(EMOTION_LABELS):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            cv2.imwrite(str(root / label / f"{i}.png"), make_image(index, size, rng))
    return root


def tiny_config(run_dir: Path, dataset: tuple[Path, Path], **overrides):
    from fer_ros.training.config import config_from_dict

    values = {
        "run_dir": str(run_dir),
        "epochs": 1,
        "batch_size": 16,
        "progress": False,
        "num_threads": 1,
        "data": {"train_dir": str(dataset[0]), "val_dir": str(dataset[1]), "input_size": 32},
        "model": {"name": "fer_resnet", "kwargs": {"widths": [8, 8, 16, 16, 32]}},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(values.get(key), dict):
            values[key] = {**values[key], **value}
        else:
            values[key] = value
    return config_from_dict(values)
