"""Export a training checkpoint to ONNX with the metadata the core model registry reads.

The graph ends in a softmax (``output=probabilities``); input ``input`` is NCHW float32 with a dynamic
batch. ``metadata_props`` carry ``labels``, ``input_size`` (``W,H``), ``colour``,
``normalisation_mean``/``normalisation_std`` (0..255 pixel units, as ``fer_ros.core.model_registry``
expects), ``output``, ``face_crop`` (the config's crop policy), ``temperature`` (calibration, fitted
with ``fer-ros-eval --fit-temperature`` on a dev set) and a JSON ``provenance`` (model, training
config, git commit, epochs, best validation accuracy, per-epoch dev accuracies). ``flip_tta``
averages the probabilities of the face and its mirror image inside the graph (about twice the
compute). After writing, onnxruntime and torch outputs are compared (max abs difference must stay
below ``tolerance``).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from fer_ros.core.model_registry import sha256_of
from fer_ros.training.checkpoint import load_model
from fer_ros.training.config import TrainConfig, config_to_dict


@dataclass
class ExportResult:
    path: Path
    sha256: str
    max_abs_diff: float
    metadata: dict[str, str]


class WithSoftmax(nn.Module):
    """Softmax head; with ``flip_tta`` the probabilities of the image and its mirror are averaged."""

    def __init__(self, model: nn.Module, flip_tta: bool = False) -> None:
        super().__init__()
        self.model = model
        self.flip_tta = flip_tta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probs = torch.softmax(self.model(x), dim=1)
        if self.flip_tta:
            probs = 0.5 * (probs + torch.softmax(self.model(torch.flip(x, dims=[3])), dim=1))
        return probs


def git_commit(cwd: Path | None = None) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10)
        return out.stdout.strip() if out.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def registry_metadata(config: TrainConfig, provenance: dict[str, Any], temperature: float = 1.0) -> dict[str, str]:
    d = config.data
    size = d.input_size
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return {
        "labels": ",".join(d.labels),
        "input_size": f"{size},{size}",
        "colour": d.colour,
        "normalisation_mean": f"{d.mean * 255.0:.6g}",
        "normalisation_std": f"{d.std * 255.0:.6g}",
        "output": "probabilities",
        "face_crop": d.face_crop,
        "temperature": f"{temperature:.6g}",
        "provenance": json.dumps(provenance, sort_keys=True),
    }


def export_onnx(model: nn.Module, config: TrainConfig, output: str | Path, provenance: dict[str, Any],
                opset: int = 17, tolerance: float = 1e-4, flip_tta: bool = False,
                temperature: float = 1.0) -> ExportResult:
    """Write ``model`` (eval mode) as ONNX with registry metadata and check it against torch."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    channels = 1 if config.data.colour == "gray" else 3
    size = config.data.input_size
    wrapped = WithSoftmax(model, flip_tta).eval()
    dummy = torch.zeros(1, channels, size, size)
    torch.onnx.export(wrapped, (dummy,), str(output), input_names=["input"], output_names=["probabilities"],
                      dynamic_axes={"input": {0: "batch"}, "probabilities": {0: "batch"}}, opset_version=opset,
                      dynamo=False)
    metadata = registry_metadata(config, provenance, temperature)
    write_metadata(output, metadata)
    x = torch.from_numpy(np.random.default_rng(0).normal(size=(4, channels, size, size)).astype(np.float32))
    diff = check_against_torch(output, wrapped, {"input": x}, tolerance)
    return ExportResult(output, sha256_of(output), diff, metadata)


def write_metadata(output: Path, metadata: dict[str, str]) -> None:
    """Replace the ONNX file's metadata_props, check and save it."""
    import onnx

    proto = onnx.load(str(output))
    del proto.metadata_props[:]
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name = "fer_ros.training.export"
    onnx.checker.check_model(proto)
    onnx.save(proto, str(output))


def check_against_torch(output: Path, wrapped: nn.Module, feeds: dict[str, torch.Tensor], tolerance: float) -> float:
    """Max |onnxruntime - torch| of the first output on ``feeds``; RuntimeError above ``tolerance``."""
    from fer_ros.core.onnx_session import create_session

    with torch.no_grad():
        expected = wrapped(*feeds.values())
    expected = (expected[0] if isinstance(expected, tuple) else expected).numpy()
    session = create_session(output)
    got = session.run(None, {k: v.numpy() for k, v in feeds.items()})[0]
    diff = float(np.abs(got - expected).max())
    if diff > tolerance:
        raise RuntimeError(f"onnxruntime and torch disagree by {diff:.3g} (> {tolerance}) for {output}")
    return diff


