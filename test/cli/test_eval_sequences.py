"""fer-ros-eval --mode sequences: single-frame model on the last frame, or the temporal model over the frames."""

from __future__ import annotations

import json

import cv2
import pytest
from testsupport import write_face_sequences

from fer_ros.cli import eval as fer_eval
from fer_ros.core.model_registry import DEFAULT_EMOTION_MODEL
from fer_ros.ros.synthetic_stream import astronaut_bgr


@pytest.fixture(scope="module")
def sequences(tmp_path_factory):
    return write_face_sequences(tmp_path_factory.mktemp("seq"))


def run(args: list[str], out) -> dict:
    assert fer_eval.main([*args, "--json", str(out), "--quiet"]) == 0
    return json.loads(out.read_text())


def test_sequences_mode_with_and_without_the_temporal_model_keeps_the_json_keys(sequences, tmp_path):
    crops = tmp_path / "crops" / "happy"
    crops.mkdir(parents=True)
    cv2.imwrite(str(crops / "a.png"), astronaut_bgr())
    reference = run([str(tmp_path / "crops"), "--task", "emotion"], tmp_path / "crops.json")

    single = run([str(sequences), "--task", "emotion", "--mode", "sequences"], tmp_path / "single.json")
    temporal = run([str(sequences), "--task", "emotion", "--mode", "sequences", "--temporal-model", "mgln-ckplus"],
                   tmp_path / "temporal.json")
    for result in (single, temporal):
        assert set(result) == set(reference)
        assert result["n"] == 4 and result["faces_found"] == 4 and result["mode"] == "sequences"
        assert sum(map(sum, result["confusion"])) == 4
        assert result["per_class"]["happy"]["n"] == 2 and result["per_class"]["surprise"]["n"] == 2
    assert single["model"] == DEFAULT_EMOTION_MODEL and temporal["model"] == "mgln-ckplus"
    # the smiling astronaut's last frame is happy for the single-frame model
    assert single["confusion"][3][3] == 2


def test_window_longer_than_the_sequence_leaves_it_unanswered(sequences, tmp_path):
    result = run([str(sequences), "--task", "emotion", "--mode", "sequences", "--temporal-model", "mgln-ckplus",
                  "--temporal-window", "9"], tmp_path / "long.json")
    assert result["faces_found"] == 0 and result["accuracy"] == 0.0


def test_temporal_model_needs_sequences_mode(sequences, tmp_path, capsys):
    with pytest.raises(SystemExit):
        fer_eval.main([str(sequences), "--task", "emotion", "--temporal-model", "mgln-ckplus",
                       "--json", str(tmp_path / "x.json")])
    assert "--mode sequences" in capsys.readouterr().err
