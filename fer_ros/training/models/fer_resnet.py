"""Compact residual CNN for 48x48 gray faces: fer_ros's own trained default emotion model.

A ResNet-style network (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016) cut
down for cheap CPU inference: one 3x3 stem convolution at full resolution, then max-pool + basic
residual block stages that halve the resolution and double the width, global average pooling,
dropout and one linear layer. With the default widths (32, 32, 64, 128, 256) it has about 1.23 M
parameters and 36 M multiply-accumulates at 48x48.
"""

from __future__ import annotations

import torch
from torch import nn

from fer_ros.training.models import register


def conv_bn(cin: int, cout: int, kernel: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(cout)
    )


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with an identity (or 1x1 projection) shortcut."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1 = conv_bn(cin, cout)
        self.conv2 = conv_bn(cout, cout)
        self.shortcut = nn.Identity() if cin == cout else conv_bn(cin, cout, kernel=1)
        self.relu1 = nn.ReLU()
        self.relu2 = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(self.relu1(self.conv1(x)))
        return self.relu2(y + self.shortcut(x))


class FerResNet(nn.Module):
    def __init__(
        self,
        num_classes: int = 7,
        in_channels: int = 1,
        widths: tuple[int, ...] = (32, 32, 64, 128, 256),
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(conv_bn(in_channels, widths[0]), nn.ReLU(inplace=True))
        stages = []
        for cin, cout in zip(widths[:-1], widths[1:]):
            stages += [nn.MaxPool2d(2), BasicBlock(cin, cout)]
        self.stages = nn.Sequential(*stages)
        self.num_features = widths[-1]
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(self.num_features, num_classes)

    def forward_map(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_map(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.forward_features(x)))


@register("fer_resnet")
def fer_resnet(num_classes: int = 7, in_channels: int = 1, **kwargs) -> FerResNet:
    if "widths" in kwargs:
        kwargs["widths"] = tuple(kwargs["widths"])
    return FerResNet(num_classes=num_classes, in_channels=in_channels, **kwargs)
