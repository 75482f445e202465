"""Benchmark of the Synthesize node's generator and of the trainer's step.

Inference: :class:`~h2h_engine.synthesis.inference.Synthesizer` (inference mode, conditioning encoder
batched over frames, fp16 + channels-last on CUDA) against the simple reference, the same generator in eager
fp32 applied frame by frame (``G(stack(x_{t-2..t}), prev)`` per frame, no batching), on the same random
conditioning, at the paper preset (256 px, 70.8 M parameters) and the tiny preset (64 px). Training: seconds
per step of :class:`h2h_engine.training.train.Trainer`
on random data of the preset's size. Timings interleave the two implementations and keep the best of
``--repeats``; peak memory comes from a fresh process per case (CPU: peak RSS; CUDA: peak allocated).

Run: ``python benchmarks/bench_synthesize.py [--frames N] [--threads 2] [--repeats 3] [--skip-paper] [--train-paper]
[--quick]``.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from h2h_engine.synthesis import Generator
from h2h_engine.synthesis.inference import Schedule, Synthesizer, pick_device, temporal_stack
from h2h_engine.training.config import load_config

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import Row, print_rows  # noqa: E402


def _peak_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2 ** 20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reference_run(g: Generator, cond: np.ndarray, device: torch.device) -> list[np.ndarray]:
    """Eager fp32, one frame at a time: the straightforward way to apply G over a clip."""
    g = g.to(device).float().eval()
    c = torch.from_numpy(cond).to(device)
    prev = torch.zeros(1, 3 * g.cfg.n_prev_frames, g.cfg.size, g.cfg.size, device=device)
    out = []
    with torch.no_grad():
        for t in range(len(cond)):
            y = g(temporal_stack(c, torch.tensor([t], device=device), g.cfg.n_cond_frames), prev)
            prev = torch.cat([prev[:, 3:], y], dim=1)
            out.append(((y[0].clamp(-1, 1) + 1) / 2).permute(1, 2, 0).cpu().numpy())
    return out


def _setup(preset: str, frames: int, threads: int) -> tuple[Generator, np.ndarray]:
    torch.set_num_threads(threads)
    cfg = load_config(preset).model
    torch.manual_seed(0)
    return Generator(cfg), np.random.default_rng(0).random((frames, 6, cfg.size, cfg.size), dtype=np.float32)


def _run_impl(impl: str, g: Generator, cond: np.ndarray, device: str) -> int:
    if impl == "synthesizer":
        synth = Synthesizer(g, device=device, schedule=Schedule(block=max(64, len(cond))))
        return sum(1 for _ in synth.run(cond, 0, 0, len(cond) - 1))
    return len(reference_run(g, cond, pick_device(device)))


def _inference_speed(preset: str, frames: int, threads: int, device: str, repeats: int) -> dict[str, float]:
    """Best frames/s of each implementation over ``repeats`` interleaved runs (the machine is shared)."""
    g, cond = _setup(preset, frames, threads)
    dev = pick_device(device)
    best = {"reference": 0.0, "synthesizer": 0.0}
    for impl in best:
        _run_impl(impl, g, cond[:2], device)  # warm-up
    for _ in range(repeats):
        for impl in best:
            _sync(dev)
            t = time.perf_counter()
            n = _run_impl(impl, g, cond, device)
            _sync(dev)
            best[impl] = max(best[impl], n / (time.perf_counter() - t))
    return best


def _inference_memory(preset: str, impl: str, frames: int, threads: int, device: str) -> float:
    """Peak memory (MB) of a fresh process running one implementation once."""
    g, cond = _setup(preset, frames, threads)
    _run_impl(impl, g, cond, device)
    return _peak_mb(pick_device(device))


def _train_case(preset: str, steps: int, threads: int, device: str) -> dict[str, Any]:
    from h2h_engine.training.data import ShotData  # noqa: PLC0415
    from h2h_engine.training.train import Trainer  # noqa: PLC0415

    torch.set_num_threads(threads)
    cfg = load_config(preset, overrides={"random_vgg": True, "device": device})
    s, n = cfg.model.size, 48
    rng = np.random.default_rng(0)
    data = ShotData(frames=np.arange(n), images=rng.integers(0, 256, (n, s, s, 3), dtype=np.uint8),
                    cond=rng.random((n, 6, s, s), dtype=np.float32).astype(np.float16), mask=np.ones((n, s, s), bool),
                    mouth_box=np.tile(np.array([[s // 3, s // 2, 2 * s // 3, 3 * s // 4]], np.int32), (n, 1)),
                    flow=np.zeros((n, 2, s, s), np.float16), crop_box=np.array([0, 0, s, s], np.float32), n_train=32)
    import tempfile  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp:
        tr = Trainer(cfg, data, Path(tmp), {}, show_progress=False)
        tr.train_step()
        _sync(tr.device)
        t = time.perf_counter()
        for _ in range(steps):
            tr.train_step()
        _sync(tr.device)
        dt = (time.perf_counter() - t) / steps
    return {"s_per_step": dt, "frames_per_step": cfg.frames_per_step, "peak_mb": _peak_mb(tr.device),
            "device": str(tr.device)}


def _in_process(fn: Any, *args: Any) -> dict[str, Any]:
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, args)


def rows(quick: bool = False, frames: int = 0, threads: int = 2, device: str = "auto", repeats: int = 3,
         skip_paper: bool = False, train_paper: bool = False) -> list[Row]:
    """Inference of each preset against the eager frame-by-frame reference, and the trainer's step."""
    if quick:
        skip_paper, repeats = True, 1
    cuda = pick_device(device).type == "cuda"
    out = []
    for preset in ["tiny"] + ([] if skip_paper else ["paper"]):
        n = frames or (256 if cuda else (4 if preset == "paper" else 48))
        fps = _in_process(_inference_speed, preset, n, threads, device, repeats)
        mem = {impl: _in_process(_inference_memory, preset, impl, n, threads, device) for impl in fps}
        size = load_config(preset).model.size
        out.append(Row("synthesize", f"generator inference, {preset} ({size} px), {n} frames", fps["synthesizer"],
                       peer="eager fp32 frame by frame", peer_value=fps["reference"], peak_mib=mem["synthesizer"],
                       memory="CUDA allocated" if cuda else "RSS (fresh process)",
                       extra={"reference peak MiB": mem["reference"], "device": str(pick_device(device))}))
    for preset in ["tiny"] + (["paper"] if train_paper or cuda else []):
        r = _in_process(_train_case, preset, 3 if preset == "paper" and not cuda else (2 if quick else 10), threads,
                        device)
        what = f"{r['frames_per_step']} frames, G + D_I + D_M + D_D + VGG19"
        out.append(Row("train", f"training step, {preset} ({what})", r["s_per_step"], unit="s/step",
                       peak_mib=r["peak_mb"],
                       memory="RSS (fresh process)" if r["device"] == "cpu" else "CUDA allocated",
                       extra={"frames/s": r["frames_per_step"] / r["s_per_step"], "device": r["device"]}))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=0, help="frames per inference case (default: 4 paper / 48 tiny "
                    "on CPU, 256 on CUDA)")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved timing runs per inference case (best kept)")
    ap.add_argument("--skip-paper", action="store_true", help="only the tiny preset")
    ap.add_argument("--train-paper", action="store_true", help="also time paper-preset training steps")
    ap.add_argument("--quick", action="store_true", help="tiny preset only, 1 repeat, 2 training steps")
    args = ap.parse_args()
    print(f"device: {pick_device(args.device)}  threads: {args.threads}  torch {torch.__version__}")
    print_rows(rows(args.quick, args.frames, args.threads, args.device, args.repeats, args.skip_paper,
                    args.train_paper))


if __name__ == "__main__":
    main()
