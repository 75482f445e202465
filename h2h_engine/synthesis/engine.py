"""Where a generator runs: eager torch (the reference), ONNX Runtime, or torch with bf16 autocast.

G is recurrent (it reads its two previous outputs), so the unit every engine runs is one *step*: the per-frame
module ``G(cond, prev) -> frame`` (``cond``: (B, cond_channels, S, S) in [0, 1]; ``prev``: (B, prev_channels,
S, S) in [-1, 1], absent for feed-forward generators; frame (B, 3, S, S) in [-1, 1]). That module is also what
:func:`export_onnx` writes for hosts whose ML nodes read ONNX.

Engines (``engine=``):

- ``torch``: eager float32 PyTorch, the reference (also the only one on CUDA, where fp16 is the default).
- ``onnx``: the step exported to ONNX (opset 17) and run by ONNX Runtime's CPU provider (MLAS kernels, graph
  fusions); float32, equal to eager torch within ``ONNX_TOLERANCE``. The export is cached by the weights'
  digest in ``$XDG_CACHE_HOME/h2h/onnx`` (``~/.cache/h2h/onnx``), so a farm chunk exports at most once.
- ``bf16``: eager torch under ``torch.autocast("cpu", bfloat16)`` (oneDNN's bf16 convolutions where the CPU
  has AVX512-BF16 or AMX). Faster and less exact: within ``BF16_TOLERANCE``; opt-in only.
- ``auto``: ``onnx`` on the CPU when onnxruntime is installed and G has weights, else ``torch``.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError
from ..io.atomic import atomic_path
from ..optional import available, require

ENGINES = ("auto", "torch", "onnx", "bf16")
OPSET = 17
# Largest difference from eager float32 torch of a step's output (in G's [-1, 1] units), measured on real
# conditioning (tests/synthesis/test_engine.py): ONNX Runtime reorders float32 sums (1e-6 .. 1e-5 seen);
# bf16 keeps 8 mantissa bits in the convolutions (a few 1e-2 seen on the paper's 70.8 M-parameter G).
ONNX_TOLERANCE = 1e-4
BF16_TOLERANCE = 0.1


def has_onnxruntime() -> bool:
    """Whether the ``onnx`` engine can run here (onnxruntime importable)."""
    return available("onnxruntime")


def resolve_engine(engine: str, device: torch.device, generator: nn.Module) -> str:
    """The engine that runs ``generator`` on ``device``: ``auto`` made concrete; ConfigError for a choice that
    cannot run there (ONNX or bf16 on CUDA, ONNX without onnxruntime)."""
    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {', '.join(ENGINES)}; got {engine!r}")
    weights = any(True for _ in generator.parameters())
    if engine == "auto":
        return "onnx" if device.type == "cpu" and weights and has_onnxruntime() else "torch"
    if engine in ("onnx", "bf16") and device.type != "cpu":
        raise ConfigError(f"engine {engine} runs on the CPU only (device {device}); use engine torch on CUDA "
                          "(fp16 there by default)")
    if engine == "onnx" and not has_onnxruntime():
        require("onnxruntime", "engine onnx")
    if engine == "bf16" and not has_native_bf16():
        warnings.warn("engine bf16: this CPU has neither AVX512-BF16 nor AMX, so bf16 convolutions are emulated "
                      "(preview's U-Net took 56x the CPU time of onnx on an AVX2 EPYC); use --engine onnx",
                      RuntimeWarning, stacklevel=2)
    return engine


def has_native_bf16() -> bool:
    """Whether this CPU computes bf16 convolutions in hardware (AVX512-BF16 or AMX tiles)."""
    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def step_inputs(cfg: Any) -> list[str]:
    """Input names of the exported step: ``["cond", "prev"]``, or ``["cond"]`` for feed-forward generators."""
    return ["cond", "prev"] if cfg.n_prev_frames else ["cond"]


class _Step(nn.Module):
    """G's per-frame module with exactly the inputs it reads (ONNX graphs have no optional inputs)."""

    def __init__(self, generator: nn.Module) -> None:
        super().__init__()
        self.g = generator

    def forward(self, cond: torch.Tensor, prev: torch.Tensor | None = None) -> torch.Tensor:
        return self.g(cond, prev)


def onnx_bytes(generator: nn.Module) -> bytes:
    """G's step as an ONNX model (float32, opset 17, batch axis dynamic), with the model config as the
    metadata entry ``model_config`` (JSON)."""
    onnx = require("onnx", "exporting a generator to ONNX")
    g = generator.eval().cpu().float()
    cfg, s = g.cfg, g.cfg.size
    names = step_inputs(cfg)
    args = (torch.zeros(1, cfg.cond_channels, s, s),) + ((torch.zeros(1, cfg.prev_channels, s, s),)
                                                           if cfg.n_prev_frames else ())
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript-based exporter's deprecation notice
        torch.onnx.export(_Step(g), args, buf, dynamo=False, opset_version=OPSET, input_names=names,
                          output_names=["frame"], dynamic_axes={n: {0: "batch"} for n in names + ["frame"]})
    model = onnx.load_from_string(buf.getvalue())
    entry = model.metadata_props.add()
    entry.key, entry.value = "model_config", json.dumps(cfg.to_dict())
    model.producer_name = "head2head"
    return model.SerializeToString()


def export_onnx(generator: nn.Module, path: str | Path) -> None:
    """Write G's step (see :func:`onnx_bytes`) to ``path``; atomic."""
    data = onnx_bytes(generator)
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(data)


def weights_digest(generator: nn.Module) -> str:
    """SHA-256 (hex, 24 digits) of G's config, weights and buffers and of the exporter's versions."""
    h = hashlib.sha256(json.dumps(generator.cfg.to_dict(), sort_keys=True).encode())
    h.update(f"torch {torch.__version__} opset {OPSET}".encode())
    for name, t in generator.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().cpu().float().contiguous().numpy().tobytes())
    return h.hexdigest()[:24]


def onnx_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "h2h" / "onnx"


class OnnxStep:
    """G's step run by ONNX Runtime: ``step(cond, prev)`` with (B, C, S, S) float32 tensors -> (B, 3, S, S).

    Args:
        generator: G (float32 weights); exported once per digest into :func:`onnx_cache_dir`.
        threads: intra-op threads (default: torch's, which ``--threads`` / OMP_NUM_THREADS set).
    """

    def __init__(self, generator: nn.Module, threads: int | None = None) -> None:
        ort = require("onnxruntime", "engine onnx")
        path = onnx_cache_dir() / f"{weights_digest(generator)}.onnx"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            export_onnx(generator, path)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or torch.get_num_threads()
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        # no busy-waiting between runs: a step alternates with the conditioning, warps and composite on the
        # same cores, which spinning pool threads slow down (2 cores: synthesis 1.2x faster without)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.names = step_inputs(generator.cfg)

    def __call__(self, cond: torch.Tensor, prev: torch.Tensor | None = None) -> torch.Tensor:
        feed = {"cond": np.ascontiguousarray(cond.detach().cpu().numpy(), np.float32)}
        if "prev" in self.names:
            feed["prev"] = np.ascontiguousarray(prev.detach().cpu().numpy(), np.float32)
        return torch.from_numpy(self.session.run(None, feed)[0])
