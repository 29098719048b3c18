"""ONNX export round trip (torch vs onnxruntime, core registry loading) and the training CLIs."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="training tests need the 'train' extra (torch)")

import cv2  # noqa: E402
import onnxruntime as ort  # noqa: E402
from training_fixtures import make_image, tiny_config  # noqa: E402

from fer_ros.core.labels import EMOTION_LABELS  # noqa: E402
from fer_ros.training import augment as aug  # noqa: E402
from fer_ros.training.checkpoint import load_model  # noqa: E402
from fer_ros.training.export import export_checkpoint  # noqa: E402
from fer_ros.training.trainer import train  # noqa: E402


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, tiny_dataset):
    run = tmp_path_factory.mktemp("export_run")
    train(tiny_config(run, tiny_dataset, mode="scn"))
    return run / "best.pt"


def test_export_round_trip_matches_torch(tmp_path, checkpoint):
    out = tmp_path / "model.onnx"
    result = export_checkpoint(checkpoint, out)
    assert result.max_abs_diff < 1e-4
    model, config, _ = load_model(checkpoint)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    assert meta["labels"].split(",") == list(EMOTION_LABELS)
    assert meta["input_size"] == "32,32" and meta["colour"] == "gray" and meta["output"] == "probabilities"
    assert float(meta["normalisation_mean"]) == pytest.approx(127.5)
    assert float(meta["normalisation_std"]) == pytest.approx(63.75)
    provenance = json.loads(meta["provenance"])
    assert provenance["model"] == "fer_resnet" and provenance["mode"] == "scn" and provenance["epoch"] == 1
    x = np.random.default_rng(3).normal(size=(5, 1, 32, 32)).astype(np.float32)
    with torch.no_grad():
        expected = torch.softmax(model(torch.from_numpy(x)), dim=1).numpy()
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    assert np.abs(got - expected).max() < 1e-4


def test_flip_tta_export_averages_mirror(tmp_path, checkpoint):
    out = tmp_path / "flip.onnx"
    result = export_checkpoint(checkpoint, out, flip_tta=True)
    assert result.max_abs_diff < 1e-4 and json.loads(result.metadata["provenance"])["flip_tta_in_graph"]
    model, _, _ = load_model(checkpoint)
    x = np.random.default_rng(4).normal(size=(3, 1, 32, 32)).astype(np.float32)
    with torch.no_grad():
        t = torch.from_numpy(x)
        expected = 0.5 * (torch.softmax(model(t), 1) + torch.softmax(model(t.flip(3)), 1))
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x})[0]
    assert np.abs(got - expected.numpy()).max() < 1e-4


def test_core_classifier_loads_export_with_same_preprocessing(tmp_path, checkpoint):
    from fer_ros.core.classifiers import EmotionClassifier

    out = tmp_path / "model.onnx"
    export_checkpoint(checkpoint, out)
    classifier = EmotionClassifier.from_model(str(out))
    assert classifier.labels == EMOTION_LABELS and tuple(classifier.input_size) == (32, 32)
    chip = make_image(3, 32, np.random.default_rng(5))
    got = classifier.predict([cv2.cvtColor(chip, cv2.COLOR_GRAY2BGR)])[0]
    model, config, _ = load_model(checkpoint)
    x = aug.normalise(aug.to_float(torch.from_numpy(chip[None])), config.data.mean, config.data.std)
    with torch.no_grad():
        expected = torch.softmax(model(x), dim=1)[0].numpy()
    assert got.sum() == pytest.approx(1.0, abs=1e-5)
    assert np.abs(got - expected).max() < 1e-4


def test_export_cli_and_explain_cli(tmp_path, checkpoint, capsys):
    from fer_ros.cli import explain, export

    assert export.main([str(checkpoint), "--output", str(tmp_path / "m.onnx")]) == 0
    assert "sha256" in capsys.readouterr().out
    assert export.main([str(tmp_path / "missing.pt"), "--output", str(tmp_path / "x.onnx")]) == 1

    image_path = tmp_path / "face.png"
    cv2.imwrite(str(image_path), make_image(2, 48, np.random.default_rng(9)))
    png = tmp_path / "saliency.png"
    assert explain.main([str(image_path), "--model", str(checkpoint), "--output", str(png)]) == 0
    picture = cv2.imread(str(png))
    assert picture is not None and picture.shape[1] == 3 * 32 * 4
    assert explain.main([str(tmp_path / "nope.png"), "--model", str(checkpoint)]) == 1
    assert explain.main([str(image_path), "--model", str(checkpoint), "--target", "bored"]) == 1
    assert explain.main([str(image_path), "--model", str(checkpoint), "--detect"]) == 1  # noise: no face
    assert "no face found" in capsys.readouterr().err


def test_explain_detect_explains_the_face_not_the_whole_photo(tmp_path, checkpoint):
    import skimage.data

    from fer_ros.cli import explain

    photo = tmp_path / "astronaut.png"
    cv2.imwrite(str(photo), skimage.data.astronaut()[:, :, ::-1])
    whole, face = tmp_path / "whole.png", tmp_path / "face.png"
    assert explain.main([str(photo), "--model", str(checkpoint), "--output", str(whole)]) == 0
    assert explain.main([str(photo), "--model", str(checkpoint), "--output", str(face), "--detect"]) == 0
    size = 32 * 4  # tiny test model input x display scale
    whole_input = cv2.imread(str(whole))[28:, :size, 0].astype(int)
    face_input = cv2.imread(str(face))[28:, :size, 0].astype(int)
    # the astronaut's face fills the detected crop: it is brighter and differs from the whole photo
    assert np.abs(face_input - whole_input).mean() > 20 and face_input.mean() > whole_input.mean()


def test_guided_backprop_saliency_is_normalised_and_nonzero(checkpoint):
    from fer_ros.training.guided_backprop import guided_backprop

    model, _, _ = load_model(checkpoint)
    x = torch.randn(1, 1, 32, 32)
    saliency, cls, probs = guided_backprop(model, x)
    assert saliency.shape == (32, 32) and saliency.max() == pytest.approx(1.0) and saliency.min() == 0.0
    assert 0 <= cls < 7 and probs.sum() == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ValueError):
        guided_backprop(model, torch.randn(2, 1, 32, 32))


def test_train_cli_bad_config_is_clear_error(tmp_path, capsys):
    from fer_ros.cli import train as train_cli

    bad = tmp_path / "bad.yaml"
    bad.write_text("epochs: 1\noptim: {learning_rate: 3}\n")
    assert train_cli.main(["--config", str(bad)]) == 2
    assert "unknown OptimConfig key" in capsys.readouterr().err
    assert train_cli.main(["--config", str(tmp_path / "missing.yaml")]) == 2


def test_train_cli_overrides_reach_the_run(tmp_path, tiny_dataset):
    import yaml

    from fer_ros.cli import train as train_cli
    from fer_ros.training.config import config_to_dict

    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(config_to_dict(tiny_config(tmp_path / "ignored", tiny_dataset))))
    run = tmp_path / "run"
    assert train_cli.main(["--config", str(config), "--run-dir", str(run), "--device", "cpu", "--num-threads", "1",
                           "--train-subset", "21", "--epochs", "1", "--no-progress"]) == 0
    saved = json.loads((run / "config.json").read_text())
    assert saved["device"] == "cpu" and saved["num_threads"] == 1 and saved["data"]["train_subset"] == 21
    assert not (tmp_path / "ignored").exists()
