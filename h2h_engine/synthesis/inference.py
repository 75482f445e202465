"""Sequential application of G over a shot, in fixed blocks so any frame range gives the same pixels.

G is recurrent (it sees its two previous outputs), so a frame depends on everything before it. To let
chunked renders (farm tasks, ``--frames A-B``) join seamlessly, frames are generated in blocks of
``block`` frames anchored at the track's first frame; each block starts from a zero state ``warmup``
frames before its first frame and discards those warm-up outputs. A frame's pixels are therefore a
function of at most ``warmup + block`` conditioning frames, identical whichever range asked for it.
The conditioning encoder does not depend on the state, so it runs batched over frames, in groups of
``encoder_batch`` anchored at each block start (and padded) so batch shapes never depend on the range.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from torch import nn

from ..errors import CheckpointError, ConfigError
from ..io.atomic import atomic_path
from .config import ModelConfig
from .engine import OnnxStep, resolve_engine


@dataclass(frozen=True)
class Schedule:
    """How a shot is cut into independently warmed-up blocks (see module docstring)."""

    block: int = 64         # frames generated per block
    warmup: int = 8         # frames generated and discarded before each block (not before the shot's start)
    encoder_batch: int = 0  # frames per batched call of the conditioning encoder (0: 8 on CUDA, 1 on CPU)
    recurrent: bool = True  # False (feed-forward G): a frame needs only its own conditioning frames

    @classmethod
    def for_model(cls, cfg: ModelConfig, **kw: int) -> "Schedule":
        """The default layout for a generator of ``cfg`` (no warm-up for feed-forward generators)."""
        return cls(**kw) if cfg.n_prev_frames else cls(warmup=0, recurrent=False, **kw)

    def blocks(self, first: int, last: int) -> list[tuple[int, int, int]]:
        """``(start, out_first, out_last)`` per block touching track indices ``first..last`` (inclusive):
        generation starts (from a zero state) at ``start`` and frames ``out_first..out_last`` are kept."""
        out = []
        for b in range(first // self.block, last // self.block + 1):
            b0 = b * self.block
            out.append((max(0, b0 - self.warmup), max(b0, first), min(b0 + self.block - 1, last)))
        return out

    def needed(self, first: int, last: int, n_cond_frames: int = 3) -> tuple[int, int]:
        """Track indices of the conditioning frames needed to synthesize ``first..last``."""
        start = self.blocks(first, last)[0][0] if self.recurrent else first
        return max(0, start - (n_cond_frames - 1)), last


def pick_device(device: str = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ConfigError for CUDA on a machine without it."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} asked for, but torch sees no CUDA GPU here (use auto or cpu)")
    return torch.device(device)


def conditioning_stack(nmfc: np.ndarray, eyes: np.ndarray, *appearance: np.ndarray) -> np.ndarray:
    """Per-frame network input channels: (T, H, W, 3) NMFC + (T, H, W, 3) eyes [+ appearance inputs
    (T, H, W, c) in [0, 1], see :func:`appearance_channels`] -> (T, C, H, W) float32."""
    parts = [nmfc, eyes, *appearance]
    out = np.empty((len(nmfc), sum(p.shape[-1] for p in parts), *nmfc.shape[1:3]), np.float32)
    c = 0
    for p in parts:  # written channel-first in one pass
        out[:, c:c + p.shape[-1]] = p.transpose(0, 3, 1, 2)
        c += p.shape[-1]
    return out


def appearance_channels(inputs: tuple[str, ...], images: np.ndarray, matte: np.ndarray | None,
                        warp: np.ndarray | None, cover: np.ndarray | None) -> list[np.ndarray]:
    """The appearance inputs of ``ModelConfig.appearance_inputs`` as (T, H, W, c) float32 in [0, 1].

    Args:
        images: (T, H, W, 3) uint8 plate crops (context: blanked inside the matte).
        matte: (T, H, W) float32 face matte (context only).
        warp: (T, H, W, 3) uint8 warped training frames; cover (T, H, W) float32 their coverage (warp only).
    """
    out = []
    if "context" in inputs:
        keep = (1.0 - matte)[..., None]
        out += [np.asarray(images, np.float32) / 255.0 * keep, matte[..., None].astype(np.float32)]
    if "warp" in inputs:
        out += [np.asarray(warp, np.float32) / 255.0, cover[..., None].astype(np.float32)]
    return out


def temporal_stack(cond: torch.Tensor, index: torch.Tensor, n_cond_frames: int, offset: int = 0) -> torch.Tensor:
    """G's conditioning input for track indices ``index``: from (N, C, H, W) per-frame conditioning of track
    indices ``offset..`` -> (len(index), C * n_cond_frames, H, W), frames t-n+1..t oldest first; indices
    before the shot's first frame (0) repeat frame 0."""
    if n_cond_frames == 1 and len(index) == 1:  # one frame of its own conditioning: a view, no copy
        i = max(int(index[0]), 0) - offset
        return cond[i:i + 1]
    parts = [cond[(index - k).clamp(min=0) - offset] for k in range(n_cond_frames - 1, -1, -1)]
    return torch.cat(parts, dim=1)


