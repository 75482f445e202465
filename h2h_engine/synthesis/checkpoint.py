"""The training checkpoint file (``.pt``): what the trainer writes and what the engine reads back.

One dict saved with ``torch.save``, loaded with ``weights_only=True``::

    schema        "H2HCheckpoint.1"
    model_config  ModelConfig as a dict           <- all the engine needs, with "generator"
    generator     G state dict
    data          {"crop_margin", "crop_smooth", "morphable_digest", "morphable_name"}: how conditioning was made
    step, config  training step and the full training config (dict)
    discriminators, optimizer_g, optimizer_d, rng, carry   trainer state for --resume
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import CheckpointError, ConfigError, InputError
from ..io.schema import parse, upgrade
from .config import ModelConfig
from .generator import make_generator

SCHEMA = "H2HCheckpoint.1"
CHECKPOINT = "checkpoint.pt"  # a training run folder's checkpoint (RUN/checkpoint.pt)


def checkpoint_file(path: str | Path) -> Path:
    """``path`` itself, or for a training run folder its ``checkpoint.pt``; InputError when the folder has none."""
    path = Path(path)
    if path.is_dir():
        if not (path / CHECKPOINT).is_file():
            raise InputError(f"run folder {path} holds no {CHECKPOINT} (train it with h2h train first)")
        return path / CHECKPOINT
    return path


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint dict safely (``weights_only=True``) from its file or run folder; InputError if missing,
    CheckpointError if corrupt."""
    path = checkpoint_file(path)
    if not path.is_file():
        raise InputError(f"checkpoint {path} does not exist")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=True)  # tensors read on use
    except Exception as e:  # noqa: BLE001 - every unpickling/zip failure means the same thing to the user
        raise CheckpointError(f"checkpoint {path} is corrupt or not a head2head checkpoint "
                              f"({type(e).__name__}: {str(e).splitlines()[0][:120]})") from None
    if not isinstance(ckpt, dict) or (parse(ckpt.get("schema")) or ("",))[0] != parse(SCHEMA)[0]:
        got = ckpt.get("schema") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise CheckpointError(f"{path} is not a head2head checkpoint (schema {got!r}, expected {SCHEMA})")
    ckpt = upgrade(ckpt, SCHEMA, f"checkpoint {path}", CheckpointError)  # older versions upgraded, newer refused
    for key in ("model_config", "generator", "data"):
        if key not in ckpt:
            raise CheckpointError(f"checkpoint {path} has no {key!r} entry (truncated or from another tool)")
    return ckpt


def build_generator(model_config: dict[str, Any], state: dict[str, torch.Tensor], source: str) -> nn.Module:
    """A generator of ``model_config`` holding ``state``; CheckpointError when they do not fit each other."""
    try:
        cfg = ModelConfig.from_dict(model_config)
    except ConfigError as e:
        raise CheckpointError(f"{source}: its model_config is not one this engine knows ({e})") from None
    gen = make_generator(cfg)
    try:
        gen.load_state_dict(state)
    except RuntimeError as e:
        first = str(e).split("\n")[1].strip() if "\n" in str(e) else str(e)
        raise CheckpointError(f"{source}: generator weights do not match its model_config ({first[:160]})") from None
    return gen


def load_generator(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """The generator of a checkpoint (eval mode, CPU) and the checkpoint's ``data`` dict."""
    ckpt = read_checkpoint(path)
    bad = [k for k, t in ckpt["generator"].items() if t.is_floating_point() and not torch.isfinite(t).all()]
    if bad:  # a diverged run composites a black face
        raise CheckpointError(f"checkpoint {path}: generator weights {bad[0]} hold NaN/Inf (the run diverged)")
    gen = build_generator(ckpt["model_config"], ckpt["generator"], str(path))
    return gen.eval(), dict(ckpt["data"])
