"""scripts/select_emotion_ensemble.py scores ensembles as the built graph computes them, and runs end to end."""

from __future__ import annotations

import importlib.util
import json
import sys

import cv2
import numpy as np
import pytest
import skimage.data

pytest.importorskip("onnx", reason="building ensemble graphs needs onnx")

from testsupport import REPO  # noqa: E402

from fer_ros.core.classifiers import EmotionClassifier  # noqa: E402
from fer_ros.core.labels import EMOTION_LABELS  # noqa: E402
from fer_ros.core.model_registry import find_model_file  # noqa: E402
from fer_ros.training.ensemble import Member, build_ensemble  # noqa: E402

SCRIPT = REPO / "scripts" / "select_emotion_ensemble.py"
spec = importlib.util.spec_from_file_location("select_emotion_ensemble", SCRIPT)
select = importlib.util.module_from_spec(spec)
sys.modules["select_emotion_ensemble"] = select
spec.loader.exec_module(select)

RESNET = find_model_file("emotion_fer_resnet_fer2013.onnx")
SEED = find_model_file("emotion_mini_xception_fer2013.onnx")
PRIOR = np.array([4.0, 1.0, 4.0, 7.0, 5.0, 3.0, 5.0])


def face_chips(n: int, size: int) -> list[np.ndarray]:
    face = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)[30:230, 140:320]
    return [cv2.resize(np.roll(face, 9 * i, axis=1), (size, size), interpolation=cv2.INTER_LINEAR) for i in range(n)]


@pytest.mark.parametrize("pooling,flip,tau", [("log", True, 1.0), ("mean", False, 0.5), ("log", False, 0.0)])
def test_scoring_matches_the_built_graph(tmp_path, pooling, flip, tau):
    chips = face_chips(6, 40)
    graph = EmotionClassifier.from_model(str(build_ensemble(
        [Member(RESNET, 0.6), Member(SEED, 0.4)], tmp_path / "e.onnx", pooling=pooling, flip=flip,
        prior=tuple(PRIOR), prior_correction=tau)))
    graph.temperature = 1.0
    resnet, seed = (EmotionClassifier.from_model(str(p)) for p in (RESNET, SEED))
    views = []
    for mirrored in (False, True) if flip else (False,):
        view = [cv2.flip(c, 1) if mirrored else c for c in chips]
        views.append(select.pool([resnet.predict(view), seed.predict(view)], [0.6, 0.4], pooling))
    expected = select.prior_corrected(sum(views) / len(views), PRIOR, tau)
    assert np.abs(graph.predict(chips) - expected).max() < 0.03  # in-graph Resize vs cv2's on uint8


def test_paired_z_counts_only_the_disagreements():
    seed = np.array([True] * 50 + [False] * 50)
    same = seed.copy()
    better = seed.copy()
    better[50:60] = True
    assert select.paired_z(same, seed) == 0.0
    # 10 wins, 0 losses of 100: difference 0.1, paired standard error sqrt(10 - 10**2 / 100) / 100
    assert select.paired_z(better, seed) == pytest.approx(0.1 / (np.sqrt(9) / 100), rel=1e-6)
    assert select.paired_z(~better, ~seed) < 0


def test_selection_runs_on_a_small_dev_layout(tmp_path, monkeypatch):
    monkeypatch.setattr(select, "CACHE", tmp_path / "cache")
    data = tmp_path / "data"
    photo = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
    for index, label in enumerate(EMOTION_LABELS):
        for sub, count in (("fer2013/train", index + 1), ("fer2013/val", 1)):
            (data / sub / label).mkdir(parents=True, exist_ok=True)
            for i, chip in enumerate(face_chips(count, 48)):
                cv2.imwrite(str(data / sub / label / f"{i}.png"), cv2.cvtColor(chip, cv2.COLOR_BGR2GRAY))
        (data / "tcce_dev" / label).mkdir(parents=True)
        cv2.imwrite(str(data / "tcce_dev" / label / "p.jpg"), photo if label != "fear" else photo * 0)
    ferplus = data / "ferplus" / "val"
    ferplus.mkdir(parents=True)
    rows = []
    for i, chip in enumerate(face_chips(7, 48)):
        cv2.imwrite(str(ferplus / f"fer{i:07d}.png"), cv2.cvtColor(chip, cv2.COLOR_BGR2GRAY))
        votes = [0] * 10
        votes[i] = 10
        rows.append(f'fer{i:07d}.png,"(0, 0, 48, 48)",' + ",".join(map(str, votes)))
    (ferplus / "label.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "sweep.json"
    assert select.main(["--seed", str(SEED), "--candidate", str(RESNET), "--data", str(data), "--weights", "0.5",
                        "--prior-corrections", "0,1", "--min-z", "-100", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    names = [c["name"] for c in result["candidates"]]
    # singles (2 models x flip x 2 TAU) and both orders of the pair (x 2 poolings x flip x 2 TAU)
    assert len(names) == 2 * 2 * 2 + 2 * 2 * 2 * 2 and len(set(names)) == len(names)
    seed_alone = next(c for c in result["candidates"] if c["members"] == [SEED.name] and not c["flip"]
                      and not c["prior_correction"])
    assert seed_alone["accuracy"] == pytest.approx(result["seed"]) and seed_alone["tcce_margin_photos"] == 0
    assert all(c["accuracy"]["tcce_dev_photos"] <= 6 / 7 for c in result["candidates"])  # the black photo is wrong
    assert (tmp_path / "cache" / "inputs.pkl").is_file()
