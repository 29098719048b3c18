"""Confidence calibration: temperature scaling, expected calibration error, reliability bins.

A classifier's probabilities ``p`` become ``softmax(log(p) / T)`` (``softmax(logits / T)`` for logit
outputs): T > 1 softens over-confident models, T < 1 sharpens. T is fitted on a dev set by minimising
the negative log-likelihood (Guo et al., "On Calibration of Modern Neural Networks", ICML 2017) and
stored in the exported model's ONNX metadata (key ``temperature``); ``fer_ros.core.classifiers`` applies
it, so ``emotion_confidence`` means what it says.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def apply_temperature(scores: np.ndarray, temperature: float, logits: bool = False) -> np.ndarray:
    """Probabilities at temperature T from probabilities (or logits when ``logits``)."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    z = scores if logits else np.log(np.clip(scores, 1e-12, None))
    if temperature == 1.0 and not logits:
        return scores
    return softmax(z / temperature).astype(np.float32)


def nll(probabilities: np.ndarray, targets: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(probabilities[np.arange(len(targets)), targets], 1e-12, None))))


def fit_temperature(probabilities: np.ndarray, targets: np.ndarray, low: float = 0.05, high: float = 20.0) -> float:
    """The T minimising the NLL of ``targets`` under ``apply_temperature(probabilities, T)``.

    NLL is convex in 1/T, so a golden-section search over log T finds it.
    """
    if len(targets) == 0:
        raise ValueError("cannot fit a temperature on no samples")
    a, b = np.log(low), np.log(high)
    g = (np.sqrt(5.0) - 1.0) / 2.0

    def f(log_t: float) -> float:
        return nll(apply_temperature(probabilities, float(np.exp(log_t))), targets)

    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(60):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = f(d)
    return float(np.exp((a + b) / 2.0))


@dataclass
class Calibration:
    ece: float  # expected calibration error: sum_b n_b / N * |accuracy_b - confidence_b|
    nll: float
    bins: int
    counts: list[int]  # samples per confidence bin (equal-width bins over [0, 1])
    accuracy: list[float | None]  # per bin, None when empty
    confidence: list[float | None]  # mean top-1 confidence per bin


def calibration(probabilities: np.ndarray, targets: np.ndarray, bins: int = 15) -> Calibration:
    """ECE and the reliability diagram bins of top-1 confidence."""
    if len(targets) == 0:
        raise ValueError("calibration needs at least one sample")
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == targets
    index = np.minimum((confidence * bins).astype(int), bins - 1)
    counts, acc, conf, ece = [], [], [], 0.0
    for b in range(bins):
        members = index == b
        n = int(members.sum())
        counts.append(n)
        if n:
            acc.append(float(correct[members].mean()))
            conf.append(float(confidence[members].mean()))
            ece += n / len(targets) * abs(acc[-1] - conf[-1])
        else:
            acc.append(None)
            conf.append(None)
    return Calibration(float(ece), nll(probabilities, targets), bins, counts, acc, conf)
