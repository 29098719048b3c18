"""Choose the default emotion model on the three dev sets of issue 11: single models and two-member ensembles.

    python scripts/select_emotion_ensemble.py --seed models/emotion_mini_xception_fer2013.onnx \
        --candidate A.onnx --candidate B.onnx ... [--weights 0.3,0.4,0.5,0.6,0.7] [--out sweep.json]

The dev sets are ``fer2013/val`` (original labels), ``ferplus/val`` (FER+ majority protocol) and
``tcce_dev`` end to end (the product's default detector, the largest face, the square crop; no face =
wrong), exactly as ``fer-ros-eval`` scores them. Every model's probabilities are computed once per view
(the chip at the graph's input size, which is the first member's, and its mirror image) and cached under
``~/.cache/fer_ros/selection``; an ensemble's scores are then pooled as ``fer_ros.training.ensemble`` does
(weighted arithmetic or geometric mean; with ``flip`` the two views' pooled outputs are averaged). The
members see the first member's chip resized with ``cv2.resize`` where the graph uses ONNX ``Resize``, so
a chosen ensemble is re-measured with ``fer-ros-eval`` on the built file before it is shipped.

The rule: beat the seed on all three sets, then the highest mean of the three. Candidates within one
tcce_dev photo of each other are not told apart by these sets; the table shows each one's margin over the
seed in photos so a reader can see how thin a choice is. Nothing but these three sets is read.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import pickle
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from fer_ros.cli.eval import list_dataset
from fer_ros.core.classifiers import EmotionClassifier
from fer_ros.core.config import PHOTO_DETECTION
from fer_ros.core.detectors import create_detector
from fer_ros.core.face_crop import get_policy, largest_face_chip
from fer_ros.core.labels import EMOTION_LABELS
from fer_ros.core.model_registry import sha256_of

CACHE = Path.home() / ".cache" / "fer_ros" / "selection"
SETS = {"fer2013_val": "fer2013/val", "ferplus_val": "ferplus/val", "tcce_dev_photos": "tcce_dev"}
PHOTO_SETS = {"tcce_dev_photos"}


@dataclass
class Candidate:
    name: str
    members: list[str]
    weights: list[float]
    pooling: str
    flip: bool
    accuracy: dict[str, float]
    mean: float
    beats_seed: bool
    tcce_margin_photos: int


class DevSets:
    """The three dev sets' images (photos with their detections), cached on disk."""

    def __init__(self, data_root: Path) -> None:
        CACHE.mkdir(parents=True, exist_ok=True)
        path = CACHE / "inputs.pkl"
        if path.is_file():
            self.sets = pickle.loads(path.read_bytes())
            return
        detector = create_detector(PHOTO_DETECTION)
        self.sets = {}
        for name, sub in SETS.items():
            items = list_dataset(data_root / sub, EMOTION_LABELS)
            images = [cv2.imread(str(p), cv2.IMREAD_COLOR) for p, _ in items]
            detections = [detector.detect(im) for im in images] if name in PHOTO_SETS else None
            self.sets[name] = (images, detections, np.array([label for _, label in items]))
        path.write_bytes(pickle.dumps(self.sets))

    def labels(self, name: str) -> np.ndarray:
        return self.sets[name][2]

    def chips(self, name: str, size: int, mirrored: bool) -> tuple[list[np.ndarray], np.ndarray]:
        """What a graph with a size x size input is given (the core's crop or resize), and their indices."""
        images, detections, _ = self.sets[name]
        chips, found = [], []
        for i, image in enumerate(images):
            if detections is None:
                chip = cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR)
            else:
                chip = largest_face_chip(image, detections[i], get_policy("square"), (size, size))
            if chip is not None:
                chips.append(cv2.flip(chip, 1) if mirrored else chip)
                found.append(i)
        return chips, np.array(found, int)


def probabilities(dev: DevSets, model: str, size: int, mirrored: bool) -> dict[str, np.ndarray]:
    """(N, 7) temperature-1 probabilities per set (NaN where no face was found), cached by file hash."""
    key = hashlib.sha1(f"{sha256_of(Path(model))}:{size}:{mirrored}".encode()).hexdigest()[:16]
    path = CACHE / f"probs_{key}.pkl"
    if path.is_file():
        return pickle.loads(path.read_bytes())
    classifier = EmotionClassifier.from_model(model)
    classifier.temperature = 1.0
    result = {}
    for name in SETS:
        chips, found = dev.chips(name, size, mirrored)
        p = np.full((len(dev.labels(name)), len(EMOTION_LABELS)), np.nan, np.float32)
        p[found] = classifier.predict(chips)
        result[name] = p
    path.write_bytes(pickle.dumps(result))
    return result


