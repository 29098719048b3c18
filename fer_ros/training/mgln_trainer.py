"""Training mode ``mgln``: the multi-task global-local network on labelled face sequences.

Called by ``fer_ros.training.trainer.train`` when ``config.mode == "mgln"``. ``data.train_dir`` is a
sequence folder (``<class>/<sequence>/<frames>``); the sequences of ``sequence.holdout_subjects`` are the
validation set (a LOSO fold), never trained on. Each epoch draws ``samples_per_sequence`` jittered
(onset, middle, peak) triplets per sequence, plus neutral pseudo-sequences from the first frames. The
SSM and GFM start from a trained fer_resnet (``sequence.init_emotion_model``) with their BatchNorm
statistics frozen (36 sequences cannot re-estimate them). Validation uses the first, middle and last
frame. The run folder gets ``config.json``, ``last.pt`` (every epoch; resume; the model to export: no
epoch is picked on the held-out subject), ``metrics.json`` with the per-sequence validation
probabilities of the last epoch.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from fer_ros.core.part_crops import CropSizes
from fer_ros.training.checkpoint import load_checkpoint, save_checkpoint
from fer_ros.training.config import TrainConfig, config_to_dict, save_config
from fer_ros.training.models import build_model
from fer_ros.training.models.mgln import MGLN, init_from_fer_resnet, mgln_loss
from fer_ros.training.sequences import (
    FaceSequence,
    crops,
    load_face_sequences,
    load_still_sequences,
    neutral_triplet,
    triplet,
)

log = logging.getLogger("fer_ros.training")


def crop_sizes(config: TrainConfig) -> CropSizes:
    s = config.sequence
    return CropSizes(face=(s.face_size, s.face_size), part=tuple(s.part_size))


def split(sequences: list[FaceSequence], holdout: tuple[str, ...]) -> tuple[list[FaceSequence], list[FaceSequence]]:
    """(train, validation) by subject: a subject is never on both sides."""
    val = [s for s in sequences if s.subject in holdout]
    missing = set(holdout) - {s.subject for s in sequences}
    if missing:
        raise ValueError(f"holdout subjects {sorted(missing)} have no sequence")
    return [s for s in sequences if s.subject not in holdout], val


def to_input(faces: np.ndarray, parts: np.ndarray, config: TrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 (N, H, W) and (N, 3, 3, h, w) -> normalised float tensors (N, 1, H, W), (N, 3, 3, h, w)."""
    d = config.data
    face = (torch.from_numpy(faces).float().unsqueeze(1) / 255.0 - d.mean) / d.std
    part = (torch.from_numpy(parts).float() / 255.0 - d.mean) / d.std
    return face, part


def build_mgln(config: TrainConfig) -> MGLN:
    model = build_model("mgln", len(config.data.labels), 1, **config.model.kwargs)
    if not isinstance(model, MGLN):
        raise ValueError("mode 'mgln' needs model.name 'mgln'")
    return model


def _initialise(model: MGLN, source: str) -> None:
    if not source:
        return
    path = source
    if not source.endswith((".pt", ".onnx")):
        from fer_ros.core.model_registry import resolve_model

        path = str(resolve_model(source, "emotion")[1])
    init_from_fer_resnet(model, path)
    log.info("initialised SSM + GFM from %s", path)


def _pretrained_parameters(model: MGLN) -> set[int]:
    """Ids of the parameters copied from fer_resnet (SSM, GFM stages except the deformable block, head)."""
    from fer_ros.training.models.mgln import DeformResidual

    fresh = {id(p) for m in model.gfm.modules() if isinstance(m, DeformResidual) for p in m.parameters()}
    return {id(p) for p in [*model.ssm.parameters(), *model.gfm.parameters()] if id(p) not in fresh}


def freeze_pretrained_bn(model: MGLN) -> None:
    """Keep the BatchNorm statistics of the initialised SSM + GFM (eval mode inside model.train())."""
    from fer_ros.training.models.mgln import DeformResidual

    fresh = {id(m) for d in model.gfm.modules() if isinstance(d, DeformResidual) for m in d.modules()}
    for module in [*model.ssm.modules(), *model.gfm.modules()]:
        if isinstance(module, nn.BatchNorm2d) and id(module) not in fresh:
            module.eval()


