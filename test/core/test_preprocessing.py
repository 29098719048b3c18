"""Exact preprocessing of the classifiers and the crop/align module."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fer_ros.core.classifiers import EmotionClassifier, GenderClassifier
from fer_ros.core.face_crop import MEAN_FACE_5, chip_transform, crop_chip, get_policy, similarity_transform
from fer_ros.core.results import Detection


@pytest.fixture(scope="module")
def emotion():
    return EmotionClassifier.from_model("mini-xception-fer2013")


@pytest.fixture(scope="module")
def gender():
    return GenderClassifier.from_model("dlib-gender-v1")


def test_emotion_preprocessing_is_arriagas(emotion):
    rng = np.random.default_rng(0)
    face48 = rng.integers(0, 256, (48, 48), dtype=np.uint8)
    x = emotion.preprocess([face48])
    expected = cv2.resize(face48, (64, 64), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255.0
    expected = (expected - 0.5) * 2.0
    assert x.shape == (1, 1, 64, 64) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, 0], expected, atol=1e-6)
    # a BGR chip with three equal channels gives the same input as the gray image
    np.testing.assert_allclose(emotion.preprocess([cv2.cvtColor(face48, cv2.COLOR_GRAY2BGR)]), x, atol=1e-6)


def test_gender_preprocessing_is_dlib_manifest(gender):
    rng = np.random.default_rng(1)
    chip = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)  # BGR
    x = gender.preprocess([chip])
    rgb = chip[:, :, ::-1].astype(np.float32)
    expected = (rgb - np.array([122.781998, 117.000999, 104.297997], np.float32)) / 256.0
    assert x.shape == (1, 3, 32, 32)
    np.testing.assert_allclose(x[0], expected.transpose(2, 0, 1), atol=1e-6)


def test_batch_equals_single_predictions(emotion, gender):
    rng = np.random.default_rng(2)
    chips = [rng.integers(0, 256, (70 + 5 * i, 60 + 3 * i, 3), dtype=np.uint8) for i in range(4)]
    for clf in (emotion, gender):
        batch = clf.predict(chips)
        single = np.vstack([clf.predict([c]) for c in chips])
        np.testing.assert_allclose(batch, single, atol=1e-5)
        np.testing.assert_allclose(batch.sum(axis=1), 1.0, atol=1e-5)
    assert emotion.predict([]).shape == (0, 7)


def test_tight_crop_equals_slice_and_resize():
    rng = np.random.default_rng(3)
    frame = rng.integers(0, 256, (200, 300, 3), dtype=np.uint8)
    det = Detection(box=(40.0, 30.0, 96.0, 96.0), score=1.0)
    chip = crop_chip(frame, det, get_policy("tight"), (64, 64))
    expected = cv2.resize(frame[30:126, 40:136], (64, 64), interpolation=cv2.INTER_LINEAR)
    assert np.abs(chip.astype(int) - expected.astype(int)).max() <= 1


def test_arriaga_offsets_grow_the_box_and_clip_at_the_frame():
    det = Detection(box=(100.0, 100.0, 80.0, 80.0), score=1.0)
    m = chip_transform(det, get_policy("arriaga"), (64, 64), (480, 640, 3))
    # frame point (80, 60) = box corner minus offsets (20, 40) maps to the chip's top-left pixel edge
    corner = m @ np.array([80.0 - 0.5, 60.0 - 0.5, 1.0])
    np.testing.assert_allclose(corner, [-0.5, -0.5], atol=1e-9)
    det_edge = Detection(box=(5.0, 10.0, 80.0, 80.0), score=1.0)
    m = chip_transform(det_edge, get_policy("arriaga"), (64, 64), (480, 640, 3))
    np.testing.assert_allclose(m @ np.array([-0.5, -0.5, 1.0]), [-0.5, -0.5], atol=1e-9)


def test_similarity_transform_recovers_a_known_transform():
    angle, scale, t = 0.3, 1.7, np.array([12.0, -5.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    src = np.random.default_rng(4).uniform(0, 100, (5, 2))
    dst = src @ rot.T + t
    m = similarity_transform(src, dst)
    np.testing.assert_allclose(m[:, :2], rot, atol=1e-9)
    np.testing.assert_allclose(m[:, 2], t, atol=1e-9)


def test_aligned_chip_puts_landmarks_on_the_mean_face():
    policy = get_policy("dlib-aligned")
    angle, scale = 0.25, 110.0  # a tilted face about 110 px wide
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    landmarks = (MEAN_FACE_5 @ rot.T + np.array([200.0, 90.0])).astype(np.float32)
    det = Detection(box=(190.0, 80.0, 110.0, 130.0), score=1.0, landmarks=landmarks)
    m = chip_transform(det, policy, (32, 32), (512, 512, 3))
    mapped = np.c_[landmarks, np.ones(5)] @ m.T
    target = (MEAN_FACE_5 + 0.2) / 1.4 * 32  # dlib: (shape + padding) / (1 + 2 padding) * size
    np.testing.assert_allclose(mapped, target, atol=1e-3)
    assert abs(mapped[0, 1] - mapped[1, 1]) < 1e-3  # eyes level although the face was tilted


def test_aligned_policy_falls_back_to_the_box_without_landmarks():
    rng = np.random.default_rng(5)
    frame = rng.integers(0, 256, (200, 200, 3), dtype=np.uint8)
    det = Detection(box=(50.0, 40.0, 100.0, 100.0), score=1.0)
    chip = crop_chip(frame, det, get_policy("dlib-aligned"), (32, 32))
    assert chip.shape == (32, 32, 3)


def test_large_downscale_is_antialiased():
    # a fine checkerboard face region shrunk 8x must average to mid-gray, not alias to black/white
    board = (np.indices((256, 256)).sum(axis=0) % 2 * 255).astype(np.uint8)
    frame = cv2.cvtColor(board, cv2.COLOR_GRAY2BGR)
    chip = crop_chip(frame, Detection(box=(0.0, 0.0, 256.0, 256.0), score=1.0), get_policy("tight"), (32, 32))
    assert abs(float(chip.mean()) - 127.5) < 3 and chip.std() < 10


def test_unknown_policy_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown crop policy"):
        get_policy("nope")


def test_square_policy_squares_the_box_around_its_centre():
    det = Detection(box=(100.0, 50.0, 80.0, 100.0), score=1.0)
    m = chip_transform(det, get_policy("square"), (64, 64), (480, 640, 3))
    # the square box is x 90..190, y 50..150: its corners map to the chip's pixel edges
    np.testing.assert_allclose(m @ np.array([90.0 - 0.5, 50.0 - 0.5, 1.0]), [-0.5, -0.5], atol=1e-9)
    np.testing.assert_allclose(m @ np.array([190.0 - 0.5, 150.0 - 0.5, 1.0]), [63.5, 63.5], atol=1e-9)
