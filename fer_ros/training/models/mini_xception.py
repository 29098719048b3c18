"""mini-Xception for facial expression recognition.

Arriaga, Valdenegro-Toro & Ploeger, "Real-time Convolutional Neural Networks for Emotion and Gender
Classification", arXiv:1710.07557, 2017. A fully-convolutional network of about 60k parameters: two
plain 3x3 convolutions (8 filters), then four residual modules of depthwise-separable convolutions
(16, 32, 64, 128 filters; each module: separable conv - BN - ReLU - separable conv - BN - 3x3/2 max
pool, with a strided 1x1 convolution + BN on the shortcut), no fully connected hidden layers and
global average pooling before the softmax. The paper's last convolution maps to the class count and
is followed by global average pooling; here it is a 1x1 convolution, written as global average
pooling followed by a linear layer (the same function), so the Self-Cure Network can attach to it.
"""

from __future__ import annotations

import torch
from torch import nn

from fer_ros.training.models import register


class SeparableConv(nn.Sequential):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(
            nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False), nn.Conv2d(cin, cout, 1, bias=False)
        )


class XceptionModule(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.residual = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=2, bias=False), nn.BatchNorm2d(cout))
        self.main = nn.Sequential(
            SeparableConv(cin, cout), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
            SeparableConv(cout, cout), nn.BatchNorm2d(cout),
            nn.MaxPool2d(3, stride=2, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x) + self.residual(x)


class MiniXception(nn.Module):
    def __init__(self, num_classes: int = 7, in_channels: int = 1, widths: tuple[int, ...] = (16, 32, 64, 128),
                 stem_width: int = 8) -> None:
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
        self.classifier = nn.Linear(cin, num_classes)

    def forward_map(self, x: torch.Tensor) -> torch.Tensor:
        return self.modules_(self.stem(x))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_map(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.forward_features(x))


@register("mini_xception")
def mini_xception(num_classes: int = 7, in_channels: int = 1, **kwargs) -> MiniXception:
    if "widths" in kwargs:
        kwargs["widths"] = tuple(kwargs["widths"])
    return MiniXception(num_classes=num_classes, in_channels=in_channels, **kwargs)
