"""FER+ read natively: label.csv parsing, the three target rules, label order, images, and training on it."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from training_fixtures import make_image

from fer_ros.core.labels import EMOTION_LABELS
from fer_ros.training.ferplus import (
    FERPLUS_COLUMNS,
    ferplus_items,
    ferplus_labels,
    ferplus_targets,
    read_label_csv,
)

# votes in FER+ order: neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF
ROWS = {
    "clear_neutral.png": [6, 0, 1, 1, 0, 0, 0, 0, 2, 0],  # singles dropped: 6 of 8 -> neutral
    "tie.png": [4, 0, 0, 1, 3, 2, 0, 0, 0, 0],  # 4 of 9 remaining: not > 50 % -> dropped
    "anger.png": [0, 0, 0, 2, 7, 1, 0, 0, 0, 0],  # 7 of 9 -> angry
    "unknown.png": [1, 0, 0, 0, 0, 0, 0, 2, 7, 0],  # top is unknown -> dropped
    "not_a_face.png": [0, 0, 0, 0, 0, 0, 0, 0, 0, 10],  # NF -> dropped
    "contempt.png": [2, 0, 0, 0, 0, 0, 0, 8, 0, 0],  # contempt: a class only when asked for
    "fear_surprise.png": [0, 0, 4, 0, 0, 0, 6, 0, 0, 0],  # 6 of 10 -> fear; distribution 0.4 / 0.6
}


def write_ferplus(root: Path, rows: dict[str, list[int]] = ROWS, size: int = 48) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    lines = []
    for i, (name, votes) in enumerate(rows.items()):
        cv2.imwrite(str(root / name), make_image(i % len(EMOTION_LABELS), size, rng))
        lines.append(f'{name},"(0, 0, {size}, {size})",' + ",".join(str(v) for v in votes))
    (root / "label.csv").write_text("\n".join(lines) + "\n")
    return root


def test_read_label_csv(tmp_path):
    rows = read_label_csv(write_ferplus(tmp_path / "fp") / "label.csv")
    assert [r.name for r in rows] == list(ROWS)
    assert rows[0].box == (0, 0, 48, 48)
    assert rows[2].votes.tolist() == ROWS["anger.png"]


@pytest.mark.parametrize("line, message", [
    ('a.png,"(0, 0, 48, 48)",1,2,3', "expected 12 fields"),
    ('a.png,"(0, 0, 48, 48)",1,2,3,4,5,6,7,8,9,x', "not integers"),
    ('a.png,"(0, 0, 48)",1,2,3,4,5,6,7,8,9,0', "bad face box"),
])
def test_read_label_csv_names_the_bad_line(tmp_path, line, message):
    path = tmp_path / "label.csv"
    path.write_text('ok.png,"(0, 0, 48, 48)",10,0,0,0,0,0,0,0,0,0\n' + line + "\n")
    with pytest.raises(ValueError, match=rf"label.csv:2: .*{message}"):
        read_label_csv(path)


def votes() -> np.ndarray:
    return np.array(list(ROWS.values()))


def test_majority_rule_of_the_paper():
    keep, hard, soft = ferplus_targets(votes(), "majority")
    assert keep.tolist() == [True, False, True, False, False, False, True]
    assert [EMOTION_LABELS[i] for i in hard] == ["neutral", "angry", "fear"]
    assert np.allclose(soft, np.eye(7)[hard])
    keep8, hard8, _ = ferplus_targets(votes(), "majority", contempt=True)
    assert keep8.tolist() == [True, False, True, False, False, True, True]
    assert ferplus_labels(True)[hard8[2]] == "contempt"


def test_majority_keeps_single_votes_when_asked():
    # without dropping single votes, "tie" has 4 of 10 and "clear_neutral" 6 of 10
    keep, _, _ = ferplus_targets(votes(), "majority", drop_single_votes=False)
    assert keep.tolist() == [True, False, True, False, False, False, True]
    keep, _, _ = ferplus_targets(np.array([[5, 1, 1, 1, 1, 1, 0, 0, 0, 0]]), "majority", drop_single_votes=False)
    assert not keep[0]  # 5 of 10 is not more than half
    keep, _, _ = ferplus_targets(np.array([[5, 1, 1, 1, 1, 1, 0, 0, 0, 0]]), "majority")
    assert keep[0]  # singles dropped: 5 of 5


@pytest.mark.parametrize("target", ["distribution", "probability"])
def test_distribution_is_normalised_votes_in_our_label_order(target):
    keep, hard, soft = ferplus_targets(votes(), target)
    # kept: every row whose class votes are at least half of the (single-vote-free) votes; for 7 classes
    # contempt votes are not class votes, so the contempt row goes
    assert keep.tolist() == [True, True, True, False, False, False, True]
    rows = dict(zip([n for n, k in zip(ROWS, keep) if k], soft))
    assert np.allclose(rows["tie.png"], [3 / 9, 2 / 9, 0, 0, 0, 0, 4 / 9])  # angry, disgust, ..., neutral
    assert np.allclose(rows["fear_surprise.png"][[2, 5]], [0.6, 0.4])
    assert np.allclose(soft.sum(axis=1), 1.0) and soft.dtype == np.float32
    assert [EMOTION_LABELS[i] for i in hard] == ["neutral", "neutral", "angry", "fear"]
    keep8, _, soft8 = ferplus_targets(votes(), target, contempt=True)
    assert keep8[5] and soft8.shape[1] == 8 and np.allclose(soft8[3], [0, 0, 0, 0, 0, 0, 0.2, 0.8])


def test_unknown_target_is_an_error():
    with pytest.raises(ValueError, match="majority, distribution, probability"):
        ferplus_targets(votes(), "vote")


def test_column_order_is_the_ferplus_order():
    assert FERPLUS_COLUMNS[:8] == ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear",
                                   "contempt")


def test_ferplus_items_for_a_classifier(tmp_path):
    root = write_ferplus(tmp_path / "fp")
    items = ferplus_items(root, EMOTION_LABELS)
    assert [(p.name, EMOTION_LABELS[i]) for p, i in items] == [
        ("clear_neutral.png", "neutral"), ("anger.png", "angry"), ("fear_surprise.png", "fear")]
    assert [p.name for p, _ in ferplus_items(root, EMOTION_LABELS, limit=1)] == [
        "clear_neutral.png", "anger.png", "fear_surprise.png"]
    assert len(ferplus_items(root, ferplus_labels(True))) == 4
    with pytest.raises(ValueError, match="FER\\+ has no class"):
        ferplus_items(root, ("female", "male"))


def test_load_ferplus_images_and_targets(tmp_path):
    from fer_ros.training.data import load_ferplus

    root = write_ferplus(tmp_path / "fp")
    data = load_ferplus(root, 32, "distribution")
    assert data.images.shape == (4, 32, 32) and data.images.dtype == np.uint8
    assert data.soft.shape == (4, 7) and data.labels == EMOTION_LABELS
    assert Path(data.paths[1]).name == "tie.png"
    expected = cv2.resize(cv2.imread(str(root / "tie.png"), cv2.IMREAD_GRAYSCALE), (32, 32),
                          interpolation=cv2.INTER_LINEAR)
    assert np.array_equal(data.images[1], expected)
    (root / "anger.png").unlink()
    with pytest.raises(FileNotFoundError, match="anger.png"):
        load_ferplus(root, 32, "majority")
