"""Guided backpropagation saliency maps.

Springenberg et al., "Striving for Simplicity: The All Convolutional Net", ICLR 2015 workshop; used
for expression models by Arriaga, Valdenegro-Toro & Ploeger 2017 (arXiv:1710.07557) to show which
pixels drive a predicted emotion. The gradient of the predicted class score with respect to the input
is computed with every ReLU's backward pass modified to let only positive gradients through where
the forward input was positive.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn


class _GuidedReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # noqa: D102
        (x,) = ctx.saved_tensors
        return grad * (x > 0).to(grad.dtype) * (grad > 0).to(grad.dtype)


class GuidedReLU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _GuidedReLU.apply(x)


def _guided_copy(model: nn.Module) -> nn.Module:
    guided = copy.deepcopy(model).eval()
    for module in list(guided.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.ReLU):
                setattr(module, child_name, GuidedReLU())
    return guided


def guided_backprop(model: nn.Module, x: torch.Tensor, target: int | None = None) -> tuple[np.ndarray, int, np.ndarray]:
    """Saliency (H, W, float32 in [0, 1]) for one image ``x`` (1, C, H, W), the class and its probabilities."""
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"expected one image as (1, C, H, W), got {tuple(x.shape)}")
    guided = _guided_copy(model)
    x = x.clone().requires_grad_(True)
    logits = guided(x)
    probs = torch.softmax(logits, dim=1)[0].detach().numpy()
    cls = int(probs.argmax()) if target is None else int(target)
    logits[0, cls].backward()
    grad = x.grad[0].abs().amax(dim=0).numpy()  # max over channels
    grad = grad - grad.min()
    peak = grad.max()
    return (grad / peak if peak > 0 else grad).astype(np.float32), cls, probs
