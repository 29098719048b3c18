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


def test_weights_altered_but_loadable_model_is_rejected_by_its_sha256(tmp_path, monkeypatch):
    """A registry file whose weights changed (still a valid ONNX model that runs) must not be used."""
    spec = MODELS["fer-resnet-fer2013"]
    model = onnx.load(str(find_model_file(spec.file)))
    weights = max(model.graph.initializer, key=lambda t: int(np.prod(t.dims)))
    values = onnx.numpy_helper.to_array(weights).copy()
    values.flat[0] += 0.5
    weights.CopyFrom(onnx.numpy_helper.from_array(values, weights.name))
    altered = tmp_path / spec.file
    onnx.save(model, str(altered))
    # the altered file loads and runs: only the sha256 check can tell it from the shipped one
    by_path = EmotionClassifier.from_model(str(altered))
    assert by_path.predict([np.full((40, 40), 128, np.uint8)]).shape == (1, 7)
    monkeypatch.setenv("FER_ROS_MODEL_DIR", str(tmp_path))
    assert find_model_file(spec.file) == altered
    with pytest.raises(ModelFileError, match=r"emotion_fer_resnet_fer2013\.onnx is corrupt or changed: sha256"):
        resolve_model("fer-resnet-fer2013", "emotion")
    with pytest.raises(ModelFileError, match="sha256"):
        EmotionClassifier.from_model("fer-resnet-fer2013")


def exported_copy(tmp_path, metadata: dict[str, str], name: str = "custom.onnx", base: str = "mini-xception-fer2013"):
    """A shipped model saved under ``name`` with its metadata replaced by ``metadata``."""
    src = onnx.load(str(find_model_file(MODELS[base].file)))
    del src.metadata_props[:]
    for key, value in metadata.items():
        entry = src.metadata_props.add()
        entry.key, entry.value = key, value
    path = tmp_path / name
    onnx.save(src, str(path))
    return path


GOOD = {"labels": "a,b,c,d,e,f,g", "input_size": "64,64", "colour": "gray"}


@pytest.mark.parametrize(("changes", "message"), [
    ({"normalisation_mean": "127.5,127.5"}, r"normalisation_mean has 2 values for 1 input channel"),
    ({"colour": "rgb", "normalisation_std": "1,2"}, r"normalisation_std has 2 values for 3 input channel"),
    ({"colour": "rgb"}, r"input has 1 channels but colour=rgb"),
    ({"normalisation_std": "0"}, r"normalisation_std=\(0.0,\) contains 0"),
    ({"normalisation_mean": "half"}, r"normalisation_mean='half' is not a comma-separated list"),
    ({"input_size": "0,64"}, r"input_size=\(0, 64\) must be width,height"),
    ({"input_size": "64,64,3"}, r"input_size='64,64,3'"),
    ({"input_size": "63.5"}, r"input_size='63.5'"),
    ({"input_size": "48,48"}, r"graph input height is 64 px but input_size=\(48, 48\)"),
    ({"output_name": "scores"}, r"output_name='scores' is not an output of the graph"),
    ({"output": "softmax"}, r"output='softmax', expected one of probabilities, logits"),
    ({"labels": "a,b,c"}, r"has 7 scores but 3 labels"),
    ({"labels": "a,b,c,d,e,f,f"}, r"labels=.* must be non-empty, unique"),
    ({"colour": "hsv"}, r"colour='hsv'"),
    ({"face_crop": "oval"}, r"face_crop: unknown crop policy 'oval'"),
])
def test_bad_metadata_is_a_clear_error_at_load(tmp_path, changes, message):
    path = exported_copy(tmp_path, {**GOOD, **changes}, name="bad_meta.onnx")
    with pytest.raises(ModelFileError, match=r"bad_meta\.onnx") as info:
        EmotionClassifier.from_model(str(path))
    assert info.match(message)


def test_good_metadata_with_a_named_output_loads(tmp_path):
    graph_output = onnx.load(str(find_model_file(MODELS["mini-xception-fer2013"].file))).graph.output[0].name
    path = exported_copy(tmp_path, {**GOOD, "output_name": graph_output, "normalisation_mean": "0",
                                    "normalisation_std": "255"})
    clf = EmotionClassifier.from_model(str(path))
    assert clf.output_name == graph_output and clf.labels == tuple("abcdefg")


def test_every_registry_classifier_passes_the_load_checks():
    for spec in MODELS.values():
        if spec.kind in ("emotion", "gender"):
            cls = EmotionClassifier if spec.kind == "emotion" else GenderClassifier
            assert cls.from_model(spec.name).labels == spec.labels


def test_custom_labels_survive_pipeline_and_tracker(tmp_path):
    """A model with its own labels: the pipeline's faces and the tracker's output keep them."""
    import skimage.data

    from fer_ros.core.config import PipelineConfig
    from fer_ros.core.pipeline import Pipeline
    from fer_ros.core.tracking import Tracker

    labels = ("calm", "joy", "anger", "fright", "grief", "awe", "loathing")
    path = exported_copy(tmp_path, {"labels": ",".join(labels), "input_size": "64,64", "colour": "gray"})
    pipe = Pipeline(PipelineConfig(emotion_model=str(path), gender_model=""))
    image = np.ascontiguousarray(skimage.data.astronaut()[:, :, ::-1])
    result = pipe.process(image)
    assert result.emotion_labels == labels and result.faces[0].emotion_labels == labels
    tracker = Tracker()
    for _ in range(3):
        face = tracker.update(pipe.process(image).faces)[0]
        assert face.emotion == labels[int(np.argmax(face.emotion_scores))]
        assert face.emotion in labels
