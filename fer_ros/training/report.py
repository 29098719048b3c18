"""Evaluation report for a trained model: parameters, MACs, ms/face, accuracy, recall, confusion.

``python -m fer_ros.training.report CHECKPOINT ONNX [--val-dir DIR] [--baseline NAME_OR_PATH ...]`` prints
a Markdown section. Accuracy is measured on the exported ONNX file through the core's
``EmotionClassifier`` (the same preprocessing the product uses); latency is the median of batch-1
onnxruntime runs on one thread.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from fer_ros.training.metrics import accuracy, confusion_matrix, per_class_recall


def count_macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of convolutions and linear layers for one input (hook based)."""
    total = 0

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Conv2d):
            kernel = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
            total += output.numel() // output.shape[0] * kernel
        elif isinstance(module, nn.Linear):
            total += module.in_features * module.out_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, *input_shape))
    model.train(was_training)
    for handle in handles:
        handle.remove()
    return total


def latency_ms(classifier, runs: int = 300) -> float:
    """Median batch-1 latency of the classifier's onnxruntime session (preprocessed input)."""
    chip = np.random.default_rng(0).integers(0, 255, (48, 48, 3), dtype=np.uint8)
    feed = {classifier.input_name: classifier.preprocess([chip])}
    for _ in range(30):
        classifier.session.run(None, feed)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        classifier.session.run(None, feed)
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1e3)


def evaluate_classifier(classifier, val_dir: str, labels: tuple[str, ...]) -> tuple[np.ndarray, int]:
    import cv2

    from fer_ros.core.image_input import image_files

    targets, predictions = [], []
    for index, label in enumerate(labels):
        paths = image_files(Path(val_dir) / label)
        for start in range(0, len(paths), 256):
            chips = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in paths[start : start + 256]]
            predictions.append(classifier.predict(chips).argmax(1))
            targets += [index] * len(chips)
    matrix = confusion_matrix(np.asarray(targets), np.concatenate(predictions), len(labels))
    return matrix, len(targets)


def markdown_matrix(matrix: np.ndarray, labels: tuple[str, ...]) -> str:
    lines = ["| true \\ predicted | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
    for label, row in zip(labels, matrix):
        lines.append(f"| {label} | " + " | ".join(str(int(v)) for v in row) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("checkpoint")
    parser.add_argument("onnx")
    parser.add_argument("--val-dir", default="../shared/data/fer2013/val")
    parser.add_argument("--baseline", nargs="*", default=["mini-xception-fer2013"],
                        help="registry names or paths measured the same way for comparison")
    args = parser.parse_args(argv)
    from fer_ros.core.classifiers import EmotionClassifier
    from fer_ros.training.checkpoint import load_model

    torch.set_num_threads(1)
    model, config, state = load_model(args.checkpoint)
    channels = 1 if config.data.colour == "gray" else 3
    size = config.data.input_size
    params = sum(p.numel() for p in model.parameters())
    macs = count_macs(model, (channels, size, size))
    rows = []
    for name in (args.onnx, *args.baseline):
        classifier = EmotionClassifier.from_model(name, num_threads=1)
        matrix, total = evaluate_classifier(classifier, args.val_dir, classifier.labels)
        rows.append((name, classifier, matrix, latency_ms(classifier)))
    print(f"model: {config.model.name} {config.model.kwargs}, input {size}x{size} {config.data.colour}")
    print(f"parameters: {params:,}  MACs: {macs / 1e6:.1f} M  epoch: {state['epoch']}  "
          f"torch val acc (training preprocessing): {state['history'][state['epoch'] - 1]['val_acc']:.4f}")
    for name, classifier, matrix, ms in rows:
        recall = per_class_recall(matrix)
        print(f"\n### {name}: val accuracy {accuracy(matrix):.4f} ({int(np.trace(matrix))}/{int(matrix.sum())}), "
              f"{ms:.3f} ms/face (onnxruntime, 1 thread, batch 1, median)")
        print("| " + " | ".join(classifier.labels) + " |")
        print("|---" * len(classifier.labels) + "|")
        print("| " + " | ".join(f"{r:.3f}" for r in recall) + " |\n")
        print(markdown_matrix(matrix, classifier.labels))
    return 0


if __name__ == "__main__":
    sys.exit(main())