class Synthesizer:
    """Runs a generator over (a range of) a shot's conditioning.

    Args:
        generator: trained G; it is moved (in place) to ``device`` and, with ``half``, converted to fp16.
        device: "auto" | "cpu" | "cuda[:n]".
        half: fp16 weights and activations (default: on CUDA only).
        schedule: block/warm-up layout; keep the default to join chunks rendered by others.
        source: what G came from, for errors (e.g. ``checkpoint run/checkpoint.pt``).
        engine: ``auto`` | ``torch`` | ``onnx`` | ``bf16`` (see :mod:`.engine`); ``self.engine`` is the one used.
    """

    def __init__(self, generator: nn.Module, device: str = "auto", half: bool | None = None,
                 schedule: Schedule = Schedule(), source: str = "generator", engine: str = "torch") -> None:
        self.source = source
        self.device = pick_device(device)
        self.engine = resolve_engine(engine, self.device, generator)
        self.half = (self.device.type == "cuda") if half is None else half
        if self.engine != "torch" and self.half:
            raise ConfigError(f"engine {self.engine} runs float32 weights; half applies to engine torch only")
        self.dtype = torch.float16 if self.half else torch.float32
        self.cfg = generator.cfg
        # feed-forward generators have no state to warm up: a frame needs only its own conditioning frames
        self.schedule = schedule if self.cfg.n_prev_frames else replace(schedule, warmup=0, recurrent=False)
        fmt = torch.channels_last if self.device.type == "cuda" else torch.contiguous_format
        self.g = generator.eval().to(self.device, self.dtype, memory_format=fmt)
        self.fmt = fmt
        self._onnx = OnnxStep(self.g) if self.engine == "onnx" else None

    def _whole_step(self, cond: torch.Tensor, prev: torch.Tensor | None) -> torch.Tensor:
        """G(cond, prev) (B, 3, S, S) in G's dtype, by the engine (float32 for onnx and bf16)."""
        if self._onnx is not None:
            return self._onnx(cond, prev).to(self.device)
        if self.engine == "bf16":
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return self.g(cond, prev).float()
        return self.g(cond, prev)

    @torch.inference_mode()
    def run(self, cond: np.ndarray, offset: int, first: int, last: int) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(track_index, rgb)`` for ``first..last``; ``rgb`` (H, W, 3) float32 in [0, 1].

        Args:
            cond: (N, C, H, W) per-frame conditioning (C = ``frame_channels``: NMFC, eyes, appearance inputs;
                see :func:`conditioning_stack`) of track indices
                ``offset .. offset + N - 1``, covering ``schedule.needed(first, last)``.
        """
        lo, hi = self.schedule.needed(first, last, self.cfg.n_cond_frames)
        if offset > lo or offset + len(cond) - 1 < hi:
            raise ValueError(f"conditioning covers {offset}..{offset + len(cond) - 1}; frames {first}..{last} "
                             f"need {lo}..{hi}")
        size, fc = self.cfg.size, self.cfg.frame_channels
        if cond.shape[1:] != (fc, size, size):
            raise ValueError(f"conditioning must be (N, {fc}, {size}, {size}); got {cond.shape}")
        c = torch.from_numpy(cond[lo - offset:hi - offset + 1]).to(self.device, self.dtype)
        e = self.schedule.encoder_batch or (8 if self.device.type == "cuda" else 1)  # CPU: batching gains nothing
        n_prev = self.cfg.n_prev_frames
        for start, out_first, out_last in self.schedule.blocks(first, last):
            if n_prev == 0:  # feed-forward: a frame depends on its conditioning only (no warm-up needed)
                for g0 in range(out_first, out_last + 1, e):
                    idx = torch.arange(g0, g0 + e).clamp(max=out_last)  # padded to a fixed batch shape
                    x = temporal_stack(c, idx.to(self.device), self.cfg.n_cond_frames, offset=lo)
                    y = self._whole_step(x.contiguous(memory_format=self.fmt), None)
                    for j in range(min(e, out_last - g0 + 1)):
                        yield g0 + j, self._image(y[j], g0 + j)
                continue
            prev = torch.zeros(1, 3 * n_prev, size, size, device=self.device, dtype=self.dtype)
            prev = prev.contiguous(memory_format=self.fmt)
            for g0 in range(start, out_last + 1, e):
                idx = torch.arange(g0, g0 + e).clamp(max=out_last)  # padded to a fixed batch shape
                x = temporal_stack(c, idx.to(self.device), self.cfg.n_cond_frames, offset=lo)
                x = x.contiguous(memory_format=self.fmt)
                # eager torch batches the conditioning encoder; the other engines run the exported whole step
                feats = self.g.encode_cond(x) if self.engine == "torch" else None
                for j in range(min(e, out_last - g0 + 1)):
                    y = (self.g.step(feats[j:j + 1], prev) if feats is not None
                         else self._whole_step(x[j:j + 1], prev))  # (1, 3, H, W)
                    prev = torch.cat([prev[:, 3:], y], dim=1) if n_prev > 1 else y
                    if g0 + j >= out_first:
                        yield g0 + j, self._image(y[0], g0 + j)

    def _image(self, y: torch.Tensor, index: int) -> np.ndarray:
        """G's raw output (3, H, W) of track index ``index`` -> (H, W, 3) float32 in [0, 1]. Checked before
        the clamp (which turns +Inf into white): finite weights can still overflow, and a NaN frame composites
        as a black face, so a non-finite output is a CheckpointError before anything is written from it.
        In numpy on the host: one frame is too small for torch's thread pool, whose wake-up after ONNX
        Runtime's threads cost ~9 ms a frame on 2 cores."""
        rgb = y.float().cpu().numpy()
        if not np.isfinite(rgb).all():
            hint = " (fp16 on CUDA: try --device cpu, float32)" if self.half else ""
            raise CheckpointError(f"{self.source}: the generator's output is NaN/Inf at frame index {index} (its "
                                  f"weights overflow {str(self.dtype)[6:]}){hint}; use an earlier checkpoint of "
                                  "the run")
        return ((np.clip(rgb, -1, 1) + 1) * 0.5).transpose(1, 2, 0)


