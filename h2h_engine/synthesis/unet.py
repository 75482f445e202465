"""A U-Net generator that refines the target's own appearance instead of learning it from scratch (CPU presets).

Input per frame (``ModelConfig.frame_channels``): NMFC + eye image, then the appearance inputs (plate context +
matte, and/or the warped retrieved training frames + their coverage; see :mod:`h2h_engine.render.appearance`).
The output is a residual over a *base* image made from those inputs (the warp where it has coverage, else the
plate context, else mid-grey), so the untrained network already reproduces the no-network composite and
training only learns what the warp gets wrong (seams, colour, mouth interior). Levels: two 3x3 convs +
instance norm + LeakyReLU, average-pool down, bilinear up + conv (no transposed convs: no checkerboard).
With ``unet_stride`` s > 1 the network runs at 1/s of the size on the pixel-unshuffled input (every input pixel
still seen) and its residual is upsampled bilinearly onto the full-size base: the corrections it learns are
smooth (seams, colour, inpainting at the matte's rim), the base keeps the warp's full-size texture, and the
convolutions cost ~1/s^2.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import APPEARANCE_CHANNELS, COND_CHANNELS, IMAGE_CHANNELS, ModelConfig


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, padding_mode="reflect"), nn.InstanceNorm2d(cout),
                         nn.LeakyReLU(0.2, True),
                         nn.Conv2d(cout, cout, 3, padding=1, padding_mode="reflect"), nn.InstanceNorm2d(cout),
                         nn.LeakyReLU(0.2, True))


def appearance_slices(cfg: ModelConfig) -> dict[str, slice]:
    """Channel slices of each appearance input within the newest conditioning frame of G's input."""
    out, c = {}, cfg.frame_channels * (cfg.n_cond_frames - 1) + COND_CHANNELS
    for name in cfg.appearance_inputs:
        out[name] = slice(c, c + APPEARANCE_CHANNELS[name])
        c += APPEARANCE_CHANNELS[name]
    return out


def fill_holes(premult: torch.Tensor, weight: torch.Tensor, levels: int = 6) -> torch.Tensor:
    """Push-pull hole filling: (B, C, H, W) colours premultiplied by their (B, 1, H, W) weight in [0, 1] ->
    colours everywhere (known pixels kept, holes smoothly interpolated from a pyramid of their surround)."""
    pyramid = [(premult, weight)]
    for _ in range(levels):
        p, w = pyramid[-1]
        if min(p.shape[-2:]) < 4:
            break
        pyramid.append((F.avg_pool2d(p, 2), F.avg_pool2d(w, 2)))
    p, w = pyramid[-1]
    est = p / w.clamp(min=1e-6)
    for p, w in reversed(pyramid[:-1]):
        up = F.interpolate(est, size=p.shape[-2:], mode="bilinear", align_corners=False)
        est = p + (1 - w).clamp(0, 1) * up
    return est


def base_image(cond: torch.Tensor, cfg: ModelConfig) -> torch.Tensor:
    """The no-network composite from G's input (B, cond_channels, H, W): the warp where it has coverage, the
    plate context around the matte, holes between them filled from their surround (push-pull); in head mode
    (region crop) the warp itself, whose uncovered pixels already show the retrieved crops (its backdrop);
    (B, 3, H, W) in [-1, 1]."""
    sl = appearance_slices(cfg)
    if cfg.region == "crop" and "warp" in sl:
        return cond[:, sl["warp"]][:, :3] * 2 - 1
    b, _, h, w = cond.shape
    premult = torch.zeros(b, IMAGE_CHANNELS, h, w, dtype=cond.dtype, device=cond.device)
    weight = torch.zeros(b, 1, h, w, dtype=cond.dtype, device=cond.device)
    if "context" in sl:
        ctx = cond[:, sl["context"]]
        premult, weight = ctx[:, :3], 1 - ctx[:, 3:4]  # the context is already blanked by the matte
    if "warp" in sl:
        wp = cond[:, sl["warp"]]
        cover = wp[:, 3:4]
        premult = wp[:, :3] * cover + premult * (1 - cover)
        weight = cover + weight * (1 - cover)
    return fill_holes(premult, weight) * 2 - 1


class UNetGenerator(nn.Module):
    """G(cond, prev) -> frame, feed-forward (``prev`` is ignored: ``n_prev_frames`` is 0 for this arch).
    ``cond``: (B, cond_channels, H, W) in [0, 1]; output (B, 3, H, W) in [-1, 1]."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        widths = [cfg.ngf * 2 ** min(i, 3) for i in range(cfg.unet_levels + 1)]
        self.down = nn.ModuleList([_block(cfg.cond_channels * cfg.unet_stride ** 2, widths[0])] +
                                  [_block(widths[i], widths[i + 1]) for i in range(cfg.unet_levels)])
        self.up = nn.ModuleList([_block(widths[i + 1] + widths[i], widths[i]) for i in range(cfg.unet_levels)])
        self.head = nn.Conv2d(widths[0], IMAGE_CHANNELS, 1)
        nn.init.zeros_(self.head.weight)  # start from the base image exactly
        nn.init.zeros_(self.head.bias)

    def forward(self, cond: torch.Tensor, prev: torch.Tensor | None = None) -> torch.Tensor:
        s = self.cfg.unet_stride
        skips, x = [], F.pixel_unshuffle(cond, s) if s > 1 else cond
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.avg_pool2d(x, 2))
            skips.append(x)
        for i in range(self.cfg.unet_levels - 1, -1, -1):
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            x = self.up[i](torch.cat([x, skips[i]], 1))
        residual = self.head(x)
        if s > 1:
            residual = F.interpolate(residual, scale_factor=s, mode="bilinear", align_corners=False)
        return (base_image(cond, self.cfg) + residual).clamp(-1, 1)


class BaseComposite(nn.Module):
    """The ``instant`` preset's "generator": the base image itself (no weights, no training)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg

    def forward(self, cond: torch.Tensor, prev: torch.Tensor | None = None) -> torch.Tensor:
        return base_image(cond, self.cfg)
