"""The Head2Head generator G: frame t from the conditioning of frames t-2..t and the two previous outputs.

Two encoders of the same design (7x7 conv, ``n_downsample`` stride-2 convs, ``n_blocks_encoder`` residual
blocks) read the conditioning (NMFC + eye image of frames t-2..t, 18 channels) and the previous two generated
frames (6 channels); their features are summed and decoded by ``n_blocks_decoder`` residual blocks,
``n_downsample`` transposed convs (``upsample: resize``: bilinear x2 + 3x3 conv, which avoids the
checkerboard of transposed convs) and a 7x7 conv with tanh. Instance norm, reflection padding, ReLU.
With the paper's sizes this is the authors' network (about 70.8 M parameters). With ``n_prev_frames`` 0 there
is no previous-frames encoder: a feed-forward, pix2pix-style G of the frame's conditioning alone (the
paper's ablation).
"""
from __future__ import annotations

import torch
from torch import nn

from .config import IMAGE_CHANNELS, ModelConfig


class ResnetBlock(nn.Module):
    """x + (pad, 3x3 conv, IN, ReLU, pad, 3x3 conv, IN)(x); (B, C, H, W) -> (B, C, H, W)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _encoder(in_channels: int, cfg: ModelConfig) -> nn.Sequential:
    """(B, in, H, W) -> (B, ngf * 2^n_down, H / 2^n_down, W / 2^n_down)."""
    ngf = cfg.ngf
    layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, ngf, 7), nn.InstanceNorm2d(ngf),
                               nn.ReLU(True)]
    for i in range(cfg.n_downsample):
        c = ngf * 2 ** i
        layers += [nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), nn.InstanceNorm2d(2 * c), nn.ReLU(True)]
    layers += [ResnetBlock(ngf * 2 ** cfg.n_downsample) for _ in range(cfg.n_blocks_encoder)]
    return nn.Sequential(*layers)


class Generator(nn.Module):
    """G(cond, prev) -> frame. ``cond``: (B, 6 * n_cond_frames, H, W) in [0, 1] (oldest frame first);
    ``prev``: (B, 3 * n_prev_frames, H, W) in [-1, 1] (oldest first; unused when n_prev_frames is 0);
    output (B, 3, H, W) in [-1, 1]."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        ngf, nd = cfg.ngf, cfg.n_downsample
        self.cond_encoder = _encoder(cfg.cond_channels, cfg)
        self.prev_encoder = _encoder(cfg.prev_channels, cfg) if cfg.n_prev_frames else None
        up: list[nn.Module] = [ResnetBlock(ngf * 2 ** nd) for _ in range(cfg.n_blocks_decoder)]
        for i in range(nd, 0, -1):
            c = ngf * 2 ** i
            if cfg.upsample == "resize":
                up += [nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), nn.ReflectionPad2d(1),
                       nn.Conv2d(c, c // 2, 3)]
            else:
                up += [nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1)]
            up += [nn.InstanceNorm2d(c // 2), nn.ReLU(True)]
        up += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, IMAGE_CHANNELS, 7), nn.Tanh()]
        self.decoder = nn.Sequential(*up)

    def encode_cond(self, cond: torch.Tensor) -> torch.Tensor:
        """Features of the conditioning; independent of the recurrent state, so batchable over frames."""
        return self.cond_encoder(cond)

    def step(self, cond_features: torch.Tensor, prev: torch.Tensor | None) -> torch.Tensor:
        """One frame from precomputed conditioning features (B, C, h, w) and the previous outputs (ignored
        without a previous-frames encoder).

        The zero state (``prev`` all zeros, the first frame of a sequence or block) adds exactly zero features:
        every instance norm of the previous-frames encoder then sees a constant map, whose normalised value is
        0, but float arithmetic leaves rounding residues that each norm multiplies by 1/sqrt(eps) (~316): the
        computed features were O(1..30) of pure rounding noise, different on every device and engine. The
        mask is a traced product, not a branch, so exported graphs (ONNX, TorchScript) keep it."""
        if self.prev_encoder is None:
            return self.decoder(cond_features)
        started = (prev.abs().amax(dim=(1, 2, 3), keepdim=True) > 0).to(cond_features.dtype)  # (B, 1, 1, 1)
        return self.decoder(cond_features + self.prev_encoder(prev) * started)

    def forward(self, cond: torch.Tensor, prev: torch.Tensor | None = None) -> torch.Tensor:
        return self.step(self.encode_cond(cond), prev)


def make_generator(cfg: ModelConfig) -> nn.Module:
    """The generator of ``cfg.arch``: :class:`Generator` (head2head), U-Net, or the no-network composite."""
    from .unet import BaseComposite, UNetGenerator  # noqa: PLC0415 - unet imports this module's config only

    return {"head2head": Generator, "unet": UNetGenerator, "none": BaseComposite}[cfg.arch](cfg)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
