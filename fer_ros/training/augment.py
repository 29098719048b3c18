"""Batch augmentation and normalisation on tensors (no torchvision).

The whole batch is warped in one ``affine_grid``/``grid_sample`` call: random rotation, zoom,
translation (equivalent to random crop with padding) and horizontal flip, then per-image brightness
and contrast jitter and optional random erasing. Product-matched crops (``box_*``): the warp cuts the
square a face detector would report on the training image (measured median side and jitter, see
``fer_ros.training.product_crops``) and resizes it to the model input, as the core crops a detected
face. ``degrade`` adds what cameras and codecs do to a face chip (blur, low resolution, JPEG, gray).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
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


def augment(x: torch.Tensor, cfg: AugmentConfig, generator: torch.Generator | None = None,
            out_size: int | None = None) -> torch.Tensor:
    """Randomly augment a float batch (N,C,H,W) in [0, 1] into a new one of ``out_size`` (default: same)."""
    n, c, h, w = x.shape
    out_h = out_w = out_size or h

    def uniform(low: float, high: float) -> torch.Tensor:
        return torch.rand(n, generator=generator) * (high - low) + low

    def normal(sd: float) -> torch.Tensor:
        return (torch.randn(n, generator=generator) * sd).clamp_(-2 * sd, 2 * sd)

    angle = uniform(-cfg.rotation_deg, cfg.rotation_deg) * (math.pi / 180.0)
    if cfg.box_log_sd > 0:  # the detector's box: log-normal side around box_scale, centre jitter in box sides
        side = cfg.box_scale * torch.exp(normal(cfg.box_log_sd))
        zoom = 1.0 / side
        tx = normal(cfg.box_shift_sd) * side * 2.0 + (cfg.box_centre_x - 0.5) * 2.0
        ty = normal(cfg.box_shift_sd) * side * 2.0 + (cfg.box_centre_y - 0.5) * 2.0
    else:
        zoom = uniform(1.0 - cfg.scale, 1.0 + cfg.scale) / cfg.box_scale
        tx = uniform(-cfg.translate_px, cfg.translate_px) * (2.0 / out_w)
        ty = uniform(-cfg.translate_px, cfg.translate_px) * (2.0 / out_h)
    flip = torch.ones(n)
    if cfg.hflip:
        flip = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack(
        [torch.stack([cos * flip, -sin, tx], 1), torch.stack([sin * flip, cos, ty], 1)], 1
    ).to(x.device, x.dtype)
    grid = F.affine_grid(theta, [n, c, out_h, out_w], align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)

    if cfg.contrast > 0 or cfg.brightness > 0:
        c = uniform(1.0 - cfg.contrast, 1.0 + cfg.contrast).to(x.device).view(n, 1, 1, 1)
        b = uniform(-cfg.brightness, cfg.brightness).to(x.device).view(n, 1, 1, 1)
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = ((x - mean) * c + mean + b).clamp_(0.0, 1.0)

    h, w = out_h, out_w
    if cfg.erase_prob > 0:
        for i in torch.nonzero(torch.rand(n, generator=generator) < cfg.erase_prob).flatten().tolist():
            eh = int(h * (0.2 + 0.3 * torch.rand(1, generator=generator).item()))
            ew = int(w * (0.2 + 0.3 * torch.rand(1, generator=generator).item()))
            y0 = int(torch.randint(0, h - eh + 1, (1,), generator=generator))
            x0 = int(torch.randint(0, w - ew + 1, (1,), generator=generator))
            x[i, :, y0 : y0 + eh, x0 : x0 + ew] = torch.rand(1, generator=generator).item()
    return x


def _degrade_one(image: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape[:2]
    if cfg.gray_prob > 0 and image.ndim == 3 and rng.random() < cfg.gray_prob:
        image = np.repeat(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[:, :, None], 3, axis=2)
    if cfg.lowres_prob > 0 and rng.random() < cfg.lowres_prob:
        side = int(rng.integers(min(cfg.lowres_min, w), w + 1))
        small = cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)
        image = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if cfg.blur_prob > 0 and rng.random() < cfg.blur_prob:
        image = cv2.GaussianBlur(image, (0, 0), float(rng.uniform(0.3, cfg.blur_sigma)))
    if cfg.jpeg_prob > 0 and rng.random() < cfg.jpeg_prob:
        quality = int(rng.integers(cfg.jpeg_quality, 96))
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok:
            image = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    return image.reshape(h, w, -1)


def degrade(x: torch.Tensor, cfg: AugmentConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """Camera / codec degradations of a float batch (N,C,H,W) in [0, 1], applied on uint8 images."""
    if not (cfg.blur_prob or cfg.jpeg_prob or cfg.lowres_prob or cfg.gray_prob):
        return x
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
    rng = np.random.default_rng(seed)
    images = (x.permute(0, 2, 3, 1).mul(255.0).round_().clamp_(0, 255)).to(torch.uint8).numpy()
    out = np.stack([_degrade_one(np.ascontiguousarray(im.squeeze(-1) if im.shape[-1] == 1 else im), cfg, rng)
                    for im in images])
    # a copy in plain NCHW order: the strides of a permuted view make a 1-channel batch look channels-last to
    # libtorch, whose channels-last depthwise-convolution backward crashes (segfault; mini-Xception at 64x64)
    out = torch.from_numpy(out).permute(0, 3, 1, 2).clone(memory_format=torch.contiguous_format)
    return out.float().div_(255.0).to(x.device)
