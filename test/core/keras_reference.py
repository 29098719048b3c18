"""Independent float64 numpy implementation of a Keras 2 mini-Xception HDF5 model (test oracle).

Written from the Keras/TensorFlow layer semantics (NHWC, unfolded BatchNormalization, TF "same"
padding with the odd pixel at the end, max-pool padding that never wins), sharing no code with the
ONNX converter it checks.
"""

from __future__ import annotations

import json

import numpy as np


def _pads(size: int, k: int, s: int) -> tuple[int, int]:
    out = int(np.ceil(size / s))
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def _pad(x: np.ndarray, cfg: dict, k: tuple[int, int], value: float) -> np.ndarray:
    if cfg["padding"] == "valid":
        return x
    (t, b), (left, r) = _pads(x.shape[1], k[0], cfg["strides"][0]), _pads(x.shape[2], k[1], cfg["strides"][1])
    return np.pad(x, ((0, 0), (t, b), (left, r), (0, 0)), constant_values=value)


def _windows(x: np.ndarray, k: tuple[int, int], s: tuple[int, int]) -> np.ndarray:
    """(N, OH, OW, kh, kw, C) sliding windows."""
    n, h, w, c = x.shape
    oh, ow = (h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1
    sn, sh, sw, sc = x.strides
    return np.lib.stride_tricks.as_strided(x, (n, oh, ow, k[0], k[1], c), (sn, sh * s[0], sw * s[1], sh, sw, sc))


def conv2d(x, kernel, cfg):
    k = kernel.shape[:2]
    win = _windows(_pad(x, cfg, k, 0.0), k, cfg["strides"])
    return np.einsum("nhwijc,ijco->nhwo", win, kernel)


def depthwise(x, kernel, cfg):
    k = kernel.shape[:2]
    win = _windows(_pad(x, cfg, k, 0.0), k, cfg["strides"])
    return np.einsum("nhwijc,ijc->nhwc", win, kernel[:, :, :, 0])


def maxpool(x, cfg):
    k = tuple(cfg["pool_size"])
    win = _windows(_pad(x, cfg, k, -np.inf), k, cfg["strides"])
    return win.max(axis=(3, 4))


def batchnorm(x, w, cfg):
    return (x - w["moving_mean"]) / np.sqrt(w["moving_variance"] + cfg["epsilon"]) * w["gamma"] + w["beta"]


def load(path):
    import h5py

    with h5py.File(path, "r") as f:
        raw = f.attrs["model_config"]
        config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        weights = {}
        for name in f["model_weights"]:
            g = f["model_weights"][name]
            weights[name] = {}
            for wn in g.attrs.get("weight_names", []):
                wn = wn.decode() if isinstance(wn, bytes) else wn
                weights[name][wn.split("/")[-1].split(":")[0]] = np.asarray(g[wn], dtype=np.float64)
    return config["config"], weights


def forward(path, x_nhwc: np.ndarray) -> np.ndarray:
    """Run the model in float64 on normalised NHWC input; returns the softmax output."""
    config, weights = load(path)
    values = {}
    for layer in config["layers"]:
        name, kind, cfg = layer["name"], layer["class_name"], layer["config"]
        ins = [values[n[0]] for n in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []
        w = weights.get(name, {})
        if kind == "InputLayer":
            y = x_nhwc.astype(np.float64)
        elif kind == "Conv2D":
            y = conv2d(ins[0], w["kernel"], cfg) + (w["bias"] if cfg["use_bias"] else 0.0)
        elif kind == "SeparableConv2D":
            y = conv2d(depthwise(ins[0], w["depthwise_kernel"], cfg), w["pointwise_kernel"],
                       {"padding": "valid", "strides": [1, 1]})
        elif kind == "BatchNormalization":
            y = batchnorm(ins[0], w, cfg)
        elif kind == "Activation" and cfg["activation"] == "relu":
            y = np.maximum(ins[0], 0.0)
        elif kind == "Activation" and cfg["activation"] == "softmax":
            e = np.exp(ins[0] - ins[0].max(axis=-1, keepdims=True))
            y = e / e.sum(axis=-1, keepdims=True)
        elif kind == "MaxPooling2D":
            y = maxpool(ins[0], cfg)
        elif kind == "Add":
            y = ins[0] + ins[1]
        elif kind == "GlobalAveragePooling2D":
            y = ins[0].mean(axis=(1, 2))
        else:
            raise NotImplementedError(kind)
        values[name] = y
    return values[config["output_layers"][0][0]]
