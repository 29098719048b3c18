"""Checkpoints: save/restore a training state and rebuild the trained model from a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from fer_ros.training.config import TrainConfig, config_from_dict
from fer_ros.training.models import build_model
from fer_ros.training.scn import SelfCureNetwork


def build_training_model(config: TrainConfig) -> nn.Module:
    """The registry model for ``config``, wrapped in an SCN when mode is 'scn'."""
    channels = 1 if config.data.colour == "gray" else 3
    model = build_model(config.model.name, len(config.data.labels), channels, **config.model.kwargs)
    if config.mode == "scn":
        model = SelfCureNetwork(model, dropout=config.scn.dropout)
    return model


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    tmp.replace(path)  # atomic: a crash mid-write never corrupts the last good checkpoint


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    return torch.load(path, map_location="cpu", weights_only=False)


def load_model(path: str | Path) -> tuple[nn.Module, TrainConfig, dict[str, Any]]:
    """Rebuild the model stored in a checkpoint (eval mode) with its config and the raw state."""
    state = load_checkpoint(path)
    config = config_from_dict(state["config"])
    model = build_training_model(config)
    model.load_state_dict(state["model_state"])
    model.eval()
    return model, config, state
