"""Model registry: build an emotion classifier by name.

Every model maps (N, C, H, W) normalised images to (N, num_classes) logits and exposes
``forward_features(x) -> (N, num_features)`` plus a linear ``classifier``, so wrappers such as the
Self-Cure Network can attach to any backbone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    def wrap(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        _REGISTRY[name] = factory
        return factory

    return wrap


def model_names() -> list[str]:
    _load_all()
    return sorted(_REGISTRY)


def build_model(name: str, num_classes: int = 7, in_channels: int = 1, **kwargs: Any) -> nn.Module:
    _load_all()
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name](num_classes=num_classes, in_channels=in_channels, **kwargs)


def _load_all() -> None:
    from fer_ros.training.models import fer_resnet  # noqa: F401
    try:  # modules added incrementally
        from fer_ros.training.models import arm, efficientface, mgln, mini_xception  # noqa: F401
    except ImportError:
        pass
