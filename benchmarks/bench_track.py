"""Benchmark of the whole Track node: decode + landmarks + pupils + batch 3DMM fit, end to end.

Ours: ``h2h_engine.nodes.track.run`` on a 256 px shared clip (what ``h2h track`` does, file write included).
Reference in the same run: the authors' approach (dlib detection on every frame, 68 points, centroid
pupils; see bench_landmarks.py) followed by the reference fit (``impl="ref"``: numpy SOP + generic sparse
``scipy.optimize.lsq_linear``), on a shorter range since the generic solver does not scale.

Also the same on a 512 px clip. Timings are the best of ``--repeats`` runs, beside the process CPU time of that
run (all threads: decode, following and pupils overlap in three threads, the fit uses OpenMP); memory is traced
in a separate run.

Run: ``python benchmarks/bench_track.py [--frames N] [--ref-frames M] [--repeats R]``.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from h2h_engine.fitting import fit_video, landmark_nme, load_fit_config
from h2h_engine.io import open_frames
from h2h_engine.morphable import load_model
from h2h_engine.nodes import get_spec

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_landmarks import naive  # noqa: E402  (the authors' per-frame landmark pipeline)

VIDEOS = Path(__file__).resolve().parents[1].parent / "shared" / "videos"
CLIP = VIDEOS / "AliaksandrSiarohin__first-order-model__demo_old_04.mp4"  # 256x256, 211 frames
CLIP_512 = VIDEOS / "OpenTalker__SadTalker__examples_ref_video_WDA_AlexandriaOcasioCortez_000.mp4"  # 512x512


def ours(n: int, out: Path, clip: Path = CLIP) -> tuple[float, float, dict]:
    """(wall s, process CPU s over all threads, summary) of the track node on frames 0..n-1 of ``clip``."""
    spec = get_spec("track")
    t, c = time.perf_counter(), time.process_time()
    info = spec(input=str(clip), output=str(out), frames=f"0-{n - 1}", force=True)
    return time.perf_counter() - t, time.process_time() - c, info


def reference(n: int) -> tuple[float, float]:
    model, cfg = load_model(), load_fit_config()
    t = time.perf_counter()
    frames = list(open_frames(CLIP, (0, n - 1)))
    lm = naive(frames)
    fit = fit_video(model, lm, None, cfg, impl="ref")
    dt = time.perf_counter() - t
    return dt, float(landmark_nme(model, fit, lm).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=200, help="frames for the end-to-end run")
    ap.add_argument("--ref-frames", type=int, default=30, help="frames for the reference (lsq_linear) run")
    ap.add_argument("--repeats", type=int, default=3, help="timed end-to-end runs (best kept; the machine is shared)")
    args = ap.parse_args()
    load_model()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as d:
        for clip in (CLIP, CLIP_512):
            ours(10, Path(d) / "warm.h2h.npz", clip)  # load dlib models and touch pages outside the timings
            runs = [ours(args.frames, Path(d) / "a.h2h.npz", clip) for _ in range(args.repeats)]
            dt, cpu, info = min(runs, key=lambda r: r[0])
            tracemalloc.start()  # memory in a run of its own: tracing slows allocation-heavy code
            ours(args.frames, Path(d) / "m.h2h.npz", clip)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            side = info["image_size"][0]
            print(f"ours, {clip.name} ({side} px), {args.frames} frames: {args.frames / dt:6.1f} frames/s end to end "
                  f"(best of {args.repeats}; {cpu / args.frames * 1e3:.2f} CPU ms a frame over all threads; NME "
                  f"{info['nme_mean']:.4f}, RMSE {info['rmse_px_mean']:.2f} px, peak traced {peak / 2**20:.0f} MiB)")
        dt_small, _, info_small = ours(args.ref_frames, Path(d) / "b.h2h.npz")
    ref_dt, ref_nme = reference(args.ref_frames)
    print(f"{args.ref_frames} frames: ours {args.ref_frames / dt_small:6.1f} frames/s (NME {info_small['nme_mean']:.4f}) | "
          f"reference (per-frame detection + lsq_linear) {args.ref_frames / ref_dt:6.2f} frames/s "
          f"(NME {ref_nme:.4f}) | speed-up x{ref_dt / dt_small:.1f}")
    print(f"process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
