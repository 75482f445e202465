"""VGG19 (ImageNet) feature extractor and the perceptual loss, defined here so torchvision is not needed.

The layer list is torchvision's ``vgg19().features`` up to relu5_1, so its state dict keys
(``features.0.weight``...) load from torchvision's ``vgg19-dcbb9e9d.pth`` unchanged.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CheckpointError, ConfigError

WEIGHTS_FILE = "vgg19-dcbb9e9d.pth"
_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512)
_SLICES = (2, 7, 12, 21, 30)  # ends of relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 in ``features``
_LAYER_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)  # pix2pixHD / vid2vid weights
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


class VGG19Features(nn.Module):
    """torchvision's VGG19 ``features[:30]``; forward returns relu1_1..relu5_1 of a (B, 3, H, W) input
    already normalised with ImageNet statistics. Randomly initialised unless weights are loaded."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = 3
        for v in _CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c, int(v), 3, padding=1), nn.ReLU(inplace=True)]
                c = int(v)
        self.features = nn.Sequential(*layers[:_SLICES[-1]])
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()

    def load_weights(self, path: str | Path) -> None:
        """Load torchvision-format ImageNet weights (``features.*`` keys); CheckpointError when unusable."""
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - any unpickling failure means a corrupt file
            raise CheckpointError(f"cannot read VGG19 weights {path}: {e}") from None
        if not isinstance(state, dict):
            raise CheckpointError(f"{path} is not a VGG19 state dict")
        mine = self.features.state_dict()
        sub = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")
               and k[len("features."):] in mine}
        missing = sorted(set(mine) - set(sub))
        if missing or any(sub[k].shape != mine[k].shape for k in mine):
            raise CheckpointError(f"{path} is not torchvision VGG19 weights (missing or mis-shaped: "
                                  f"{', '.join(missing[:4]) or 'shapes differ'})")
        self.features.load_state_dict(sub)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out, start = [], 0
        for end in _SLICES:
            for layer in self.features[start:end]:
                x = layer(x)
            out.append(x)
            start = end
        return out


def find_vgg_weights(path: str | None) -> Path | None:
    """The VGG19 weights to use: ``path`` when given (must exist), else the torch hub cache file, else None."""
    if path:
        p = Path(os.path.expanduser(path))
        if not p.is_file():
            raise ConfigError(f"vgg_weights {p} does not exist; download torchvision's {WEIGHTS_FILE} there "
                              "or remove the setting")
        return p
    hub = Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE
    return hub if hub.is_file() else None


class VGGLoss(nn.Module):
    """Perceptual loss: weighted L1 between VGG19 relu*_1 features of two (B, 3, H, W) images in [-1, 1]."""

    def __init__(self, vgg: VGG19Features) -> None:
        super().__init__()
        self.vgg = vgg
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True) -> "VGGLoss":
        super().train(mode)
        self.vgg.eval()  # frozen: never in training mode
        return self

    def forward(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        x = torch.cat([fake, real]) * 0.5 + 0.5
        feats = self.vgg((x - self.mean) / self.std)
        n = fake.shape[0]
        return sum(w * F.l1_loss(f[:n], f[n:].detach()) for w, f in zip(_LAYER_WEIGHTS, feats))
