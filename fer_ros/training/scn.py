"""Self-Cure Network (SCN) wrapper, rank regularisation and relabelling.

Wang, Peng, Yang, Meng & Qiao, "Suppressing Uncertainties for Large-Scale Facial Expression
Recognition", CVPR 2020. A backbone's pooled feature feeds (1) the classifier and (2) a small
self-attention importance branch, an FC layer + sigmoid giving one weight alpha_i per sample. The
logits are scaled by alpha_i (logit-weighted cross-entropy). Rank regularisation sorts the weights of
a batch, splits them at ratio beta (high-importance group first) and asks the high-group mean to
exceed the low-group mean by a margin delta1: L_RR = max(0, delta1 - (mean_H - mean_L)). After a
warm-up, samples in the low-importance group are relabelled to the predicted class when
max prob - prob of the given label > delta2.
"""

from __future__ import annotations

import torch
from torch import nn


class SelfCureNetwork(nn.Module):
    """Wraps any registry backbone (``forward_features`` + ``classifier``) with the SCN attention branch."""

    def __init__(self, backbone: nn.Module, dropout: float = 0.0) -> None:
        super().__init__()
        if not isinstance(getattr(backbone, "classifier", None), nn.Linear):
            raise ValueError(f"SCN needs a backbone whose classifier is a linear layer on pooled features; "
                             f"{type(backbone).__name__} has {type(getattr(backbone, 'classifier', None)).__name__} "
                             f"(mini_xception: use head 'linear')")
        self.backbone = backbone
        self.attention = nn.Sequential(nn.Dropout(dropout), nn.Linear(backbone.num_features, 1), nn.Sigmoid())

    def forward_with_weights(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.backbone.forward_features(x)
        alpha = self.attention(features)  # (N, 1)
        dropout = getattr(self.backbone, "dropout", nn.Identity())
        logits = self.backbone.classifier(dropout(features))
        return alpha * logits, alpha.squeeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_weights(x)[0]


def rank_regularisation(alpha: torch.Tensor, beta: float = 0.7, margin: float = 0.15) -> torch.Tensor:
    """max(0, margin - (mean of the top round(beta*N) weights - mean of the rest))."""
    n = alpha.numel()
    if n < 2:
        return alpha.sum() * 0.0
    high_count = min(max(int(round(beta * n)), 1), n - 1)
    ordered, _ = torch.sort(alpha.flatten(), descending=True)
    gap = ordered[:high_count].mean() - ordered[high_count:].mean()
    return torch.clamp(margin - gap, min=0.0)


@torch.no_grad()
def relabel(
    logits: torch.Tensor, targets: torch.Tensor, alpha: torch.Tensor, beta: float = 0.7, margin: float = 0.2
) -> torch.Tensor:
    """New targets for the batch: low-importance samples whose best class beats the given label by > margin."""
    n = alpha.numel()
    high_count = min(max(int(round(beta * n)), 1), n)
    order = torch.argsort(alpha.flatten(), descending=True)
    low = torch.zeros(n, dtype=torch.bool, device=alpha.device)
    low[order[high_count:]] = True
    probs = torch.softmax(logits, dim=1)
    p_max, predicted = probs.max(dim=1)
    p_given = probs.gather(1, targets.view(-1, 1)).squeeze(1)
    change = low & (p_max - p_given > margin)
    return torch.where(change, predicted, targets)
