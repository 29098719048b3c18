"""MGLN: the multi-task global-local network (Yu et al., Pattern Recognition Letters) for face tracks.

* **SSM**, shared shallow module: one 3x3 conv-BN-ReLU at full resolution (the stem of our compact
  ResNet, ``fer_resnet``; the paper uses VGG16's first layers), shared by both modules below.
* **GFM**, global face module, on the peak frame's aligned face: fully convolutional (the ResNet stages)
  with a deformable 3x3 convolution (offsets learnt per position, sampling by ``grid_sample``, which
  exports to ONNX as GridSample), a last convolution with C channels and global average pooling.
* **PBM**, part-based module: the eyes, nose and mouth crops of the onset, middle and peak frames go
  through the SSM and a small conv branch per part; one LSTM per part runs over the 3 frames, the last
  states are concatenated [F_eyes; F_nose; F_mouth] and a "part end" head classifies them.
* **Fusion** at decision level: ``w * softmax(GFM) + (1 - w) * softmax(PBM)`` with a learnt ``w``.
  Training is multi-task: a cross-entropy per module plus the fused one (:func:`mgln_loss`).

Inputs: ``face`` (N, 1, H, W) and ``parts`` (N, 3 frames, 3 parts, h, w), normalised gray.
:func:`init_from_fer_resnet` copies the SSM and GFM weights from a trained ``fer_resnet`` (a
checkpoint's state dict or the shipped ONNX file), so that before training the GFM equals that model.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from fer_ros.training.models import register
from fer_ros.training.models.fer_resnet import BasicBlock, conv_bn

NUM_PARTS = 3  # eyes, nose, mouth


class DeformConv2d(nn.Module):
    """Deformable 3x3 convolution (Dai et al. 2017) from ``grid_sample`` and a 1x1-equivalent conv.

    A plain conv predicts (dx, dy) per kernel tap and position (zero-initialised: it starts as a regular
    conv); the input is sampled bilinearly at the shifted taps in ONE grid_sample call and the sampled
    columns are mixed by the kernel weights.
    """

    def __init__(self, cin: int, cout: int, kernel: int = 3) -> None:
        super().__init__()
        self.kernel, self.cin, self.cout = kernel, cin, cout  # python ints: constant shapes in the ONNX graph
        self.offset = nn.Conv2d(cin, 2 * kernel * kernel, 3, padding=1)
        nn.init.zeros_(self.offset.weight)
        nn.init.zeros_(self.offset.bias)
        self.weight = nn.Parameter(torch.empty(cout, cin, kernel, kernel))
        nn.init.kaiming_normal_(self.weight, nonlinearity="relu")
        self.bias = nn.Parameter(torch.zeros(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = int(x.shape[2]), int(x.shape[3])
        k, c = self.kernel, self.cin
        taps = k * k
        offsets = self.offset(x).reshape(-1, taps, 2, h, w)  # pixels
        r = torch.arange(k, dtype=x.dtype, device=x.device) - (k - 1) / 2
        tap_y, tap_x = torch.meshgrid(r, r, indexing="ij")
        ys = torch.arange(h, dtype=x.dtype, device=x.device).view(1, 1, h, 1)
        xs = torch.arange(w, dtype=x.dtype, device=x.device).view(1, 1, 1, w)
        px = xs + tap_x.reshape(1, taps, 1, 1) + offsets[:, :, 0]  # (n, taps, h, w)
        py = ys + tap_y.reshape(1, taps, 1, 1) + offsets[:, :, 1]
        gx = (2.0 * px + 1.0) / w - 1.0  # align_corners=False pixel centres
        gy = (2.0 * py + 1.0) / h - 1.0
        grid = torch.stack([gx, gy], dim=-1).reshape(-1, taps * h, w, 2)
        sampled = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        columns = sampled.reshape(-1, c * taps, h, w)  # (c, tap) channel-major, like the kernel's layout
        return F.conv2d(columns, self.weight.reshape(self.cout, c * taps, 1, 1), self.bias)


class DeformResidual(nn.Module):
    """x + 1x1(deform3x3(1x1(x))): a bottleneck deformable block whose last conv starts at zero."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.reduce = nn.Sequential(conv_bn(channels, hidden, kernel=1), nn.ReLU())
        self.deform = DeformConv2d(hidden, hidden)
        self.bn = nn.BatchNorm2d(hidden)
        self.expand = nn.Conv2d(hidden, channels, 1)
        nn.init.zeros_(self.expand.weight)
        nn.init.zeros_(self.expand.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.expand(F.relu(self.bn(self.deform(self.reduce(x)))))


class GlobalFaceModule(nn.Module):
    """Fully convolutional: ResNet stages, a deformable block, C-channel conv, global average pooling."""

    def __init__(self, num_classes: int, widths: tuple[int, ...], deform_hidden: int, dropout: float) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i, (cin, cout) in enumerate(zip(widths[:-1], widths[1:])):
            layers += [nn.MaxPool2d(2), BasicBlock(cin, cout)]
            if i == len(widths) - 3:  # before the last stage
                layers.append(DeformResidual(cout, deform_hidden))
        self.stages = nn.Sequential(*layers)
        self.dropout = nn.Dropout2d(dropout)
        self.head = nn.Conv2d(widths[-1], num_classes, 1)  # the last conv layer: C channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.stages(x))).mean(dim=(2, 3))


class PartBranch(nn.Module):
    """Conv layers of one part on SSM features, pooled to a vector per frame."""

    def __init__(self, cin: int, widths: tuple[int, int]) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.MaxPool2d(2), conv_bn(cin, widths[0]), nn.ReLU(),
                                  nn.MaxPool2d(2), conv_bn(widths[0], widths[1]), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).mean(dim=(2, 3))


