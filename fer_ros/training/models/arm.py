"""ARM: amending facial expression representations (de-albino + sharing affinity).

Shi, Zhu & Wang, "Learning to Amend Facial Expression Representation via De-albino and Affinity",
arXiv:2103.10189, 2021. Two pieces attachable to any registry backbone that exposes its last feature
map (``forward_map``) -- here a wrapper ``ARM(backbone)``:

* **De-albino module**, replacing the final global average pooling. Zero padding in the convolution
  stack erodes ("albino-ises") the border cells of the last feature map, and plain averaging weights
  them like the centre. The module learns a spatial weighting kernel of the size of the final map
  (shared by groups of channels, initialised to down-weight the border ring), normalised with a
  softmax over positions, so the pooled feature is a learnt weighted mean that trusts the centre more.
* **Sharing-affinity block**: the pooled feature is split into a main half and an affinity half. The
  affinity half carries what faces share regardless of expression; its batch mean (a running
  average at inference, like batch normalisation) is removed before it is added back to the main
  half, so the classifier sees the expression-specific residual. The classifier is a linear layer on
  the amended (half-width) feature.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fer_ros.training.models import build_model, register


class DeAlbino(nn.Module):
    """Learnt spatial weighted mean over an (H, W) map, one kernel per channel group."""

    def __init__(self, channels: int, size: tuple[int, int], groups: int = 8, border_logit: float = -1.0) -> None:
        super().__init__()
        if channels % groups:
            raise ValueError(f"channels ({channels}) must be divisible by groups ({groups})")
        self.groups = groups
        h, w = size
        init = torch.zeros(groups, h, w)
        if h > 2 and w > 2:
            init[:, 0, :] = init[:, -1, :] = init[:, :, 0] = init[:, :, -1] = border_logit
        self.logits = nn.Parameter(init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        if (h, w) != tuple(self.logits.shape[1:]):
            raise ValueError(f"de-albino kernel is {tuple(self.logits.shape[1:])} but the feature map is {(h, w)}")
        weights = F.softmax(self.logits.view(self.groups, -1), dim=1)  # (G, HW), each row sums to 1
        x = x.reshape(n, self.groups, c // self.groups, h * w)
        return torch.einsum("ngcp,gp->ngc", x, weights).reshape(n, c)


class SharingAffinity(nn.Module):
    """main half + (affinity half - its shared mean); the shared mean is tracked like BN statistics."""

    def __init__(self, features: int, momentum: float = 0.1) -> None:
        super().__init__()
        if features % 2:
            raise ValueError("sharing affinity needs an even feature width")
        self.momentum = momentum
        self.register_buffer("shared_mean", torch.zeros(features // 2))
        self.out_features = features // 2

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        main, affinity = f.chunk(2, dim=1)
        if self.training and f.shape[0] > 1:
            shared = affinity.mean(dim=0)
            with torch.no_grad():
                self.shared_mean.mul_(1 - self.momentum).add_(self.momentum * shared)
        else:
            shared = self.shared_mean
        return main + (affinity - shared)


class ARM(nn.Module):
    """Backbone feature map -> de-albino pooling -> sharing affinity -> linear classifier."""

    def __init__(self, backbone: nn.Module, map_size: tuple[int, int], num_classes: int = 7,
                 groups: int = 8, dropout: float = 0.0) -> None:
        super().__init__()
        if not hasattr(backbone, "forward_map"):
            raise TypeError(f"{type(backbone).__name__} has no forward_map(); ARM needs the last feature map")
        self.backbone = backbone
        self.dealbino = DeAlbino(backbone.num_features, map_size, groups)
        self.affinity = SharingAffinity(backbone.num_features)
        self.num_features = self.affinity.out_features
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(self.num_features, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.affinity(self.dealbino(self.backbone.forward_map(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.forward_features(x)))


@register("arm")
def arm(num_classes: int = 7, in_channels: int = 1, backbone: str = "fer_resnet", input_size: int = 48,
        groups: int = 8, dropout: float = 0.0, backbone_kwargs: dict | None = None) -> ARM:
    net = build_model(backbone, num_classes, in_channels, **(backbone_kwargs or {}))
    with torch.no_grad():
        was_training = net.training
        net.eval()
        size = tuple(net.forward_map(torch.zeros(1, in_channels, input_size, input_size)).shape[2:])
        net.train(was_training)
    return ARM(net, size, num_classes, groups, dropout)