def pool(parts: list[np.ndarray], weights: list[float], pooling: str) -> np.ndarray:
    w = np.array(weights) / sum(weights)
    if pooling == "mean":
        return sum(wi * p for wi, p in zip(w, parts))
    z = sum(wi * np.log(np.maximum(p, 1e-12)) for wi, p in zip(w, parts))
    z = np.exp(z - np.nanmax(z, axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def accuracy(p: np.ndarray, labels: np.ndarray) -> float:
    found = ~np.isnan(p[:, 0])
    return float(((np.nan_to_num(p).argmax(1) == labels) & found).sum() / len(labels))


def input_size(model: str) -> int:
    return int(EmotionClassifier.from_model(model).input_size[0])


def parameter_count(model: str) -> int:
    import onnx

    return int(sum(np.prod(t.dims) for t in onnx.load(model).graph.initializer))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", required=True, help="the model to beat (the converted seed)")
    parser.add_argument("--candidate", action="append", default=[], help="an exported emotion model (repeat)")
    parser.add_argument("--data", default="../shared/data", help="folder holding fer2013, ferplus, tcce_dev")
    parser.add_argument("--weights", default="0.3,0.4,0.5,0.6,0.7", help="first member's ensemble weights")
    parser.add_argument("--max-params", type=int, default=1_300_000, help="the issue's size limit")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--out", help="write every candidate's numbers here (JSON)")
    args = parser.parse_args(argv)
    dev = DevSets(Path(args.data))
    sizes = {m: input_size(m) for m in [args.seed, *args.candidate]}
    params = {m: parameter_count(m) for m in sizes}
    seed_p = probabilities(dev, args.seed, sizes[args.seed], False)
    seed_acc = {k: accuracy(seed_p[k], dev.labels(k)) for k in SETS}
    photos = len(dev.labels("tcce_dev_photos"))
    rows: list[Candidate] = []

    def score(name: str, members: list[str], weights: list[float], pooling: str, flip: bool) -> None:
        size = sizes[members[0]]
        views = [[probabilities(dev, m, size, mirrored) for m in members]
                 for mirrored in ((False, True) if flip else (False,))]
        acc = {}
        for k in SETS:
            pooled = [pool([v[k] for v in view], weights, pooling) for view in views]
            acc[k] = accuracy(sum(pooled) / len(pooled), dev.labels(k))
        margin = round((acc["tcce_dev_photos"] - seed_acc["tcce_dev_photos"]) * photos)
        rows.append(Candidate(name, [Path(m).name for m in members], weights, pooling, flip, acc,
                              float(np.mean(list(acc.values()))), all(acc[k] > seed_acc[k] for k in SETS), margin))

    pool_of = [args.seed, *args.candidate]
    for model, flip in itertools.product(args.candidate, (False, True)):
        score(Path(model).stem + (" +flip" if flip else ""), [model], [1.0], "mean", flip)
    weights = [float(w) for w in args.weights.split(",")]
    for a, b in itertools.permutations(pool_of, 2):
        if sizes[a] < sizes[b] or params[a] + params[b] > args.max_params:
            continue  # the larger input first: the smaller member gets a downscaled chip, not an upscaled one
        for w, pooling, flip in itertools.product(weights, ("log", "mean"), (False, True)):
            name = f"{Path(a).stem} x{w} + {Path(b).stem} x{round(1 - w, 2)} {pooling}" + (" +flip" if flip else "")
            score(name, [a, b], [w, round(1 - w, 2)], pooling, flip)
    print("seed", {k: round(v * 100, 2) for k, v in seed_acc.items()})
    ranked = sorted((r for r in rows if r.beats_seed), key=lambda r: -r.mean)
    print(f"{len(ranked)} of {len(rows)} candidates beat the seed on all three sets; the best:")
    for r in ranked[: args.top]:
        print(f"  {r.mean * 100:.2f}  " + "  ".join(f"{k} {v * 100:.2f}" for k, v in r.accuracy.items())
              + f"  (+{r.tcce_margin_photos} photos)  {r.name}")
    if args.out:
        Path(args.out).write_text(json.dumps({"seed": seed_acc, "candidates": [asdict(r) for r in rows]}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
