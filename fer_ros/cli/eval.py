"""fer-ros-eval: accuracy of the emotion or gender stage on a labelled image folder.

    fer-ros-eval DATASET --task emotion|gender --mode crops|photos --json OUT.json [--png OUT.png]
    fer-ros-eval SEQUENCES --task emotion --mode sequences [--temporal-model mgln-ckplus] --json OUT.json

DATASET is ``<class>/<image>`` (emotion classes angry, disgust, fear, happy, sad, surprise, neutral;
gender classes female, male; other folders are ignored). ``crops`` feeds every image as a face crop;
``photos`` runs the detector first and classifies the largest face (no face found = wrong).
``sequences`` reads ``<class>/<sequence>/<frames in order>`` (e.g. CK+, neutral to peak; the product's
default detector, whose landmarks the temporal model uses): without ``--temporal-model`` the single-frame model
classifies the largest face of the last frame; with it, the temporal model scores the sequence's frames as
one track (``--temporal-window`` frames, default the whole sequence). ``n`` then counts sequences.

JSON keys: ``n`` (images), ``accuracy``, ``macro_recall``, ``per_class`` ({label: {n, recall,
precision}}), ``confusion`` (rows = true label, columns = predicted, in ``labels`` order; photos
without a face are not in it), ``labels``, ``faces_found`` (images with at least one face), plus the
settings used (``task``, ``mode``, ``model``, ``detector``, ``crop``, ``dataset``, ``protocol``,
``temperature``). A confusion-matrix PNG is written next to the JSON (or to ``--png``).

A FER+ folder (``label.csv`` with the 10 annotator votes, images next to it) is read with the FER+
**majority** protocol (Barsoum et al. 2016; ``fer_ros.training.ferplus``): ``fer-ros-eval
../shared/data/ferplus/val --task emotion --json OUT.json`` is the FER+ val accuracy.

``--calibration`` adds ``calibration`` (expected calibration error over 15 confidence bins, NLL, the
bins) and writes a reliability diagram PNG (``--reliability-png``, default ``<json>_reliability.png``);
``--temperature T`` overrides the model's calibration temperature (1 = uncalibrated), and
``--fit-temperature`` also fits the temperature that minimises the NLL on this data set
(``fitted_temperature``, ``calibration_fitted``): fit it on a dev set only, then store it with
``fer-ros-export --temperature``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, replace
from pathlib import Path

import cv2
import numpy as np

from fer_ros.cli.options import add_providers_argument
from fer_ros.core.calibration import apply_temperature, calibration
from fer_ros.core.calibration import fit_temperature as fit_nll_temperature
from fer_ros.core.classifiers import EmotionClassifier, FaceClassifier, GenderClassifier
from fer_ros.core.config import DETECTORS, PHOTO_DETECTION, PipelineConfig
from fer_ros.core.detectors import create_detector
from fer_ros.core.face_crop import get_policy, largest_face_chip
from fer_ros.core.image_input import image_files
from fer_ros.core.onnx_session import DEFAULT_PROVIDERS, resolve_providers
from fer_ros.training.ferplus import ferplus_items, is_ferplus_folder


def list_dataset(root: Path, labels: tuple[str, ...], limit: int = 0) -> list[tuple[Path, int]]:
    """(image, label index) of a ``<class>/<image>`` folder, or of a FER+ folder (majority protocol)."""
    if is_ferplus_folder(root):
        return ferplus_items(root, labels, limit)
    items = []
    for index, label in enumerate(labels):
        folder = root / label
        files = image_files(folder) if folder.is_dir() else []
        items += [(p, index) for p in (files[:limit] if limit else files)]
    if not items:
        raise SystemExit(f"error: no images under {root}/<{'|'.join(labels)}>/")
    return items


def metrics(true: np.ndarray, pred: np.ndarray, labels: tuple[str, ...]) -> dict:
    """Pred = -1 means no face found (counts as wrong, left out of the confusion matrix)."""
    k = len(labels)
    confusion = np.zeros((k, k), dtype=np.int64)
    found = pred >= 0
    np.add.at(confusion, (true[found], pred[found]), 1)
    per_class = {}
    recalls = []
    for i, label in enumerate(labels):
        n_i = int((true == i).sum())
        recall = float(((true == i) & (pred == i)).sum() / n_i) if n_i else None  # None -> JSON null
        predicted = int((pred == i).sum())
        precision = float(confusion[i, i] / predicted) if predicted else None
        per_class[label] = {"n": n_i, "recall": recall, "precision": precision}
        if n_i:
            recalls.append(recall)
    return {
        "n": len(true), "accuracy": float((true == pred).mean()), "macro_recall": float(np.mean(recalls)),
        "per_class": per_class, "confusion": confusion.tolist(), "labels": list(labels),
        "faces_found": int(found.sum()),
    }


def save_confusion_png(result: dict, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conf = np.asarray(result["confusion"], dtype=np.float64)
    norm = conf / np.maximum(conf.sum(axis=1, keepdims=True), 1)
    labels = result["labels"]
    fig, ax = plt.subplots(figsize=(1.0 + 0.8 * len(labels), 0.8 + 0.8 * len(labels)))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, f"{int(conf[i, j])}\n{norm[i, j]:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{title}\naccuracy {result['accuracy']:.3f}, n={result['n']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def save_reliability_png(cal: dict, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bins = cal["bins"]
    centres = (np.arange(bins) + 0.5) / bins
    acc = np.array([np.nan if a is None else a for a in cal["accuracy"]])
    fig, (ax, ax_n) = plt.subplots(2, 1, figsize=(4.5, 5.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax.bar(centres, np.nan_to_num(acc), width=1.0 / bins, edgecolor="black", color="tab:blue", label="accuracy")
    ax.plot([0, 1], [0, 1], "--", color="gray", label="perfect calibration")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(f"{title}\nECE {cal['ece']:.3f}, NLL {cal['nll']:.3f}", fontsize=9)
    ax_n.bar(centres, cal["counts"], width=1.0 / bins, color="tab:gray")
    ax_n.set_xlabel("top-1 confidence")
    ax_n.set_ylabel("faces")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def paste_on_canvas(image: np.ndarray, canvas: tuple[int, int]) -> np.ndarray:
    """Centre ``image`` on a mid-gray canvas (width, height), shrinking it if it does not fit."""
    cw, ch = canvas
    h, w = image.shape[:2]
    if w > cw or h > ch:
        s = min(cw / w, ch / h)
        image = cv2.resize(image, (int(w * s), int(h * s)), interpolation=cv2.INTER_AREA)
        h, w = image.shape[:2]
    out = np.full((ch, cw, 3), 128, np.uint8)
    y, x = (ch - h) // 2, (cw - w) // 2
    out[y:y + h, x:x + w] = image
    return out


def evaluate(dataset: Path, task: str, mode: str, model: str = "", detector: str = PHOTO_DETECTION.detector,
             detector_model: str = "", detection_scale: float = PHOTO_DETECTION.detection_scale,
             min_face_size: int = PHOTO_DETECTION.min_face_size, crop: str = "",
             canvas: tuple[int, int] | None = None, upscale: float = 1.0, limit: int = 0, num_threads: int = 1,
             batch: int = 128, progress: bool = True, providers: tuple[str, ...] = DEFAULT_PROVIDERS,
             temperature: float | None = None, fit_temperature: bool = False) -> dict:
    from tqdm import tqdm

    providers = resolve_providers(providers)  # once: one warning for a missing provider with a fall-back

    cls: type[FaceClassifier] = EmotionClassifier if task == "emotion" else GenderClassifier
    default = PipelineConfig()
    clf = cls.from_model(model or (default.emotion_model if task == "emotion" else default.gender_model),
                         num_threads, providers)
    if temperature is not None:
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        clf.temperature = temperature
    items = list_dataset(dataset, tuple(clf.labels), limit)
    true = np.array([label for _, label in items])
    pred = np.full(len(items), -1)
    probabilities = np.zeros((len(items), len(clf.labels)), np.float32)
    det = None
    if mode == "photos":
        det = create_detector(replace(PHOTO_DETECTION, detector=detector, detector_model=detector_model,
                                      detection_scale=detection_scale, min_face_size=min_face_size,
                                      num_threads=num_threads, providers=providers))
    policy = get_policy(crop or clf.spec.face_crop)
    bar = tqdm(total=len(items), desc=f"{task}/{mode}", unit="img", disable=not progress, file=sys.stderr)
    for start in range(0, len(items), batch):
        chunk = items[start:start + batch]
        chips, where = [], []
        for offset, (path, _) in enumerate(chunk):
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                raise SystemExit(f"error: cannot read image {path}")
            if det is None:
                chips.append(image)
                where.append(start + offset)
            else:
                if upscale != 1.0:
                    image = cv2.resize(image, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_CUBIC)
                if canvas:
                    image = paste_on_canvas(image, canvas)
                chip = largest_face_chip(image, det.detect(image), policy, tuple(clf.input_size))
                if chip is not None:
                    chips.append(chip)
                    where.append(start + offset)
        if chips:
            probabilities[where] = clf.predict(chips)
            pred[where] = probabilities[where].argmax(axis=1)
        bar.update(len(chunk))
    bar.close()
    result = metrics(true, pred, tuple(clf.labels))
    found = pred >= 0
    result["calibration"] = asdict(calibration(probabilities[found], true[found])) if found.any() else None
    if fit_temperature and found.any():
        base = apply_temperature(probabilities[found], 1.0 / clf.temperature)  # back to temperature 1
        fitted = fit_nll_temperature(base, true[found])
        result["fitted_temperature"] = fitted
        result["calibration_fitted"] = asdict(calibration(apply_temperature(base, fitted), true[found]))
    result.update(task=task, mode=mode, model=clf.spec.name, dataset=str(dataset), temperature=clf.temperature,
                  protocol="ferplus-majority" if is_ferplus_folder(dataset) else "class folders",
                  detector=detector if mode == "photos" else "",
                  detection_scale=detection_scale if mode == "photos" else 1.0,
                  crop=policy.name if mode == "photos" else "whole image",
                  canvas=f"{canvas[0]}x{canvas[1]}" if canvas and mode == "photos" else "",
                  upscale=upscale if mode == "photos" else 1.0)
    return result


def evaluate_sequences(dataset: Path, model: str = "", temporal_model: str = "", detector: str = "blazeface",
                       detector_model: str = "", detection_scale: float = 1.0, min_face_size: int = 20,
                       crop: str = "", window: int = 0, num_threads: int = 1, progress: bool = True,
                       providers: tuple[str, ...] = DEFAULT_PROVIDERS) -> dict:
    """Accuracy on ``<class>/<sequence>/<frames>`` (``n`` = sequences).

    Without ``temporal_model`` the single-frame model classifies the last frame; with it the temporal model
    scores the sequence's frames (the largest face of every frame is one track; ``window`` 0 = the whole
    sequence). A sequence left unanswered (no face on its last frame, fewer faces than the window) counts as
    wrong and not in ``faces_found``.
    """
    from tqdm import tqdm

    from fer_ros.core.pipeline import Pipeline
    from fer_ros.core.sequence_folder import list_sequences
    from fer_ros.core.temporal import TemporalModel, TemporalTracker

    default = PipelineConfig()
    providers = resolve_providers(providers)  # once: one warning for a missing provider with a fall-back
    pipe = Pipeline(PipelineConfig(detector=detector, detector_model=detector_model, detection_scale=detection_scale,
                                   min_face_size=min_face_size, max_faces=100, emotion_model=model or
                                   default.emotion_model, gender_model="", emotion_crop=crop,
                                   num_threads=num_threads, providers=providers))
    temporal = TemporalModel.from_model(temporal_model, num_threads, providers) if temporal_model else None
    labels = tuple(temporal.labels if temporal else pipe.emotion_labels)
    sequences = list_sequences(dataset, labels)
    true = np.array([s.label for s in sequences])
    pred = np.full(len(sequences), -1)
    probabilities = np.zeros((len(sequences), len(labels)), np.float32)
    for k, seq in enumerate(tqdm(sequences, desc="sequences", unit="seq", disable=not progress, file=sys.stderr)):
        frames = seq.frames if temporal else seq.frames[-1:]
        tracker = TemporalTracker(temporal, window or len(frames)) if temporal else None
        answer = None
        for path in frames:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                raise SystemExit(f"error: cannot read image {path}")
            pipe.reset()
            face = largest_face(pipe.process(image).faces)
            if face is None:
                answer = None
                continue
            if tracker is not None:
                face = tracker.update(image, [replace(face, track_id=seq.name)])[0]
            scores = face.temporal_scores if tracker is not None else face.emotion_scores
            answer = scores if len(scores) else None
        if answer is not None:
            probabilities[k], pred[k] = answer, int(np.argmax(answer))
    result = metrics(true, pred, labels)
    found = pred >= 0
    result["calibration"] = asdict(calibration(probabilities[found], true[found])) if found.any() else None
    result.update(task="emotion", mode="sequences", model=temporal_model or pipe.emotion.spec.name,
                  temperature=1.0 if temporal else pipe.emotion.temperature, protocol="sequences",
                  dataset=str(dataset), detector=detector, detection_scale=detection_scale,
                  crop=pipe.emotion_policy.name if not temporal else "part crops from landmarks", canvas="",
                  upscale=1.0)
    return result


def largest_face(faces):
    return max(faces, key=lambda f: f.detection.box[2] * f.detection.box[3]) if faces else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fer-ros-eval", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--task", choices=("emotion", "gender"), required=True)
    parser.add_argument("--mode", choices=("crops", "photos", "sequences"), default="crops")
    parser.add_argument("--json", type=Path, required=True, help="write the metrics here")
    parser.add_argument("--png", type=Path, default=None, help="confusion matrix (default: JSON path .png)")
    parser.add_argument("--model", default="", help="registry name or .onnx path (default: the task's default)")
    parser.add_argument("--detector", default="", choices=("", *DETECTORS),
                        help=f"default: {PHOTO_DETECTION.detector}, the product default")
    parser.add_argument("--detector-model", default="", help="YuNet .onnx path")
    parser.add_argument("--detection-scale", type=float, default=PHOTO_DETECTION.detection_scale)
    parser.add_argument("--min-face-size", type=int, default=PHOTO_DETECTION.min_face_size)
    parser.add_argument("--crop", default="", help="crop policy (photos mode; default: the model's)")
    parser.add_argument("--canvas", default="", help="photos mode: paste each image centred on a WxH gray "
                        "canvas first (e.g. 640x480), to test detection on crops that fill the image")
    parser.add_argument("--upscale", type=float, default=1.0, help="photos mode: resize each image by this "
                        "factor (bicubic) before detection, e.g. 4 for 48x48 FER-2013 images")
    parser.add_argument("--limit", type=int, default=0, help="at most this many images per class")
    parser.add_argument("--temporal-model", default="", help="sequences mode: temporal model (registry name, "
                        "e.g. mgln-ckplus, or .onnx path) over each sequence instead of the single-frame model "
                        "on its last frame")
    parser.add_argument("--temporal-window", type=int, default=0, help="sequences mode: frames per window "
                        "(default 0: the whole sequence)")
    parser.add_argument("--threads", type=int, default=1)
    add_providers_argument(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--calibration", action="store_true", help="reliability diagram PNG and ECE")
    parser.add_argument("--reliability-png", type=Path, default=None,
                        help="reliability diagram (default: <json>_reliability.png)")
    parser.add_argument("--temperature", type=float, default=None,
                        help="calibration temperature instead of the model's own (1 = uncalibrated)")
    parser.add_argument("--fit-temperature", action="store_true",
                        help="also fit the NLL-optimal temperature on this data set (a dev set only)")
    args = parser.parse_args(argv)
    if not args.dataset.is_dir():
        parser.error(f"dataset folder {args.dataset} does not exist")
    canvas = tuple(int(v) for v in args.canvas.lower().split("x")) if args.canvas else None
    args.detector = args.detector or PHOTO_DETECTION.detector
    if args.temporal_model and args.mode != "sequences":
        parser.error("--temporal-model needs --mode sequences")
    if args.mode == "sequences" and args.task != "emotion":
        parser.error("--mode sequences evaluates emotions (--task emotion)")
    try:
        if args.mode == "sequences":
            result = evaluate_sequences(args.dataset, args.model, args.temporal_model, args.detector,
                                        args.detector_model, args.detection_scale, args.min_face_size, args.crop,
                                        args.temporal_window, args.threads, progress=not args.quiet,
                                        providers=args.providers)
        else:
            result = evaluate(args.dataset, args.task, args.mode, args.model, args.detector, args.detector_model,
                              args.detection_scale, args.min_face_size, args.crop, canvas, args.upscale,
                              args.limit, args.threads, progress=not args.quiet, providers=args.providers,
                              temperature=args.temperature, fit_temperature=args.fit_temperature)
    except (ValueError, RuntimeError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    png = args.png or args.json.with_suffix(".png")
    save_confusion_png(result, png, f"{args.task} / {args.mode}: {result['model']}")
    print(f"{args.task} {args.mode}: n={result['n']} accuracy={result['accuracy']:.4f} "
          f"macro_recall={result['macro_recall']:.4f} faces_found={result['faces_found']} -> {args.json}, {png}")
    if (args.calibration or args.fit_temperature) and result.get("calibration"):
        reliability = args.reliability_png or args.json.with_name(args.json.stem + "_reliability.png")
        save_reliability_png(result["calibration"], reliability,
                             f"{result['model']} (T={result['temperature']:.3g})")
        line = f"calibration: ECE={result['calibration']['ece']:.4f} NLL={result['calibration']['nll']:.4f}"
        if "fitted_temperature" in result:
            fitted = result["calibration_fitted"]
            line += (f"; fitted temperature {result['fitted_temperature']:.4f}: ECE={fitted['ece']:.4f} "
                     f"NLL={fitted['nll']:.4f}")
        print(f"{line} -> {reliability}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