class MGLNOutputs(nn.Module):
    """MGLN for export: fused probabilities first, then the GFM's and the PBM's own."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, face: torch.Tensor, parts: torch.Tensor) -> tuple[torch.Tensor, ...]:
        g, p = self.model.forward_modules(face, parts)
        return self.model.fuse(g, p), torch.softmax(g, dim=1), torch.softmax(p, dim=1)


def temporal_metadata(config: TrainConfig, provenance: dict[str, Any]) -> dict[str, str]:
    """Metadata of a temporal (MGLN) export, read by ``fer_ros.core.temporal``."""
    from fer_ros.core.part_crops import PARTS

    s = config.sequence
    metadata = registry_metadata(config, provenance)
    metadata.update(input_size=f"{s.face_size},{s.face_size}", model_type="mgln", part_size=f"{s.part_size[0]},"
                    f"{s.part_size[1]}", parts=",".join(PARTS), frames="3", window=str(s.window),
                    frame_selection="onset = first frame of the window, peak = least neutral single-frame "
                                    "prediction, middle = halfway between them")
    return metadata


def export_mgln(model: nn.Module, config: TrainConfig, output: str | Path, provenance: dict[str, Any],
                opset: int = 17, tolerance: float = 1e-4) -> ExportResult:
    """Write an MGLN (inputs ``face`` [N,1,H,W], ``parts`` [N,3,3,h,w]) and check it against torch."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    s = config.sequence
    wrapped = MGLNOutputs(model).eval()
    rng = np.random.default_rng(0)
    face = torch.from_numpy(rng.normal(size=(4, 1, s.face_size, s.face_size)).astype(np.float32))
    parts = torch.from_numpy(rng.normal(size=(4, 3, 3, s.part_size[1], s.part_size[0])).astype(np.float32))
    names = ["probabilities", "global_probabilities", "part_probabilities"]
    torch.onnx.export(wrapped, (face[:1], parts[:1]), str(output), input_names=["face", "parts"], output_names=names,
                      dynamic_axes={k: {0: "batch"} for k in ["face", "parts", *names]}, opset_version=opset,
                      dynamo=False)
    metadata = temporal_metadata(config, provenance)
    write_metadata(output, metadata)
    diff = check_against_torch(output, wrapped, {"face": face, "parts": parts}, tolerance)
    return ExportResult(output, sha256_of(output), diff, metadata)


def export_checkpoint(checkpoint: str | Path, output: str | Path, opset: int = 17,
                      flip_tta: bool = False, note: str = "", temperature: float = 1.0) -> ExportResult:
    """Export a ``best.pt``/``last.pt`` checkpoint with its training provenance."""
    model, config, state = load_model(checkpoint)
    history = state.get("history", [])
    provenance = {
        "trained_with": "fer_ros.training (fer-ros-train)",
        "model": config.model.name,
        "model_kwargs": config.model.kwargs,
        "mode": config.mode,
        "train_dir": config.data.train_dir,
        "val_dir": config.data.val_dir,
        "label_noise": config.data.label_noise,
        "epoch": state.get("epoch"),
        "epochs_configured": config.epochs,
        "val_acc": history[state["epoch"] - 1]["val_acc"] if history and state.get("epoch") else None,
        "best_val_acc": state.get("best_acc"),
        "git_commit": git_commit(Path(__file__).resolve().parent),
        "parameters": sum(p.numel() for p in model.parameters()),
        "seed": config.seed,
        "resize_interpolation": config.data.interpolation,
        "flip_tta_in_graph": flip_tta,
    }
    d = config.data
    if d.extra_train or d.ferplus_target != "majority" or d.source_size:
        provenance.update(ferplus_target=d.ferplus_target, extra_train=d.extra_train, extra_val=d.extra_val,
                          source_size=d.source_size, face_crop=d.face_crop,
                          augment=config_to_dict(config)["augment"])
    provenance["val_history"] = [{k: v for k, v in h.items() if k.endswith("_acc") or k == "epoch"}
                                 for h in history]
    for key in ("init_from", "teacher"):  # runs that started from, or learned from, another checkpoint
        if getattr(config, key):
            provenance[key] = getattr(config, key)
    if note:
        provenance["note"] = note
    if config.mode == "mgln":
        provenance.update(sequence=config_to_dict(config)["sequence"], val_acc=None,
                          train_accuracy_last_epoch=history[-1]["train_acc"] if history else None)
        return export_mgln(model, config, output, provenance, opset=opset)
    return export_onnx(model, config, output, provenance, opset=opset, flip_tta=flip_tta, temperature=temperature)
