"""Model registry: lookup, sha256 checks, clear errors, models given by path with ONNX metadata."""

from __future__ import annotations

import shutil

import numpy as np
import onnx
import pytest

from fer_ros.core.classifiers import EmotionClassifier, GenderClassifier
from fer_ros.core.model_registry import (
    MODELS,
    ModelFileError,
    find_model_file,
    resolve_model,
    sha256_of,
)


def test_every_shipped_file_matches_its_sha256():
    for spec in MODELS.values():
        assert sha256_of(find_model_file(spec.file)) == spec.sha256, spec.name
        if spec.provenance is None:  # trained here: its training provenance travels in the file's metadata
            model = onnx.load(str(find_model_file(spec.file)))
            assert "epoch" in {p.key: p.value for p in model.metadata_props}["provenance"], spec.name
        else:
            assert spec.provenance.archive_sha256, spec.name


def test_emotion_model_carries_its_metadata():
    model = onnx.load(str(find_model_file(MODELS["mini-xception-fer2013"].file)))
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["labels"].split(",") == list(MODELS["mini-xception-fer2013"].labels)
    assert meta["input_size"] == "64,64" and meta["colour"] == "gray"
    n_params = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
    assert n_params < 58_423  # BatchNorm folded: fewer numbers than the Keras model's 58,423 parameters


def test_model_dir_env_wins(tmp_path, monkeypatch):
    spec = MODELS["dlib-gender-v1"]
    shutil.copy(find_model_file(spec.file), tmp_path / spec.file)
    monkeypatch.setenv("FER_ROS_MODEL_DIR", str(tmp_path))
    assert find_model_file(spec.file) == tmp_path / spec.file


def test_corrupt_model_names_file_and_fix(tmp_path, monkeypatch):
    spec = MODELS["dlib-gender-v1"]
    data = bytearray(find_model_file(spec.file).read_bytes())
    data[1000] ^= 0xFF
    (tmp_path / spec.file).write_bytes(bytes(data))
    monkeypatch.setenv("FER_ROS_MODEL_DIR", str(tmp_path))
    with pytest.raises(ModelFileError, match=r"gender-v1\.onnx.*fer-ros-models derive"):
        GenderClassifier.from_model("dlib-gender-v1")


def test_missing_path_names_the_fix(tmp_path):
    with pytest.raises(ModelFileError, match="fer-ros-models derive"):
        EmotionClassifier.from_model(str(tmp_path / "nope.onnx"))


def test_garbage_onnx_by_path_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match="bad.onnx"):
        EmotionClassifier.from_model(str(bad))


def test_wrong_kind_is_rejected():
    with pytest.raises(ValueError, match="gender model"):
        resolve_model("dlib-gender-v1", "emotion")


def test_model_by_path_uses_its_metadata(tmp_path):
    """An exported model (as fer-ros-export writes it) loads by path with its own labels and preprocessing."""
    src = onnx.load(str(find_model_file(MODELS["mini-xception-fer2013"].file)))
    del src.metadata_props[:]
    for key, value in {"labels": "a,b,c,d,e,f,g", "input_size": "64,64", "colour": "gray",
                       "normalisation_mean": "0", "normalisation_std": "255"}.items():
        entry = src.metadata_props.add()
        entry.key, entry.value = key, value
    path = tmp_path / "exported.onnx"
    onnx.save(src, str(path))
    clf = EmotionClassifier.from_model(str(path))
    assert clf.labels == ("a", "b", "c", "d", "e", "f", "g")
    x = clf.preprocess([np.full((64, 64), 255, np.uint8)])
    np.testing.assert_allclose(x, 1.0)
    assert clf.predict([np.zeros((64, 64), np.uint8)]).shape == (1, 7)


def test_logits_output_gets_a_softmax(tmp_path):
    src = onnx.load(str(find_model_file(MODELS["mini-xception-fer2013"].file)))
    # drop the final Softmax: the graph now outputs logits
    softmax = next(n for n in src.graph.node if n.op_type == "Softmax")
    identity = next(n for n in src.graph.node if n.op_type == "Identity")
    identity.input[0] = softmax.input[0]
    src.graph.node.remove(softmax)
    entry = src.metadata_props.add()
    entry.key, entry.value = "output", "logits"
    path = tmp_path / "logits.onnx"
    onnx.save(src, str(path))
    chip = [np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)]
    p_logits = EmotionClassifier.from_model(str(path)).predict(chip)
    p_ref = EmotionClassifier.from_model("mini-xception-fer2013").predict(chip)
    np.testing.assert_allclose(p_logits, p_ref, atol=1e-5)
