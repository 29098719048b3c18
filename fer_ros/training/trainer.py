"""Training loop: preloaded data, batch augmentation, per-epoch validation, checkpoints and resume.

Modes: ``ce`` (label-smoothed cross-entropy), ``scn`` (Self-Cure Network: logit-weighted CE + rank
regularisation + relabelling), ``ld`` (label distribution training against a frozen teacher), ``mgln``
(the temporal MGLN on face sequences, ``fer_ros.training.mgln_trainer``).
A run folder gets ``config.json``, ``last.pt`` (every epoch, used by resume), ``best.pt`` (best
validation accuracy), ``metrics.json`` and ``curves.png``.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fer_ros.training import augment as aug
from fer_ros.training.checkpoint import build_training_model, load_checkpoint, load_model, save_checkpoint
from fer_ros.training.config import TrainConfig, config_to_dict, save_config
from fer_ros.training.data import ImageSet, concat_sets, inject_label_noise, load_dataset, stratified_subset
from fer_ros.training.losses import adapt_to_teacher, check_teacher_colour, soft_cross_entropy, teacher_distribution
from fer_ros.training.metrics import accuracy, confusion_matrix, per_class_recall
from fer_ros.training.scn import SelfCureNetwork, rank_regularisation, relabel

log = logging.getLogger("fer_ros.training")


@dataclass
class EvalResult:
    accuracy: float
    loss: float
    recall: list[float]
    confusion: list[list[int]]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@torch.no_grad()
def evaluate(model: nn.Module, data: ImageSet, config: TrainConfig, device: torch.device) -> EvalResult:
    model.eval()
    images = torch.from_numpy(data.images)
    predictions, losses = [], []
    for start in range(0, len(images), 512):
        x = aug.normalise(aug.to_float(images[start : start + 512]), config.data.mean, config.data.std)
        logits = model(x.to(device))
        y = torch.from_numpy(data.targets[start : start + 512]).to(device)
        losses.append(F.cross_entropy(logits, y, reduction="sum").item())
        predictions.append(logits.argmax(1).cpu().numpy())
    matrix = confusion_matrix(data.targets, np.concatenate(predictions), len(data.labels))
    correct = accuracy(matrix) * len(data.targets) / (len(data.targets) + data.missing)
    return EvalResult(correct, sum(losses) / len(data.targets), per_class_recall(matrix).tolist(), matrix.tolist())


def lr_factor(step: int, total: int, warmup: int, schedule: str) -> float:
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def optimisation_step(loss: torch.Tensor, optimizer: torch.optim.Optimizer, scheduler, epoch: int) -> None:
    """Backward, optimiser and scheduler step; a non-finite loss stops training with a clear error."""
    if not torch.isfinite(loss):
        raise FloatingPointError(f"non-finite loss at epoch {epoch + 1}; lower the learning rate")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    scheduler.step()


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    decay, no_decay = [], []
    for param in model.parameters():
        (no_decay if param.ndim <= 1 else decay).append(param)
    groups = [
        {"params": decay, "weight_decay": config.optim.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    if config.optim.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.optim.lr, momentum=config.optim.momentum, nesterov=True)
    if config.optim.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=config.optim.lr)
    raise ValueError(f"unknown optimizer {config.optim.optimizer!r} (use 'sgd' or 'adamw')")


def save_curves(history: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, [h["train_loss"] for h in history], label="train")
    ax_loss.plot(epochs, [h["val_loss"] for h in history], label="val")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss")
    ax_loss.legend()
    ax_acc.plot(epochs, [h["train_acc"] for h in history], label="train (augmented)")
    ax_acc.plot(epochs, [h["val_acc"] for h in history], label="val")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy")
    ax_acc.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def load_datasets(config: TrainConfig) -> tuple[ImageSet, ImageSet, np.ndarray]:
    """Train and val sets; the returned clean train targets are kept for noise statistics."""
    d = config.data
    size = d.source_size or d.input_size
    train = load_dataset(d.train_dir, d, d.ferplus_target, size)
    if d.extra_train:
        for entry in d.extra_train:
            if set(entry) - {"dir", "target"} or "dir" not in entry:
                raise ValueError(f"extra_train entries need dir (and target), got {entry}")
        train = concat_sets([train] + [load_dataset(e["dir"], d, e.get("target", d.ferplus_target), size)
                                       for e in d.extra_train])
    val = load_dataset(d.val_dir, d, "majority", d.input_size)
    if d.train_subset:
        train = train.subset(stratified_subset(train.targets, d.train_subset, d.noise_seed))
    clean = train.targets.copy()
    if d.label_noise > 0:
        train.targets = inject_label_noise(train.targets, d.label_noise, len(d.labels), d.noise_seed)
    return train, val, clean


def initialise(model: nn.Module, config: TrainConfig, train_set: ImageSet) -> None:
    """Weights from ``init_from``: a training checkpoint, or an exported ONNX file of the same network."""
    if str(config.init_from).endswith(".onnx"):
        from fer_ros.training.onnx_weights import load_onnx_weights, recalibrate_batchnorm

        target = model.backbone if isinstance(model, SelfCureNetwork) else model  # the exported network
        load_onnx_weights(target, config.init_from)
        d = config.data
        batch = torch.from_numpy(train_set.images[: min(512, len(train_set.images))])
        x = F.interpolate(aug.to_float(batch), size=(d.input_size, d.input_size), mode="bilinear",
                          align_corners=False)
        recalibrate_batchnorm(target, aug.normalise(x, d.mean, d.std))
    else:
        model.load_state_dict(load_checkpoint(config.init_from)["model_state"])


def load_extra_val(config: TrainConfig) -> dict[str, ImageSet]:
    """The ``extra_val`` dev sets; ``photos`` ones become the chips the product would classify."""
    from fer_ros.training.product_crops import photo_chips

    sets = {}
    for entry in config.data.extra_val:
        unknown = set(entry) - {"name", "dir", "mode"}
        if unknown or "name" not in entry or "dir" not in entry:
            raise ValueError(f"extra_val entries need name, dir (and mode: crops|photos), got {entry}")
        mode = entry.get("mode", "crops")
        if mode == "photos":
            sets[entry["name"]] = photo_chips(entry["dir"], config.data)
        elif mode == "crops":
            sets[entry["name"]] = load_dataset(entry["dir"], config.data, "majority", config.data.input_size)
        else:
            raise ValueError(f"extra_val mode must be crops or photos, got {mode!r}")
    return sets


def train(config: TrainConfig, resume: bool = False) -> dict[str, Any]:
    """Run (or resume) training as configured; returns the metrics dict also written to metrics.json."""
    if config.mode == "mgln":  # temporal model on face sequences: its own data and loop
        from fer_ros.training.mgln_trainer import train_mgln

        return train_mgln(config, resume)
    run_dir = Path(config.run_dir).expanduser()
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(config.num_threads)
    seed_everything(config.seed)
    device = pick_device(config.device)
    if config.mode not in ("ce", "scn", "ld"):
        raise ValueError(f"unknown mode {config.mode!r} (use 'ce', 'scn', 'ld' or 'mgln')")

    t0 = time.time()
    train_set, val_set, clean_targets = load_datasets(config)
    log.info("loaded %d train / %d val images in %.1fs", len(train_set.targets), len(val_set.targets),
             time.time() - t0)
    save_config(config, run_dir / "config.json")

    resuming = resume and (run_dir / "last.pt").is_file()
    model = build_training_model(config)
    if config.init_from and not resuming:  # a resumed run continues from its own last.pt instead
        initialise(model, config, train_set)
        log.info("initialised the model from %s", config.init_from)
    extra_sets = load_extra_val(config)
    model = model.to(device)
    teacher = None
    if config.mode == "ld":
        if not config.teacher:
            raise ValueError("mode 'ld' needs 'teacher': a checkpoint of the label distribution generator")
        teacher, teacher_config, _ = load_model(config.teacher)
        check_teacher_colour(config.data, teacher_config.data)
        teacher = teacher.to(device).eval()
        for p in teacher.parameters():
            p.requires_grad_(False)

    optimizer = make_optimizer(model, config)
    steps_per_epoch = math.ceil(len(train_set.targets) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    warmup = int(config.optim.warmup_epochs * steps_per_epoch)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(s, total_steps, warmup, config.optim.schedule)
    )
    history: list[dict[str, Any]] = []
    best_acc, best_epoch, start_epoch = -1.0, 0, 0
    generator = torch.Generator().manual_seed(config.seed)
    targets = torch.from_numpy(train_set.targets.copy())

    if resuming:
        state = load_checkpoint(run_dir / "last.pt")
        model.load_state_dict(state["model_state"])
        optimizer.load_state_dict(state["optimizer_state"])
        scheduler.load_state_dict(state["scheduler_state"])
        history, best_acc, best_epoch = state["history"], state["best_acc"], state["best_epoch"]
        start_epoch = state["epoch"]
        generator.set_state(state["generator_state"])
        torch.set_rng_state(state["torch_rng_state"])
        targets = state["targets"]
        log.info("resumed %s at epoch %d (best val acc %.4f)", run_dir, start_epoch, best_acc)

    images = torch.from_numpy(train_set.images)
    soft = torch.from_numpy(train_set.soft) if train_set.soft is not None else None
    d = config.data
    if soft is not None and config.mode != "ce":
        raise ValueError(f"FER+ target {d.ferplus_target!r} needs mode 'ce' (soft targets replace the labels)")
    for epoch in range(start_epoch, config.epochs):
        if config.early_stopping_patience and epoch - best_epoch >= config.early_stopping_patience:
            log.info("early stopping: no val improvement for %d epochs", epoch - best_epoch)
            break
        model.train()
        t_epoch = time.time()
        order = torch.randperm(len(targets), generator=generator)
        total_loss, correct, seen, relabelled = 0.0, 0, 0, 0
        batches = range(0, len(order), config.batch_size)
        if config.progress:
            from tqdm import tqdm

            batches = tqdm(batches, desc=f"epoch {epoch + 1}/{config.epochs}", mininterval=10, leave=False)
        for start in batches:
            idx = order[start : start + config.batch_size]
            if len(idx) < 2:
                continue
            x = aug.augment(aug.to_float(images[idx]), config.augment, generator, d.input_size)
            x = aug.normalise(aug.degrade(x, config.augment, generator), d.mean, d.std).to(device)
            y = targets[idx].to(device)
            if isinstance(model, SelfCureNetwork):
                logits, alpha = model.forward_with_weights(x)
                loss = F.cross_entropy(logits, y, label_smoothing=config.optim.label_smoothing)
                loss = loss + config.scn.rank_weight * rank_regularisation(alpha, config.scn.beta,
                                                                           config.scn.margin)
                if epoch >= config.scn.relabel_start_epoch:
                    new_y = relabel(logits.detach(), y, alpha.detach(), config.scn.beta,
                                    config.scn.relabel_margin)
                    relabelled += int((new_y != y).sum())
                    targets[idx] = new_y.cpu()
            elif teacher is not None:
                logits = model(x)
                teacher_x = adapt_to_teacher(x, config.data, teacher_config.data)
                loss = soft_cross_entropy(logits, teacher_distribution(teacher, teacher_x, config.ld_temperature))
            elif soft is not None and d.ferplus_target == "distribution":
                logits = model(x)
                loss = soft_cross_entropy(logits, soft[idx].to(device))
            else:
                if soft is not None and d.ferplus_target == "probability":  # a label drawn from the votes
                    y = torch.multinomial(soft[idx], 1, generator=generator).squeeze(1).to(device)
                logits = model(x)
                loss = F.cross_entropy(logits, y, label_smoothing=config.optim.label_smoothing)
            optimisation_step(loss, optimizer, scheduler, epoch)
            total_loss += loss.item() * len(idx)
            correct += int((logits.argmax(1) == y).sum())
            seen += len(idx)
        result = evaluate(model, val_set, config, device)
        entry = {
            "epoch": epoch + 1,
            "train_loss": total_loss / seen,
            "train_acc": correct / seen,
            "val_loss": result.loss,
            "val_acc": result.accuracy,
            "val_recall": result.recall,
            "lr": optimizer.param_groups[0]["lr"],
            "seconds": time.time() - t_epoch,
        }
        for name, extra in extra_sets.items():
            entry[f"{name}_acc"] = evaluate(model, extra, config, device).accuracy
        if config.mode == "scn":
            entry["relabelled"] = relabelled
            entry["train_labels_equal_clean"] = float((targets.numpy() == clean_targets).mean())
        history.append(entry)
        improved = result.accuracy > best_acc
        if improved:
            best_acc, best_epoch = result.accuracy, epoch + 1
        state = {
            "config": config_to_dict(config),
            "model_state": model.state_dict(),
            "optimizer_state": optimizer.state_dict(),
            "scheduler_state": scheduler.state_dict(),
            "epoch": epoch + 1,
            "history": history,
            "best_acc": best_acc,
            "best_epoch": best_epoch,
            "generator_state": generator.get_state(),
            "torch_rng_state": torch.get_rng_state(),
            "targets": targets,
            "val_confusion": result.confusion,
        }
        save_checkpoint(run_dir / "last.pt", state)
        if config.keep_epochs:
            save_checkpoint(run_dir / f"epoch_{epoch + 1:03d}.pt",
                            {k: state[k] for k in ("config", "model_state", "epoch", "history", "best_acc")})
        if improved:
            save_checkpoint(run_dir / "best.pt", state)
        log.info("epoch %d/%d train loss %.4f acc %.4f | val loss %.4f acc %.4f%s%s | %.0fs", epoch + 1,
                 config.epochs, entry["train_loss"], entry["train_acc"], result.loss, result.accuracy,
                 " *" if improved else "", "".join(f" | {n} {entry[f'{n}_acc']:.4f}" for n in extra_sets),
                 entry["seconds"])
        write_metrics(run_dir, config, history, best_acc, best_epoch)
    return write_metrics(run_dir, config, history, best_acc, best_epoch)


def write_metrics(run_dir: Path, config: TrainConfig, history: list[dict[str, Any]], best_acc: float,
                  best_epoch: int) -> dict[str, Any]:
    metrics = {"run_dir": str(run_dir), "mode": config.mode, "model": config.model.name,
               "best_val_acc": best_acc, "best_epoch": best_epoch, "history": history}
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    if history:
        save_curves(history, run_dir / "curves.png")
    return metrics
