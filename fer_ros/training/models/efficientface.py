"""EfficientFace: lightweight expression recognition network.

Zhao, Liu & Wang, "Robust Lightweight Facial Expression Recognition Network with Label Distribution
Training", AAAI 2021. Backbone: ShuffleNet-V2 (Ma et al., ECCV 2018: channel split, 1x1 - depthwise
3x3 - 1x1 branch, concatenation and channel shuffle; stride-2 units process both halves). Two
additions:

* **Local-feature extractor** on the stem output: the feature map is cut into 4 non-overlapping
  spatial patches (2 x 2 grid), each patch goes through its own depthwise 3x3 convolution (+BN, ReLU),
  and the patches are stitched back together. Here the stitched map is brought to the stage-2
  resolution and width by a stride-2 depthwise convolution and a 1x1 convolution (our choice: the
  paper only states that local and global features are fused), then added to the stage-2 output.
* **Channel-spatial modulator** after the fusion: a channel gate (global average pooling, two-layer
  MLP with reduction r) and a spatial gate (1x1 reduction, two dilated 3x3 convolutions, 1x1 to one
  map) are multiplied, squashed with a sigmoid, and scale the feature map.

With the ShuffleNet-V2 1.0x widths (116, 232, 464, conv5 1024) and 7 classes the model has about 1.28 M
parameters, as in the paper. Label distribution training (the paper's LDG) lives in
``fer_ros.training.losses`` and the ``ld`` trainer mode.
"""

from __future__ import annotations

import torch
from torch import nn

from fer_ros.training.models import register


def conv_bn_relu(cin: int, cout: int, kernel: int = 1, stride: int = 1, groups: int = 1, relu: bool = True,
                 dilation: int = 1) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, kernel, stride, dilation * (kernel // 2), dilation=dilation, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def channel_shuffle(x: torch.Tensor, groups: int = 2) -> torch.Tensor:
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class ShuffleUnit(nn.Module):
    """ShuffleNet-V2 unit: stride 1 splits the channels in half; stride 2 downsamples both branches."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        branch = cout // 2
        if stride == 2:
            self.shortcut = nn.Sequential(
                conv_bn_relu(cin, cin, 3, 2, groups=cin, relu=False), conv_bn_relu(cin, branch)
            )
            main_in = cin
        else:
            self.shortcut = None
            main_in = branch
        self.main = nn.Sequential(
            conv_bn_relu(main_in, branch),
            conv_bn_relu(branch, branch, 3, stride, groups=branch, relu=False),
            conv_bn_relu(branch, branch),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.shortcut is None:
            keep, process = x.chunk(2, dim=1)
            out = torch.cat([keep, self.main(process)], dim=1)
        else:
            out = torch.cat([self.shortcut(x), self.main(x)], dim=1)
        return channel_shuffle(out)


class LocalFeatureExtractor(nn.Module):
    """Depthwise 3x3 conv on each of the 4 spatial quadrants, stitched back, then matched to stage 2."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.patch_convs = nn.ModuleList(conv_bn_relu(cin, cin, 3, groups=cin) for _ in range(4))
        self.project = nn.Sequential(conv_bn_relu(cin, cin, 3, 2, groups=cin, relu=False), conv_bn_relu(cin, cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[2] // 2, x.shape[3] // 2
        top = torch.cat([self.patch_convs[0](x[:, :, :h, :w]), self.patch_convs[1](x[:, :, :h, w:])], dim=3)
        bottom = torch.cat([self.patch_convs[2](x[:, :, h:, :w]), self.patch_convs[3](x[:, :, h:, w:])], dim=3)
        return self.project(torch.cat([top, bottom], dim=2))


class ChannelSpatialModulator(nn.Module):
    """Feature map scaled by sigmoid(channel gate x spatial gate)."""

    def __init__(self, channels: int, reduction: int = 16, dilation: int = 4) -> None:
        super().__init__()
        hidden = max(channels // reduction, 4)
        self.channel_gate = nn.Sequential(
            nn.Linear(channels, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, channels)
        )
        self.spatial_gate = nn.Sequential(
            conv_bn_relu(channels, hidden),
            conv_bn_relu(hidden, hidden, 3, dilation=dilation),
            conv_bn_relu(hidden, hidden, 3, dilation=dilation),
            nn.Conv2d(hidden, 1, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channel = self.channel_gate(x.mean(dim=(2, 3)))[:, :, None, None]
        return x * torch.sigmoid(channel * self.spatial_gate(x))


class EfficientFace(nn.Module):
    def __init__(self, num_classes: int = 7, in_channels: int = 3, widths: tuple[int, ...] = (116, 232, 464),
                 repeats: tuple[int, ...] = (4, 8, 4), stem_width: int = 24, last_width: int = 1024) -> None:
        super().__init__()
        self.stem = nn.Sequential(conv_bn_relu(in_channels, stem_width, 3, 2), nn.MaxPool2d(3, 2, 1))
        stages, cin = [], stem_width
        for width, repeat in zip(widths, repeats):
            units = [ShuffleUnit(cin, width, 2)] + [ShuffleUnit(width, width, 1) for _ in range(repeat - 1)]
            stages.append(nn.Sequential(*units))
            cin = width
        self.stage2, self.stage3, self.stage4 = stages
        self.local = LocalFeatureExtractor(stem_width, widths[0])
        self.modulator = ChannelSpatialModulator(widths[0])
        self.conv5 = conv_bn_relu(widths[-1], last_width)
        self.num_features = last_width
        self.classifier = nn.Linear(last_width, num_classes)

    def forward_map(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = self.modulator(self.stage2(x) + self.local(x))
        return self.conv5(self.stage4(self.stage3(x)))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_map(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.forward_features(x))


@register("efficientface")
def efficientface(num_classes: int = 7, in_channels: int = 3, **kwargs) -> EfficientFace:
    for key in ("widths", "repeats"):
        if key in kwargs:
            kwargs[key] = tuple(kwargs[key])
    return EfficientFace(num_classes=num_classes, in_channels=in_channels, **kwargs)
