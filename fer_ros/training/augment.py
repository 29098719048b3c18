"""Batch augmentation and normalisation on tensors (no torchvision).

The whole batch is warped in one ``affine_grid``/``grid_sample`` call: random rotation, zoom,
translation (equivalent to random crop with padding) and horizontal flip, then per-image brightness
and contrast jitter and optional random erasing.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from fer_ros.training.config import AugmentConfig


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N,H,W) or (N,H,W,C) -> float32 (N,C,H,W) in [0, 1]."""
    if images.dim() == 3:
        images = images.unsqueeze(1)
    else:
        images = images.permute(0, 3, 1, 2)
    return images.float().div_(255.0)


def normalise(x: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    return (x - mean) / std


def augment(x: torch.Tensor, cfg: AugmentConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """Randomly augment a float batch (N,C,H,W) in [0, 1]; returns a new tensor in [0, 1]."""
    n, _, h, w = x.shape

    def uniform(low: float, high: float) -> torch.Tensor:
        return torch.rand(n, generator=generator) * (high - low) + low

    angle = uniform(-cfg.rotation_deg, cfg.rotation_deg) * (math.pi / 180.0)
    zoom = uniform(1.0 - cfg.scale, 1.0 + cfg.scale)
    tx = uniform(-cfg.translate_px, cfg.translate_px) * (2.0 / w)
    ty = uniform(-cfg.translate_px, cfg.translate_px) * (2.0 / h)
    flip = torch.ones(n)
    if cfg.hflip:
        flip = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack(
        [torch.stack([cos * flip, -sin, tx], 1), torch.stack([sin * flip, cos, ty], 1)], 1
    ).to(x.device, x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)

    if cfg.contrast > 0 or cfg.brightness > 0:
        c = uniform(1.0 - cfg.contrast, 1.0 + cfg.contrast).to(x.device).view(n, 1, 1, 1)
        b = uniform(-cfg.brightness, cfg.brightness).to(x.device).view(n, 1, 1, 1)
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = ((x - mean) * c + mean + b).clamp_(0.0, 1.0)

    if cfg.erase_prob > 0:
        for i in torch.nonzero(torch.rand(n, generator=generator) < cfg.erase_prob).flatten().tolist():
            eh = int(h * (0.2 + 0.3 * torch.rand(1, generator=generator).item()))
            ew = int(w * (0.2 + 0.3 * torch.rand(1, generator=generator).item()))
            y0 = int(torch.randint(0, h - eh + 1, (1,), generator=generator))
            x0 = int(torch.randint(0, w - ew + 1, (1,), generator=generator))
            x[i, :, y0 : y0 + eh, x0 : x0 + ew] = torch.rand(1, generator=generator).item()
    return x
