"""Folder loading, synthetic label noise and batch augmentation."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="training tests need the 'train' extra (torch)")

from fer_ros.core.labels import EMOTION_LABELS  # noqa: E402
from fer_ros.training.augment import augment, to_float  # noqa: E402
from fer_ros.training.config import AugmentConfig  # noqa: E402
from fer_ros.training.data import inject_label_noise, load_image_folder, stratified_subset  # noqa: E402


def test_label_noise_changes_exactly_the_requested_fraction():
    targets = np.repeat(np.arange(7), 100)
    noisy = inject_label_noise(targets, 0.2, 7, seed=1234)
    assert (noisy != targets).sum() == 140
    assert np.array_equal(noisy, inject_label_noise(targets, 0.2, 7, seed=1234))
    assert not np.array_equal(noisy, inject_label_noise(targets, 0.2, 7, seed=1))
    assert noisy.min() >= 0 and noisy.max() < 7
    with pytest.raises(ValueError):
        inject_label_noise(targets, 1.5, 7, 0)


def test_stratified_subset_keeps_class_proportions():
    targets = np.array([0] * 800 + [1] * 200)
    keep = stratified_subset(targets, 100, seed=0)
    assert len(keep) == 100 and (targets[keep] == 1).sum() == 20


def test_load_image_folder(tiny_dataset):
    data = load_image_folder(tiny_dataset[0], EMOTION_LABELS, 32)
    assert data.images.shape == (42, 32, 32) and data.images.dtype == np.uint8
    assert np.bincount(data.targets).tolist() == [6] * 7
    with pytest.raises(FileNotFoundError):
        load_image_folder(tiny_dataset[0] / "missing", EMOTION_LABELS, 32)
    with pytest.raises(ValueError, match="not in labels"):
        load_image_folder(tiny_dataset[0], EMOTION_LABELS[:3], 32)


def test_flip_only_augmentation_mirrors_exactly():
    images = torch.randint(0, 256, (64, 16, 16), dtype=torch.uint8)
    x = to_float(images)
    cfg = AugmentConfig(hflip=True, rotation_deg=0, scale=0, translate_px=0, brightness=0, contrast=0)
    out = augment(x, cfg, torch.Generator().manual_seed(0))
    same = torch.isclose(out, x, atol=1e-5).flatten(1).all(1)
    mirrored = torch.isclose(out, x.flip(3), atol=1e-5).flatten(1).all(1)
    assert bool((same | mirrored).all()) and 10 < int(mirrored.sum()) < 54


def test_full_augmentation_stays_in_range_and_varies():
    x = to_float(torch.randint(0, 256, (32, 40, 40), dtype=torch.uint8))
    out = augment(x, AugmentConfig(erase_prob=0.5), torch.Generator().manual_seed(1))
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    assert not torch.allclose(out, x)
