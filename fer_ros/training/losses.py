"""Loss functions: soft-target cross-entropy used by label distribution training.

Label distribution training follows Zhao, Liu & Wang, "Robust Lightweight Facial Expression
Recognition Network with Label Distribution Training", AAAI 2021: a frozen teacher network (the
label distribution generator, LDG) turns each training image into a distribution over the classes
(softmax of its logits), and the student is trained with cross-entropy against that distribution
instead of the one-hot label.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def soft_cross_entropy(logits: torch.Tensor, target_dist: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ``-sum_c q_c log softmax(logits)_c``."""
    if logits.shape != target_dist.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and targets {tuple(target_dist.shape)} differ")
    return -(target_dist * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


@torch.no_grad()
def teacher_distribution(teacher: torch.nn.Module, x: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Label distribution produced by a frozen teacher: softmax(logits / T)."""
    teacher.eval()
    return F.softmax(teacher(x) / temperature, dim=1)