class PartBasedModule(nn.Module):
    """Per part: conv branch per frame, an LSTM over the frames; [F_eyes; F_nose; F_mouth] -> part end."""

    def __init__(self, num_classes: int, cin: int, widths: tuple[int, int], hidden: int, dropout: float) -> None:
        super().__init__()
        self.branches = nn.ModuleList(PartBranch(cin, widths) for _ in range(NUM_PARTS))
        self.lstms = nn.ModuleList(nn.LSTM(widths[1], hidden, batch_first=True) for _ in range(NUM_PARTS))
        self.part_end = nn.Sequential(nn.Dropout(dropout), nn.Linear(NUM_PARTS * hidden, num_classes))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``features``: SSM output (N, frames, parts, C, h, w)."""
        n, t = features.shape[:2]
        states = []
        for p in range(NUM_PARTS):
            per_frame = self.branches[p](features[:, :, p].reshape(n * t, *features.shape[3:])).view(n, t, -1)
            _, (h_last, _) = self.lstms[p](per_frame)
            states.append(h_last[-1])
        return self.part_end(torch.cat(states, dim=1))


class MGLN(nn.Module):
    def __init__(self, num_classes: int = 7, in_channels: int = 1, widths: tuple[int, ...] = (32, 32, 64, 128, 256),
                 part_widths: tuple[int, int] = (32, 64), lstm_hidden: int = 64, deform_hidden: int = 32,
                 dropout: float = 0.3, fusion_weight: float = 0.5) -> None:
        super().__init__()
        self.ssm = nn.Sequential(conv_bn(in_channels, widths[0]), nn.ReLU())
        self.gfm = GlobalFaceModule(num_classes, tuple(widths), deform_hidden, dropout)
        self.pbm = PartBasedModule(num_classes, widths[0], tuple(part_widths), lstm_hidden, dropout)
        w = min(max(fusion_weight, 1e-3), 1 - 1e-3)
        self.fusion_logit = nn.Parameter(torch.tensor(float(torch.logit(torch.tensor(w)))))

    @property
    def fusion_weight(self) -> torch.Tensor:
        """Weight of the GFM in the fused probabilities (the PBM gets 1 - w)."""
        return torch.sigmoid(self.fusion_logit)

    def forward_modules(self, face: torch.Tensor, parts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(GFM logits, PBM logits) for ``face`` (N, 1, H, W) and ``parts`` (N, frames, parts, h, w)."""
        n, t, p, h, w = parts.shape
        global_logits = self.gfm(self.ssm(face))
        part_features = self.ssm(parts.reshape(n * t * p, 1, h, w))
        part_logits = self.pbm(part_features.view(n, t, p, *part_features.shape[1:]))
        return global_logits, part_logits

    def fuse(self, global_logits: torch.Tensor, part_logits: torch.Tensor) -> torch.Tensor:
        w = self.fusion_weight
        return w * torch.softmax(global_logits, 1) + (1 - w) * torch.softmax(part_logits, 1)

    def forward(self, face: torch.Tensor, parts: torch.Tensor) -> torch.Tensor:
        """Fused probabilities (N, C)."""
        return self.fuse(*self.forward_modules(face, parts))


