"""Leave-one-subject-out evaluation of MGLN against the single-frame default, on the same folds.

``run_loso(config)`` trains one ``mgln`` run per subject (``<run_dir>/fold_<subject>``, resumable; a
finished fold is reused), holding that subject's sequences out, and scores each held-out sequence by:

* ``mgln`` (fused), ``mgln_gfm`` and ``mgln_pbm`` (its two modules alone) on first/middle/last frame;
* ``mgln_node_selection``: the fold's MGLN on the frames the node picks (first, least neutral by the
  single-frame default, halfway) over the whole sequence;
* ``single_frame_peak``: the default emotion model (``DEFAULT_EMOTION_MODEL``) on the last frame, cut
  with that model's own crop policy from the same cached detections;
* ``temporal_average``: the mean of the default model's scores over every frame of the sequence.

Accuracy is reported over all labels (a "neutral" answer is wrong) and restricted to the classes the
data has (argmax over those only, the usual CK+ protocol). ``<run_dir>/loso.json`` holds everything.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from fer_ros.core.classifiers import EmotionClassifier
from fer_ros.core.face_crop import crop_chip, get_policy
from fer_ros.core.model_registry import DEFAULT_EMOTION_MODEL
from fer_ros.training.config import TrainConfig
from fer_ros.training.metrics import accuracy, confusion_matrix, per_class_recall
from fer_ros.training.sequences import FaceSequence, load_face_sequences

log = logging.getLogger("fer_ros.training")


def per_frame_scores(sequences: list[FaceSequence], model: str = DEFAULT_EMOTION_MODEL) -> list[np.ndarray]:
    """Default-model probabilities of every frame (frames, labels) per sequence, from the cached detections."""
    clf = EmotionClassifier.from_model(model)
    policy = get_policy(clf.spec.face_crop)
    return [clf.predict([crop_chip(cv2.imread(str(f), cv2.IMREAD_COLOR), d, policy, tuple(clf.input_size))
                         for f, d in zip(seq.frames, seq.original_detections)]) for seq in sequences]


def node_selection_scores(run_dir: Path, sequences: list[FaceSequence], frame_scores: list[np.ndarray],
                          labels: tuple[str, ...]) -> np.ndarray:
    """Each held-out sequence scored by its fold's model on the frames the node would pick.

    Over the whole sequence, ``fer_ros.core.temporal.select_frames``: first, least neutral single-frame, halfway.
    """
    from fer_ros.core.temporal import select_frames
    from fer_ros.training.checkpoint import load_model
    from fer_ros.training.mgln_trainer import make_batch

    out = np.zeros((len(sequences), len(labels)))
    for subject in sorted({q.subject for q in sequences}):
        model, config, _ = load_model(run_dir / f"fold_{subject}" / "last.pt")
        rows = [i for i, q in enumerate(sequences) if q.subject == subject]
        items = [(sequences[i], select_frames(frame_scores[i][:, labels.index("neutral")]), 0) for i in rows]
        face, part, _ = make_batch(items, config, None)
        with torch.no_grad():
            out[rows] = model(face, part).numpy()
    return out


def score(probabilities: np.ndarray, targets: np.ndarray, labels: tuple[str, ...],
          subjects: list[str]) -> dict[str, Any]:
    """Accuracy (all labels and restricted to the present classes), recall, confusion, per-subject accuracy."""
    present = sorted(set(targets.tolist()))
    restricted = np.full_like(probabilities, -np.inf)
    restricted[:, present] = probabilities[:, present]
    out: dict[str, Any] = {}
    for name, pred in (("all_labels", probabilities.argmax(1)), ("present_classes", restricted.argmax(1))):
        matrix = confusion_matrix(targets, pred, len(labels))
        out[name] = {"accuracy": accuracy(matrix),
                     "recall": {labels[i]: float(per_class_recall(matrix)[i]) for i in present},
                     "confusion": matrix.tolist(),
                     "per_subject": {s: float(np.mean([pred[i] == targets[i] for i in range(len(targets))
                                                       if subjects[i] == s])) for s in sorted(set(subjects))}}
    return out


def fold_config(config: TrainConfig, subject: str) -> TrainConfig:
    sequence = dataclasses.replace(config.sequence, holdout_subjects=(subject,))
    return dataclasses.replace(config, run_dir=str(Path(config.run_dir) / f"fold_{subject}"), sequence=sequence)


def run_loso(config: TrainConfig) -> dict[str, Any]:
    from fer_ros.training.mgln_trainer import train_mgln

    config = dataclasses.replace(config, run_dir=str(Path(config.run_dir).expanduser()))
    labels = tuple(config.data.labels)
    s = config.sequence
    sequences = load_face_sequences(config.data.train_dir, labels, s.detector, s.cache_dir)
    subjects = sorted({q.subject for q in sequences})
    by_name: dict[str, dict[str, list[float]]] = {}
    for subject in subjects:
        fold = fold_config(config, subject)
        metrics_path = Path(fold.run_dir) / "metrics.json"
        done = metrics_path.is_file() and len(json.loads(metrics_path.read_text())["history"]) >= config.epochs
        metrics = json.loads(metrics_path.read_text()) if done else train_mgln(fold, resume=True)
        for i, name in enumerate(metrics["val_sequences"]):
            by_name[name] = {k: v[i] for k, v in metrics["val_probabilities"].items()}
        log.info("fold %s: held-out accuracy %s", subject, metrics["best_val_acc"])
    order = [q.key for q in sequences]
    targets = np.array([q.label for q in sequences])
    names = [q.subject for q in sequences]
    methods = {"mgln": np.array([by_name[n]["fused"] for n in order]),
               "mgln_gfm": np.array([by_name[n]["global"] for n in order]),
               "mgln_pbm": np.array([by_name[n]["part"] for n in order])}
    frame_scores = per_frame_scores(sequences)
    methods.update(single_frame_peak=np.stack([p[-1] for p in frame_scores]),
                   temporal_average=np.stack([p.mean(axis=0) for p in frame_scores]),
                   mgln_node_selection=node_selection_scores(Path(config.run_dir), sequences, frame_scores, labels))
    result = {"labels": list(labels), "subjects": subjects, "sequences": order, "targets": targets.tolist(),
              "epochs": config.epochs, "baseline_model": DEFAULT_EMOTION_MODEL,
              "methods": {k: score(v, targets, labels, names) for k, v in methods.items()},
              "probabilities": {k: np.round(v, 5).tolist() for k, v in methods.items()}}
    out = Path(config.run_dir) / "loso.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    for k, v in result["methods"].items():
        log.info("LOSO %-18s accuracy %.3f (all labels) %.3f (present classes)", k,
                 v["all_labels"]["accuracy"], v["present_classes"]["accuracy"])
    log.info("wrote %s", out)
    return result


METHOD_NAMES = {
    "single_frame_peak": "single-frame default (`fer-resnet-fer2013`), last frame",
    "temporal_average": "mean of the single-frame scores over all frames",
    "mgln": "**MGLN** (fused), first / middle / last frame",
    "mgln_gfm": "MGLN's GFM alone (peak frame)",
    "mgln_pbm": "MGLN's PBM alone (parts over 3 frames)",
    "mgln_node_selection": "MGLN on the node's frames (first, least neutral, halfway)",
}


def markdown(result: dict[str, Any]) -> str:
    """EVALUATION.md tables of a loso.json: accuracy per method, per-class recall, MGLN's confusion."""
    labels = result["labels"]
    present = sorted(set(result["targets"]))
    counts = [result["targets"].count(i) for i in present]
    lines = [f"| method | accuracy ({len(present)} classes) | accuracy ({len(labels)} labels, neutral = wrong) | "
             + " | ".join(f"recall {labels[i]} ({n})" for i, n in zip(present, counts)) + " |",
             "|---|---|---|" + "---|" * len(present)]
    for key, name in METHOD_NAMES.items():
        if key not in result["methods"]:
            continue
        m = result["methods"][key]
        recall = " | ".join(f"{100 * m['present_classes']['recall'][labels[i]]:.0f}" for i in present)
        lines.append(f"| {name} | {100 * m['present_classes']['accuracy']:.1f} % | "
                     f"{100 * m['all_labels']['accuracy']:.1f} % | {recall} |")
    conf = result["methods"]["mgln"]["present_classes"]["confusion"]
    lines += ["", f"MGLN (fused), confusion over the {len(result['targets'])} held-out sequences (argmax over the "
              "classes present; rows true, columns predicted):", "",
              "| true \\ predicted | " + " | ".join(labels[i] for i in present) + " |",
              "|---|" + "---|" * len(present)]
    lines += [f"| {labels[i]} | " + " | ".join(str(conf[i][j]) for j in present) + " |" for i in present]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys

    print(markdown(json.loads(Path(sys.argv[1]).read_text())), end="")
