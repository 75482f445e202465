"""Benchmark of the Synthesize node's generator and of the trainer's step.

Inference: :class:`~h2h_engine.synthesis.inference.Synthesizer` with each engine (``torch``: eager fp32,
conditioning encoder batched over frames, fp16 + channels-last on CUDA; ``onnx``: the per-frame step in ONNX
Runtime; ``bf16``: torch bf16 autocast) against the peer, the authors' generator applied as their test script
applies it: the whole G (our ``Generator`` at the paper preset is that network definition: 70.8 M parameters,
the same layers) in eager fp32 on one frame at a time (``G(stack(x_{t-2..t}), prev)``, no batching). Same
random conditioning for all, at the paper preset (256 px), the preview preset (256 px U-Net over the appearance
inputs, feed-forward) and the tiny preset (64 px). Training: seconds per step of :class:`h2h_engine.training.train.Trainer`
on random data of the preset's size. Timings interleave the implementations and keep the best of ``--repeats``
(wall) beside the process CPU seconds per frame of that run (the machine is shared: compare ratios within one
run), the engines' set-up (the ONNX export is cached by the weights' digest, the session is made once per shot)
timed apart; peak memory comes from a fresh process per case (CPU: peak RSS; CUDA: peak allocated).

Run: ``python benchmarks/bench_synthesize.py [--frames N] [--threads 2] [--repeats 3] [--presets tiny,preview,paper]
[--engines torch,onnx,bf16] [--train-paper] [--quick]``; ``benchmarks/run_all.py`` calls :func:`rows`.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from h2h_engine.synthesis.generator import make_generator
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


def reference_run(g: torch.nn.Module, cond: np.ndarray, device: torch.device) -> list[np.ndarray]:
    """The peer: eager fp32, the whole G on one frame at a time (the authors' test loop)."""
    g = g.to(device).float().eval()
    c = torch.from_numpy(cond).to(device)
    n_prev = g.cfg.n_prev_frames
    prev = torch.zeros(1, 3 * n_prev, g.cfg.size, g.cfg.size, device=device) if n_prev else None
    out = []
    with torch.no_grad():
        for t in range(len(cond)):
            y = g(temporal_stack(c, torch.tensor([t], device=device), g.cfg.n_cond_frames), prev)
            if n_prev:
                prev = torch.cat([prev[:, 3:], y], dim=1)
            out.append(((y[0].clamp(-1, 1) + 1) / 2).permute(1, 2, 0).cpu().numpy())
    return out


def _setup(preset: str, frames: int, threads: int) -> tuple[torch.nn.Module, np.ndarray]:
    torch.set_num_threads(threads)
    cfg = load_config(preset).model
    torch.manual_seed(0)
    g = make_generator(cfg).eval()
    cond = np.random.default_rng(0).random((frames, cfg.frame_channels, cfg.size, cfg.size), dtype=np.float32)
    return g, cond


def _runner(impl: str, g: torch.nn.Module, frames: int, device: str) -> Any:
    """``run(cond) -> frames made`` for one implementation; its set-up (for onnx: the weights' digest, the
    export on first use and the ONNX Runtime session) happens here, once per shot in the node too."""
    if impl == "reference":
        return lambda cond: len(reference_run(g, cond, pick_device(device)))
    synth = Synthesizer(g, device=device, schedule=Schedule(block=max(64, frames)), engine=impl)
    return lambda cond: sum(1 for _ in synth.run(cond, 0, 0, len(cond) - 1))


def _inference_speed(preset: str, frames: int, threads: int, device: str, repeats: int,
                     engines: tuple[str, ...]) -> dict[str, tuple[float, float, float]]:
    """(best frames/s, CPU s per frame of that run, set-up s) of each implementation over ``repeats``
    interleaved runs."""
    g, cond = _setup(preset, frames, threads)
    dev = pick_device(device)
    impls = ("reference",) + engines
    runners, setup = {}, {}
    for impl in impls:
        t = time.perf_counter()
        runners[impl] = _runner(impl, g, frames, device)
        setup[impl] = time.perf_counter() - t
        runners[impl](cond[:2])  # warm-up
    best = {impl: (0.0, 0.0, setup[impl]) for impl in impls}
    for _ in range(repeats):
        for impl in impls:
            _sync(dev)
            t, c = time.perf_counter(), time.process_time()
            n = runners[impl](cond)
            _sync(dev)
            fps, cpu = n / (time.perf_counter() - t), (time.process_time() - c) / n
            if fps > best[impl][0]:
                best[impl] = (fps, cpu, setup[impl])
    return best


def _inference_memory(preset: str, impl: str, frames: int, threads: int, device: str) -> float:
    """Peak memory (MB) of a fresh process running one implementation once."""
    g, cond = _setup(preset, frames, threads)
    _runner(impl, g, frames, device)(cond)
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
         presets: str = "tiny,preview,paper", engines: str = "", train_paper: bool = False) -> list[Row]:
    """Inference of each preset with each engine against the peer (the authors' G, eager fp32 frame by frame),
    and the trainer's step. ``quick``: tiny and preview only, 1 repeat, 2 training steps."""
    if quick:
        presets, repeats = "tiny,preview", 1
    cuda = pick_device(device).type == "cuda"
    engine_list = tuple(e for e in (engines or ("torch" if cuda else "torch,onnx,bf16")).split(",") if e)
    memory = "CUDA allocated" if cuda else "RSS (fresh process)"
    out = []
    for preset in [p for p in presets.split(",") if p]:
        n = frames or (256 if cuda else {"paper": 4, "preview": 24}.get(preset, 48))
        fps = _in_process(_inference_speed, preset, n, threads, device, repeats, engine_list)
        mem = {impl: _in_process(_inference_memory, preset, impl, n, threads, device) for impl in fps}
        size = load_config(preset).model.size
        peer, peer_cpu, _ = fps["reference"]
        for impl in engine_list:
            f, c, setup = fps[impl]
            out.append(Row("synthesize", f"generator inference, {preset} ({size} px), engine {impl}, {n} frames", f,
                           peer="the authors' G, eager fp32 frame by frame", peer_value=peer, peak_mib=mem[impl],
                           memory=memory, extra={"CPU s/frame": c, "peer CPU s/frame": peer_cpu, "set-up s (once a shot)": setup,
                                                 "peer peak MiB": mem["reference"], "device": str(pick_device(device))}))
    for preset in ["tiny"] + (["paper"] if train_paper or cuda else []):
        r = _in_process(_train_case, preset, 3 if preset == "paper" and not cuda else (2 if quick else 10), threads,
                        device)
        what = f"{r['frames_per_step']} frames, G + D_I + D_M + D_D + VGG19"
        out.append(Row("train", f"training step, {preset} ({what})", r["s_per_step"], unit="s/step",
                       peak_mib=r["peak_mb"], memory="RSS (fresh process)" if r["device"] == "cpu" else "CUDA allocated",
                       extra={"frames/s": r["frames_per_step"] / r["s_per_step"], "device": r["device"]}))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=0, help="frames per inference case (default: 4 paper / 24 "
                    "preview / 48 tiny on CPU, 256 on CUDA)")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved timing runs per inference case (best kept)")
    ap.add_argument("--presets", default="tiny,preview,paper", help="inference presets (comma list)")
    ap.add_argument("--engines", default="", help="engines to time beside the peer (default: torch,onnx,bf16 on "
                    "CPU, torch on CUDA)")
    ap.add_argument("--train-paper", action="store_true", help="also time paper-preset training steps")
    ap.add_argument("--quick", action="store_true", help="tiny and preview only, 1 repeat, 2 training steps")
    args = ap.parse_args()
    print(f"device: {pick_device(args.device)}  threads: {args.threads}  torch {torch.__version__}  "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print_rows(rows(args.quick, args.frames, args.threads, args.device, args.repeats, args.presets, args.engines,
                    args.train_paper))


if __name__ == "__main__":
    main()