def mgln_loss(model: MGLN, face: torch.Tensor, parts: torch.Tensor, target: torch.Tensor,
              label_smoothing: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Multi-task loss: CE(GFM) + CE(PBM) + NLL(fused); returns (loss, fused probabilities)."""
    global_logits, part_logits = model.forward_modules(face, parts)
    fused = model.fuse(global_logits, part_logits)
    loss = (F.cross_entropy(global_logits, target, label_smoothing=label_smoothing)
            + F.cross_entropy(part_logits, target, label_smoothing=label_smoothing)
            + F.nll_loss(torch.log(fused.clamp_min(1e-8)), target))
    return loss, fused


def _fer_resnet_conv_bns(ssm: nn.Module, gfm: GlobalFaceModule) -> list[nn.Sequential]:
    """The conv-BN pairs of SSM + GFM in the order of fer_resnet's convolutions (its ONNX graph order)."""
    out = [ssm[0]]
    for layer in gfm.stages:
        if isinstance(layer, BasicBlock):
            out += [layer.conv1, layer.conv2] + ([layer.shortcut] if not isinstance(layer.shortcut, nn.Identity)
                                                else [])
    return out


@torch.no_grad()
def init_from_fer_resnet(model: MGLN, source: str | Path | dict) -> None:
    """Copy a trained fer_resnet into the SSM and GFM (head conv = its linear classifier).

    ``source``: a fer_resnet state dict, a checkpoint path (``.pt``) or its ONNX export (BatchNorm folded
    into the convolutions; the BNs here are then set to identity so the result is the same function).
    """
    targets = _fer_resnet_conv_bns(model.ssm, model.gfm)
    if isinstance(source, dict) or str(source).endswith(".pt"):
        from fer_ros.training.checkpoint import load_checkpoint

        state = source if isinstance(source, dict) else load_checkpoint(source)["model_state"]
        names = [k[: -len(".0.weight")] for k in state if k.endswith(".0.weight") and state[k].dim() == 4]
        if len(names) != len(targets):
            raise ValueError(f"fer_resnet has {len(names)} convolutions, MGLN's SSM+GFM {len(targets)}")
        for name, target in zip(names, targets):
            target[0].weight.copy_(state[f"{name}.0.weight"])
            for key in ("weight", "bias", "running_mean", "running_var"):
                getattr(target[1], key).copy_(state[f"{name}.1.{key}"])
        weight, bias = state["classifier.weight"], state["classifier.bias"]
    else:
        import onnx
        from onnx import numpy_helper

        graph = onnx.load(str(source)).graph
        inits = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in graph.initializer}
        convs = [[inits[name] for name in node.input[1:]] for node in graph.node if node.op_type == "Conv"]
        gemm = next(node for node in graph.node if node.op_type == "Gemm")
        if len(convs) != len(targets):
            raise ValueError(f"{source} has {len(convs)} convolutions, MGLN's SSM+GFM {len(targets)}")
        for (w, b), target in zip(convs, targets):
            target[0].weight.copy_(w)
            bn = target[1]
            bn.weight.fill_(1.0)
            bn.bias.copy_(b)
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)
        weight, bias = inits[gemm.input[1]], inits[gemm.input[2]]
    if weight.shape[0] != model.gfm.head.out_channels:
        raise ValueError(f"fer_resnet has {weight.shape[0]} classes, MGLN {model.gfm.head.out_channels}")
    model.gfm.head.weight.copy_(weight.view(*weight.shape, 1, 1))
    model.gfm.head.bias.copy_(bias)


@register("mgln")
def mgln(num_classes: int = 7, in_channels: int = 1, **kwargs) -> MGLN:
    for key in ("widths", "part_widths"):
        if key in kwargs:
            kwargs[key] = tuple(kwargs[key])
    return MGLN(num_classes=num_classes, in_channels=in_channels, **kwargs)
