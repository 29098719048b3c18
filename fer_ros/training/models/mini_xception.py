"""mini-Xception for facial expression recognition.

Arriaga, Valdenegro-Toro & Ploeger, "Real-time Convolutional Neural Networks for Emotion and Gender
Classification", arXiv:1710.07557, 2017. A fully-convolutional network of about 60k parameters: two
plain 3x3 convolutions (8 filters), then four residual modules of depthwise-separable convolutions
(16, 32, 64, 128 filters; each module: separable conv - BN - ReLU - separable conv - BN - 3x3/2 max
pool, with a strided 1x1 convolution + BN on the shortcut), no fully connected hidden layers and
global average pooling before the softmax. The paper's last layer is a 3x3 convolution to the class count followed
by global average pooling (``head="conv"``, as in the converted seed); the default ``head="linear"``
pools first and applies a linear layer, so the Self-Cure Network and ARM can attach to the features.
The 3x3/2 max pooling pads as Keras' ``padding="same"`` does (the extra row and column go after the
map on even sizes), so the converted seed weights compute the same function here and can be
fine-tuned (``init_from: models/emotion_mini_xception_fer2013.onnx``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fer_ros.training.models import register


class SeparableConv(nn.Sequential):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(
            nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False), nn.Conv2d(cin, cout, 1, bias=False)
        )


class SamePadMaxPool(nn.Module):
    """3x3 max pooling, stride 2, padded like Keras ``padding="same"``: output ceil(n / 2)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for n in (x.shape[-1], x.shape[-2]):  # F.pad order: last dimension first
            pads += [n % 2, 1]  # Keras pads 2 * ceil(n / 2) + 1 - n cells, the smaller half first
        return F.max_pool2d(F.pad(x, pads, value=float("-inf")), 3, stride=2)


class XceptionModule(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.residual = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=2, bias=False), nn.BatchNorm2d(cout))
        self.main = nn.Sequential(
            SeparableConv(cin, cout), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
            SeparableConv(cout, cout), nn.BatchNorm2d(cout),
            SamePadMaxPool(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x) + self.residual(x)


class MiniXception(nn.Module):
    def __init__(self, num_classes: int = 7, in_channels: int = 1, widths: tuple[int, ...] = (16, 32, 64, 128),
                 stem_width: int = 8, head: str = "linear") -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, stem_width, 3, bias=False), nn.BatchNorm2d(stem_width), nn.ReLU(inplace=True),
            nn.Conv2d(stem_width, stem_width, 3, bias=False), nn.BatchNorm2d(stem_width), nn.ReLU(inplace=True),
        )
        modules, cin = [], stem_width
        for width in widths:
            modules.append(XceptionModule(cin, width))
            cin = width
        self.modules_ = nn.Sequential(*modules)
        self.num_features = cin
        if head not in ("linear", "conv"):
            raise ValueError(f"mini_xception head must be 'linear' or 'conv', got {head!r}")
        self.head = head
        self.classifier = nn.Linear(cin, num_classes) if head == "linear" else nn.Conv2d(cin, num_classes, 3, padding=1)

    def forward_map(self, x: torch.Tensor) -> torch.Tensor:
        return self.modules_(self.stem(x))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_map(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.head == "conv":
            return self.classifier(self.forward_map(x)).mean(dim=(2, 3))
        return self.classifier(self.forward_features(x))


@register("mini_xception")
def mini_xception(num_classes: int = 7, in_channels: int = 1, **kwargs) -> MiniXception:
    if "widths" in kwargs:
        kwargs["widths"] = tuple(kwargs["widths"])
    return MiniXception(num_classes=num_classes, in_channels=in_channels, **kwargs)