def make_batch(items: list[tuple[FaceSequence, tuple[int, int, int], int]], config: TrainConfig,
               rng: np.random.Generator | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    sizes = crop_sizes(config)
    faces, parts = zip(*(crops(seq, idx, sizes, rng, config.sequence.jitter) for seq, idx, _ in items))
    face, part = to_input(np.stack(faces), np.stack(parts), config)
    if rng is not None:
        a = config.augment
        n = len(items)
        if a.hflip:  # eyes/nose/mouth windows are centred on the face: a mirror is a valid sample
            flip = torch.from_numpy(rng.random(n) < 0.5)
            face[flip] = face[flip].flip(-1)
            part[flip] = part[flip].flip(-1)
        gain = torch.from_numpy(1.0 + rng.uniform(-a.contrast, a.contrast, n)).float()
        shift = torch.from_numpy(rng.uniform(-a.brightness, a.brightness, n)).float() / config.data.std
        face = face * gain.view(-1, 1, 1, 1) + shift.view(-1, 1, 1, 1)
        part = part * gain.view(-1, 1, 1, 1, 1) + shift.view(-1, 1, 1, 1, 1)
    return face, part, torch.tensor([label for _, _, label in items])


def epoch_samples(sequences: list[FaceSequence], config: TrainConfig, neutral: int | None,
                  rng: np.random.Generator) -> list[tuple[FaceSequence, tuple[int, int, int], int]]:
    s = config.sequence
    out = []
    for seq in sequences:
        n = len(seq.regions)
        out += [(seq, triplet(n, rng), seq.label) for _ in range(s.samples_per_sequence)]
        if neutral is not None:
            out += [(seq, neutral_triplet(n, rng), neutral) for _ in range(s.neutral_per_sequence)]
    return [out[i] for i in rng.permutation(len(out))]


@torch.no_grad()
def predict_sequences(model: MGLN, sequences: list[FaceSequence], config: TrainConfig) -> dict[str, np.ndarray]:
    """Fused, GFM and PBM probabilities on (first, middle, last) of every sequence."""
    model.eval()
    if not sequences:
        return {"fused": np.zeros((0, len(config.data.labels))), "global": np.zeros((0,)), "part": np.zeros((0,))}
    face, part, _ = make_batch([(s, triplet(len(s.regions)), s.label) for s in sequences], config, None)
    g, p = model.forward_modules(face, part)
    return {"fused": model.fuse(g, p).numpy(), "global": torch.softmax(g, 1).numpy(),
            "part": torch.softmax(p, 1).numpy()}


def train_mgln(config: TrainConfig, resume: bool = False) -> dict[str, Any]:
    from fer_ros.training.trainer import optimisation_step  # trainer imports this module lazily too

    run_dir = Path(config.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(config.num_threads)
    torch.manual_seed(config.seed)
    s = config.sequence
    labels = tuple(config.data.labels)
    neutral = labels.index("neutral") if "neutral" in labels and s.neutral_per_sequence > 0 else None
    sequences = load_face_sequences(config.data.train_dir, labels, s.detector, s.cache_dir)
    train_seqs, val_seqs = split(sequences, tuple(s.holdout_subjects))
    if s.pretrain_stills:  # the sequences stay the (unselected) validation set
        train_seqs, val_seqs = load_still_sequences(s.pretrain_stills, labels, s.pretrain_limit, config.seed), sequences
        neutral = None  # the stills have their own neutral class
    log.info("mgln: %d train sequences, %d held out (%s)", len(train_seqs), len(val_seqs),
             ",".join(s.holdout_subjects) or "none")
    save_config(config, run_dir / "config.json")

    model = build_mgln(config)
    resuming = resume and (run_dir / "last.pt").is_file()
    if not resuming and config.init_from:  # e.g. an MGLN pre-trained on stills
        model.load_state_dict(load_checkpoint(Path(config.init_from).expanduser())["model_state"])
        log.info("initialised the model from %s", config.init_from)
    elif not resuming:
        _initialise(model, s.init_emotion_model)
    pretrained = _pretrained_parameters(model) if s.init_emotion_model else set()
    groups = [{"params": [p for p in model.parameters() if id(p) not in pretrained], "lr": config.optim.lr},
              {"params": [p for p in model.parameters() if id(p) in pretrained],
               "lr": config.optim.lr * s.backbone_lr_scale}]
    optimizer = torch.optim.AdamW(groups, weight_decay=config.optim.weight_decay)
    per_epoch = len(train_seqs) * (s.samples_per_sequence + (s.neutral_per_sequence if neutral is not None else 0))
    steps = math.ceil(per_epoch / config.batch_size) * config.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.5 * (1.0 + math.cos(math.pi * min(1.0, step / max(1, steps)))))
    rng = np.random.default_rng(config.seed)
    history: list[dict[str, Any]] = []
    start = 0
    if resuming:
        state = load_checkpoint(run_dir / "last.pt")
        model.load_state_dict(state["model_state"])
        optimizer.load_state_dict(state["optimizer_state"])
        scheduler.load_state_dict(state["scheduler_state"])
        rng.bit_generator.state = state["rng_state"]
        history, start = state["history"], state["epoch"]
        log.info("resumed %s at epoch %d", run_dir, start)

    predictions: dict[str, np.ndarray] = {}
    for epoch in range(start, config.epochs):
        t0 = time.time()
        model.train()
        if s.init_emotion_model:
            freeze_pretrained_bn(model)
        samples = epoch_samples(train_seqs, config, neutral, rng)
        total, correct = 0.0, 0
        for b in range(0, len(samples), config.batch_size):
            chunk = samples[b:b + config.batch_size]
            if len(chunk) < 2:
                continue
            face, part, y = make_batch(chunk, config, rng)
            loss, fused = mgln_loss(model, face, part, y, config.optim.label_smoothing)
            optimisation_step(loss, optimizer, scheduler, epoch)
            total += loss.item() * len(chunk)
            correct += int((fused.argmax(1) == y).sum())
            if (b // config.batch_size + 1) % 100 == 0:
                log.info("  %d/%d samples, %.0f s", b + len(chunk), len(samples), time.time() - t0)
        predictions = predict_sequences(model, val_seqs, config)
        val_true = np.array([q.label for q in val_seqs])
        entry = {"epoch": epoch + 1, "train_loss": total / len(samples), "train_acc": correct / len(samples),
                 "val_acc": float((predictions["fused"].argmax(1) == val_true).mean()) if len(val_seqs) else None,
                 "fusion_weight": float(model.fusion_weight.item()), "seconds": time.time() - t0}
        history.append(entry)
        save_checkpoint(run_dir / "last.pt", {
            "config": config_to_dict(config), "model_state": model.state_dict(),
            "optimizer_state": optimizer.state_dict(), "scheduler_state": scheduler.state_dict(),
            "rng_state": rng.bit_generator.state, "epoch": epoch + 1, "history": history})
        log.info("epoch %d/%d loss %.4f acc %.3f | held-out acc %s | w_gfm %.2f | %.0fs", epoch + 1, config.epochs,
                 entry["train_loss"], entry["train_acc"], entry["val_acc"], entry["fusion_weight"], entry["seconds"])
    if not predictions:
        model.eval()
        predictions = predict_sequences(model, val_seqs, config)
    metrics = {"run_dir": str(run_dir), "mode": "mgln", "model": "mgln", "labels": list(labels),
               "holdout_subjects": list(s.holdout_subjects), "history": history,
               "best_val_acc": history[-1]["val_acc"] if history else None, "best_epoch": len(history),
               "train_subjects": sorted({q.subject for q in train_seqs}),
               "val_sequences": [q.key for q in val_seqs], "val_targets": [q.label for q in val_seqs],
               "val_probabilities": {k: v.tolist() for k, v in predictions.items()}}
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics
