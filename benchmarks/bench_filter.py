"""Benchmark of ``h2h filter``: the ffmpeg pipe (three processes) vs the in-process PyAV pipeline.

Both reenact the same plate with the same checkpoint and track (a generator of the chosen size with fixed
random weights: the arithmetic is that of a trained one). Each path runs as its own process so its peak
memory is its own (``wait4``). Prints wall time, steady frames/s (after the first frame: model loading and
the first block's warm-up excluded), peak RSS, and the pipe/in-process ratio.

Run: ``python benchmarks/bench_filter.py [--frames N] [--model paper|small] [--clip PATH] [--pix-fmt F] [--quick]``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import Row  # noqa: E402

from h2h_engine.io import open_frames  # noqa: E402
from h2h_engine.morphable import load_model  # noqa: E402
from h2h_engine.synthesis.checkpoint import SCHEMA  # noqa: E402
from h2h_engine.synthesis.config import ModelConfig  # noqa: E402
from h2h_engine.synthesis.generator import Generator  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO.parent / "shared" / "videos" / "yerfor__MimicTalk__data_raw_examples_German_20s.mp4"
MODELS = {"paper": ModelConfig(), "small": ModelConfig(size=128, ngf=16, n_blocks_encoder=2, n_blocks_decoder=2)}

IN_PROCESS = """
import json, sys, time
from h2h_engine.hosts.ffmpeg_filter import pyav_filter, reenact_processor
a = json.loads(sys.argv[1])
stamps = []
proc = reenact_processor(a["ckpt"], a["track"], tuple(a["size"]), a["fps"], frames=None, feather=12.0, mask="box",
                         device="cpu")
pyav_filter(a["clip"], a["out"], proc, frame_range=(0, a["n"] - 1),
            progress=lambda d, t, w: stamps.append(time.perf_counter()))
print(json.dumps(stamps))
"""


def _wait(procs: list[subprocess.Popen]) -> dict[int, int]:
    """Reap processes; peak RSS (KiB) per pid."""
    rss = {}
    for p in procs:
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        rss[p.pid] = usage.ru_maxrss
    return rss


def run_pipe(exe: list[str], clip: Path, ckpt: Path, track: Path, n: int, size: tuple[int, int], fps: float,
             pix_fmt: str, out: Path, env: dict) -> tuple[float, list[float], int]:
    t0 = time.perf_counter()
    dec = subprocess.Popen(["ffmpeg", "-v", "error", "-i", str(clip), "-frames:v", str(n), "-f", "rawvideo",
                            "-pix_fmt", pix_fmt, "-"], stdout=subprocess.PIPE)
    flt = subprocess.Popen([*exe, "--progress", "json", "filter", "--checkpoint", str(ckpt), "--track", str(track),
                            "--size", f"{size[0]}x{size[1]}", "--rate", str(fps), "--pix-fmt", pix_fmt,
                            "--device", "cpu"], stdin=dec.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=env)
    dec.stdout.close()
    enc = subprocess.Popen(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", pix_fmt, "-s",
                            f"{size[0]}x{size[1]}", "-r", str(fps), "-i", "-", "-c:v", "ffv1", str(out)],
                           stdin=flt.stdout)
    flt.stdout.close()
    stamps = []
    for line in flt.stderr:
        if line.startswith(b"{"):
            stamps.append(time.perf_counter())
    rss = _wait([dec, flt, enc])
    if any(p.returncode for p in (dec, flt, enc)):
        sys.exit("pipe failed")
    return time.perf_counter() - t0, stamps, rss[flt.pid]


def run_in_process(clip: Path, ckpt: Path, track: Path, n: int, size: tuple[int, int], fps: float, out: Path,
                   env: dict) -> tuple[float, list[float], int]:
    arg = json.dumps({"ckpt": str(ckpt), "track": str(track), "size": size, "fps": fps, "clip": str(clip),
                      "out": str(out), "n": n})
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-c", IN_PROCESS, arg], stdout=subprocess.PIPE, env=env)
    stdout = p.stdout.read()
    rss = _wait([p])
    if p.returncode:
        sys.exit("in-process pipeline failed")
    # the child's perf_counter shares the machine's monotonic clock with ours
    return time.perf_counter() - t0, json.loads(stdout), rss[p.pid]


def steady_fps(stamps: list[float]) -> float:
    return (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else float("nan")


def measure(frames: int = 8, model: str = "paper", clip: Path = CLIP, pix_fmt: str = "rgb24",
            threads: int = 2) -> dict:
    """Both paths on the same plate, checkpoint and track: wall s, progress stamps and peak RSS (KiB) of each."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(REPO)}
    src = open_frames(clip)
    size, fps = (src.width, src.height), src.fps
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        track = tmp / "plate.h2h.npz"
        subprocess.run([sys.executable, "-m", "h2h_engine.cli", "--progress", "none", "track", str(clip), "-o",
                        str(track), "--frames", f"0-{frames - 1}"], check=True, env=env)
        torch.manual_seed(0)
        cfg = MODELS[model]
        mm = load_model()
        ckpt = tmp / "checkpoint.pt"
        g = Generator(cfg)
        torch.save({"schema": SCHEMA, "model_config": cfg.to_dict(), "generator": g.state_dict(),
                    "data": {"crop_margin": 1.6, "crop_smooth": 15, "morphable_digest": mm.digest,
                             "morphable_name": mm.name}}, ckpt)
        exe = [sys.executable, "-m", "h2h_engine.cli"]
        pipe = run_pipe(exe, clip, ckpt, track, frames, size, fps, pix_fmt, tmp / "pipe.mkv", env)
        inproc = run_in_process(clip, ckpt, track, frames, size, fps, tmp / "inproc.mkv", env)
    return {"pipe": pipe, "in_process": inproc, "size": size, "cfg": cfg,
            "params_m": sum(p.numel() for p in g.parameters()) / 1e6}


def rows(quick: bool = False, frames: int = 8, model: str = "paper", clip: Path = CLIP, pix_fmt: str = "rgb24",
         threads: int = 2) -> list[Row]:
    """Steady throughput of the ffmpeg pipe against the in-process PyAV pipeline."""
    if quick:
        model = "small"
    r = measure(frames, model, clip, pix_fmt, threads)
    (wall_p, st_p, rss_p), (wall_i, st_i, rss_i) = r["pipe"], r["in_process"]
    size = f"{r['size'][0]}x{r['size'][1]}"
    return [Row("filter", f"h2h filter, {frames} frames {size}, G {model} ({r['cfg'].size} px)", steady_fps(st_p),
                peer="in-process PyAV", peer_value=steady_fps(st_i), peak_mib=rss_p / 1024,
                memory="RSS (filter process)",
                extra={"wall s": wall_p, "in-process wall s": wall_i, "in-process peak MiB": rss_i / 1024})]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--model", choices=sorted(MODELS), default="paper")
    ap.add_argument("--clip", type=Path, default=CLIP)
    ap.add_argument("--pix-fmt", default="rgb24", choices=("rgb24", "rgb48le", "gbrpf32le"))
    ap.add_argument("--threads", type=int, default=2, help="torch/OpenMP threads of each engine process")
    ap.add_argument("--quick", action="store_true", help="the small generator")
    args = ap.parse_args()
    if args.quick:
        args.model = "small"
    r = measure(args.frames, args.model, args.clip, args.pix_fmt, args.threads)
    (wall_p, st_p, rss_p), (wall_i, st_i, rss_i) = r["pipe"], r["in_process"]
    size, cfg = r["size"], r["cfg"]
    print(f"h2h filter, {args.frames} frames of {args.clip.name} ({size[0]}x{size[1]}), G {args.model} "
          f"({cfg.size} px, {r['params_m']:.1f} M params), {args.threads} threads, pix_fmt {args.pix_fmt}")
    print(f"{'path':<22}{'wall s':>9}{'frames/s':>10}{'steady f/s':>12}{'peak RSS MB':>13}")
    for name, wall, st, rss in (("ffmpeg pipe (3 procs)", wall_p, st_p, rss_p),
                                ("in-process PyAV", wall_i, st_i, rss_i)):
        print(f"{name:<22}{wall:>9.1f}{args.frames / wall:>10.2f}{steady_fps(st):>12.2f}{rss / 1024:>13.0f}")
    print(f"ratio pipe / in-process: steady throughput {steady_fps(st_p) / steady_fps(st_i):.2f}, "
          f"wall {wall_p / wall_i:.2f}, peak memory {rss_p / rss_i:.2f}")


if __name__ == "__main__":
    main()
