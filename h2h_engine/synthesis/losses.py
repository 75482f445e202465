"""GAN losses: LSGAN for G and D, discriminator feature matching (the VGG term is in :mod:`.vgg`)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .discriminators import Features


def lsgan_d(real: Features, fake: Features) -> tuple[torch.Tensor, torch.Tensor]:
    """D's least-squares loss, summed over spatial scales: (real term, fake term); real -> 1, fake -> 0."""
    loss_real = sum(F.mse_loss(r[-1], torch.ones_like(r[-1])) for r in real)
    loss_fake = sum(F.mse_loss(f[-1], torch.zeros_like(f[-1])) for f in fake)
    return loss_real, loss_fake


def lsgan_g(fake: Features) -> torch.Tensor:
    """G's least-squares loss, summed over spatial scales: D's prediction on fakes -> 1."""
    return sum(F.mse_loss(f[-1], torch.ones_like(f[-1])) for f in fake)


def feature_matching(real: Features, fake: Features) -> torch.Tensor:
    """L1 between D's intermediate features on real and fake inputs (pix2pixHD weighting:
    4 / (n_layers + 1) per layer, 1 / num_scales per scale); the real side carries no gradient."""
    total = torch.zeros((), device=fake[0][0].device)
    for r_scale, f_scale in zip(real, fake):
        n_feat = len(f_scale) - 1
        for r, f in zip(r_scale[:-1], f_scale[:-1]):
            total = total + (4.0 / n_feat) / len(fake) * F.l1_loss(f, r.detach())
    return total
