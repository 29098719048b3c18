"""Confidence calibration: ECE, temperature fitting, and the core classifier applying a file's temperature."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import onnx
import pytest

from fer_ros.cli import eval as fer_eval
from fer_ros.core.calibration import apply_temperature, calibration, fit_temperature, softmax
from fer_ros.core.classifiers import EmotionClassifier
from fer_ros.core.model_registry import ModelFileError, find_model_file


def test_ece_of_a_known_case():
    # 4 samples at confidence 0.9 (3 right) and 2 at 0.6 (1 right): ECE = 4/6 * 0.15 + 2/6 * 0.1
    p = np.array([[0.9, 0.1]] * 4 + [[0.6, 0.4]] * 2)
    y = np.array([0, 0, 0, 1, 0, 1])
    cal = calibration(p, y, bins=10)
    assert cal.ece == pytest.approx(4 / 6 * 0.15 + 2 / 6 * 0.1)
    assert cal.counts[9] == 4 and cal.counts[6] == 2 and sum(cal.counts) == 6
    assert cal.accuracy[9] == pytest.approx(0.75) and cal.confidence[6] == pytest.approx(0.6)
    assert cal.accuracy[0] is None


def test_fit_temperature_recovers_the_true_one():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4000, 7)) * 3.0
    true_t = 2.5  # labels drawn from softmax(logits / 2.5): the raw softmax is over-confident
    labels = np.array([rng.choice(7, p=row) for row in softmax(logits / true_t)])
    fitted = fit_temperature(softmax(logits), labels)
    assert fitted == pytest.approx(true_t, rel=0.1)
    before = calibration(softmax(logits), labels)
    after = calibration(apply_temperature(softmax(logits), fitted), labels)
    assert after.ece < before.ece / 2 and after.nll < before.nll


def test_apply_temperature_keeps_the_ranking():
    p = softmax(np.array([[2.0, 1.0, 0.0]]))
    soft = apply_temperature(p, 2.0)
    assert np.allclose(soft, softmax(np.array([[1.0, 0.5, 0.0]])), atol=1e-6)
    assert apply_temperature(np.array([[2.0, 1.0, 0.0]]), 2.0, logits=True) == pytest.approx(soft)
    with pytest.raises(ValueError):
        apply_temperature(p, 0.0)


def with_temperature(tmp_path, value: str):
    proto = onnx.load(str(find_model_file("emotion_fer_resnet_fer2013.onnx")))
    entry = proto.metadata_props.add()
    entry.key, entry.value = "temperature", value
    path = tmp_path / f"t{value}.onnx"
    onnx.save(proto, str(path))
    return path


def test_classifier_applies_the_file_temperature(tmp_path):
    rng = np.random.default_rng(1)
    chips = [rng.integers(0, 255, (48, 48, 3), dtype=np.uint8) for _ in range(5)]
    plain = EmotionClassifier.from_model("fer-resnet-fer2013")
    assert plain.temperature == 1.0
    warm = EmotionClassifier.from_model(str(with_temperature(tmp_path, "2")))
    assert warm.temperature == 2.0
    assert np.allclose(warm.predict(chips), apply_temperature(plain.predict(chips), 2.0), atol=1e-5)
    with pytest.raises(ModelFileError, match="temperature"):
        EmotionClassifier.from_model(str(with_temperature(tmp_path, "-1")))


def test_registry_model_reads_the_temperature_of_its_file(tmp_path, monkeypatch):
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(with_temperature(tmp_path, "0.5"), folder / "emotion_fer_resnet_fer2013.onnx")
    from fer_ros.core import model_registry

    monkeypatch.setenv("FER_ROS_MODEL_DIR", str(folder))
    monkeypatch.setattr(model_registry, "verify_file", lambda path, sha256: None)  # the copy has a new sha256
    assert EmotionClassifier.from_model("fer-resnet-fer2013").temperature == 0.5


def test_eval_calibration_and_fitted_temperature(tmp_path, capsys):
    import skimage.data

    face = np.ascontiguousarray(skimage.data.astronaut()[40:200, 150:310, ::-1])
    for label in ("happy", "sad"):
        (tmp_path / "ds" / label).mkdir(parents=True)
    for i in range(4):
        cv2.imwrite(str(tmp_path / "ds" / "happy" / f"{i}.png"), np.roll(face, 3 * i, axis=1))
    cv2.imwrite(str(tmp_path / "ds" / "sad" / "0.png"), face)  # a confident wrong answer
    out = tmp_path / "r.json"
    assert fer_eval.main([str(tmp_path / "ds"), "--task", "emotion", "--json", str(out), "--quiet",
                          "--model", "fer-resnet-fer2013", "--fit-temperature", "--calibration"]) == 0
    result = json.loads(out.read_text())
    cal = result["calibration"]
    assert sum(cal["counts"]) == 5 and result["temperature"] == 1.0
    assert 0.0 < cal["ece"] < 1.0
    assert result["calibration_fitted"]["nll"] <= cal["nll"] + 1e-9
    assert (tmp_path / "r_reliability.png").stat().st_size > 0
    assert "fitted temperature" in capsys.readouterr().out
    # the same run at a forced temperature reports it and changes the NLL, not the accuracy
    out2 = tmp_path / "r2.json"
    assert fer_eval.main([str(tmp_path / "ds"), "--task", "emotion", "--json", str(out2), "--quiet",
                          "--model", "fer-resnet-fer2013", "--temperature", "3"]) == 0
    forced = json.loads(out2.read_text())
    assert forced["temperature"] == 3.0 and forced["accuracy"] == result["accuracy"]
    assert forced["calibration"]["nll"] != pytest.approx(cal["nll"])


def test_eval_reads_a_ferplus_folder_with_the_majority_protocol(tmp_path):
    import skimage.data

    face = cv2.resize(np.ascontiguousarray(skimage.data.astronaut()[40:200, 150:310, ::-1]), (48, 48))
    rows = {"a.png": "0,9,0,0,0,0,0,0,1,0", "b.png": "0,5,0,0,0,0,0,0,5,0", "c.png": "0,0,0,8,0,0,0,0,2,0",
            "d.png": "0,0,0,0,0,0,0,0,0,10"}
    lines = []
    for name, votes in rows.items():
        cv2.imwrite(str(tmp_path / name), face)
        lines.append(f'{name},"(0, 0, 48, 48)",{votes}')
    (tmp_path / "label.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "fp.json"
    assert fer_eval.main([str(tmp_path), "--task", "emotion", "--json", str(out), "--quiet"]) == 0
    result = json.loads(out.read_text())
    # kept by the majority rule: a (happy) and c (sad); b is a 5/5 tie with unknown, d is not a face
    assert result["protocol"] == "ferplus-majority" and result["n"] == 2
    assert result["per_class"]["happy"]["n"] == 1 and result["per_class"]["sad"]["n"] == 1
    assert result["accuracy"] == 0.5  # the same happy face twice: one of them is labelled sad
