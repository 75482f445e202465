"""Discriminators: D_I (image), D_M (mouth) and D_D (dynamics), all multi-scale PatchGANs (pix2pixHD design).

- D_I judges (x_t, y_t): conditioning (6 ch) + frame (3 ch) of one time step.
- D_M is the same design on the mouth crops of (x_t, y_t).
- D_D judges K consecutive frames plus the K-1 facial flows between them (3K + 2(K-1) channels), with one
  PatchGAN per temporal scale; scale s sub-samples the sequence with stride K^s (flows composed to match).

Each discriminator returns, per spatial scale, the list of its layers' outputs (features for the
feature-matching loss; the last one is the patch prediction).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import COND_CHANNELS, IMAGE_CHANNELS, ModelConfig

Features = list[list[torch.Tensor]]  # [spatial scale][layer] -> (B, C, h, w)


class PatchGAN(nn.Module):
    """pix2pixHD's n-layer PatchGAN (4x4 convs, instance norm, LeakyReLU 0.2); returns every layer's output."""

    def __init__(self, in_channels: int, ndf: int, n_layers: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Sequential(nn.Conv2d(in_channels, ndf, 4, 2, 2), nn.LeakyReLU(0.2, True))]
        nf = ndf
        for n in range(1, n_layers + 1):
            prev, nf = nf, min(nf * 2, 512)
            layers.append(nn.Sequential(nn.Conv2d(prev, nf, 4, 2 if n < n_layers else 1, 2), nn.InstanceNorm2d(nf),
                                        nn.LeakyReLU(0.2, True)))
        layers.append(nn.Conv2d(nf, 1, 4, 1, 2))
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for layer in self.layers:
            x = layer(x)
            out.append(x)
        return out


class MultiscaleDiscriminator(nn.Module):
    """``num_d`` PatchGANs on the input and its 2x, 4x... average-pooled versions."""

    def __init__(self, in_channels: int, ndf: int, n_layers: int, num_d: int) -> None:
        super().__init__()
        self.scales = nn.ModuleList(PatchGAN(in_channels, ndf, n_layers) for _ in range(num_d))

    def forward(self, x: torch.Tensor) -> Features:
        out = []
        for i, d in enumerate(self.scales):
            if i:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            out.append(d(x))
        return out


def image_discriminator(cfg: ModelConfig) -> MultiscaleDiscriminator:
    """D_I on (conditioning of frame t, frame t): 9 channels."""
    return MultiscaleDiscriminator(COND_CHANNELS + IMAGE_CHANNELS, cfg.ndf, cfg.n_layers_d, cfg.num_d)


def mouth_discriminator(cfg: ModelConfig) -> MultiscaleDiscriminator:
    """D_M: the same design on mouth crops."""
    return MultiscaleDiscriminator(COND_CHANNELS + IMAGE_CHANNELS, cfg.ndf, cfg.n_layers_d, cfg.num_d)


class DynamicsDiscriminator(nn.Module):
    """D_D: one multi-scale PatchGAN per temporal scale on K frames + K-1 flows."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.k = cfg.dynamics_k
        in_ch = IMAGE_CHANNELS * cfg.dynamics_k + 2 * (cfg.dynamics_k - 1)
        self.temporal = nn.ModuleList(MultiscaleDiscriminator(in_ch, cfg.ndf, cfg.n_layers_d, cfg.num_d)
                                      for _ in range(cfg.dynamics_scales))

    def stride(self, scale: int) -> int:
        return self.k ** scale

    def span(self, scale: int) -> int:
        """Frames a window at ``scale`` covers."""
        return (self.k - 1) * self.stride(scale) + 1

    def forward(self, x: torch.Tensor, scale: int) -> Features:
        return self.temporal[scale](x)


def warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample ``image`` (B, C, H, W) at ``p + flow(p)`` (flow (B, 2, H, W) in pixels, x then y); border padding."""
    b, _, h, w = flow.shape
    ys, xs = torch.meshgrid(torch.arange(h, device=flow.device, dtype=flow.dtype),
                            torch.arange(w, device=flow.device, dtype=flow.dtype), indexing="ij")
    gx = (xs + flow[:, 0] + 0.5) * (2.0 / w) - 1.0
    gy = (ys + flow[:, 1] + 0.5) * (2.0 / h) - 1.0
    return F.grid_sample(image, torch.stack((gx, gy), dim=-1), mode="bilinear", padding_mode="border",
                         align_corners=False)


def compose_flow(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """Flow a->c from a->b and b->c (each (B, 2, H, W), pixels): f(p) = f1(p) + f2(p + f1(p))."""
    return first + warp(second, first)


def dynamics_window(frames: torch.Tensor, flows: torch.Tensor, end: int, k: int, stride: int) -> torch.Tensor:
    """D_D input for the window of ``k`` frames ending at index ``end`` with step ``stride``.

    Args:
        frames: (B, N, 3, H, W) in [-1, 1].
        flows: (B, N, 2, H, W) pixels; ``flows[:, t]`` maps frame t to t+1.
    Returns:
        (B, 3k + 2(k-1), H, W): the k frames (oldest first) then the k-1 composed flows, scaled to [-1, 1]
        grid units (2 / size per pixel).
    """
    idx = [end - stride * (k - 1 - i) for i in range(k)]
    if idx[0] < 0:
        raise ValueError(f"window ending at {end} with stride {stride} needs {stride * (k - 1)} earlier frames")
    size = frames.shape[-1]
    chans = [frames[:, i] for i in idx]
    for a, b in zip(idx[:-1], idx[1:]):
        f = flows[:, a]
        for t in range(a + 1, b):
            f = compose_flow(f, flows[:, t])
        chans.append(f * (2.0 / size))
    return torch.cat(chans, dim=1)