def export_torchscript(generator: nn.Module, path: str | Path) -> None:
    """Write G as a traced TorchScript module (``forward(cond, prev)``, ``encode_cond``, ``step``) with its
    model config in the extra file ``model_config.json``; atomic."""
    g = generator.eval().cpu().float()
    s = g.cfg.size
    cond = torch.zeros(1, g.cfg.cond_channels, s, s)
    prev = torch.zeros(1, g.cfg.prev_channels, s, s)
    with torch.no_grad():
        if g.cfg.n_prev_frames == 0:  # feed-forward generators: forward(cond, prev) only
            traced = torch.jit.trace_module(g, {"forward": (cond, prev)})
        else:
            feats = g.encode_cond(cond)
            traced = torch.jit.trace_module(g, {"forward": (cond, prev), "encode_cond": (cond,),
                                                "step": (feats, prev)})
    with atomic_path(path) as tmp:
        torch.jit.save(traced, str(tmp), _extra_files={"model_config.json": json.dumps(g.cfg.to_dict())})



def composite_alpha(cfg: ModelConfig, matte: np.ndarray, cover: np.ndarray | None) -> np.ndarray:
    """(T, H, W) float32 weight of the synthesized crop over the plate: the face matte (region face; ones
    for the crop region), and without a network (arch none) only where the warp sampled the target."""
    if cfg.arch == "none" and cover is not None:
        return (matte * np.clip(cover, 0, 1)).astype(np.float32)
    return np.asarray(matte, np.float32)
