"""Benchmark of the whole Track node: decode + landmarks + pupils + batch 3DMM fit, end to end.

Ours: ``h2h_engine.nodes.track.run`` on a 256 px shared clip (what ``h2h track`` does, file write included).
Reference in the same run: the authors' approach (dlib detection on every frame, 68 points, centroid
pupils; see bench_landmarks.py) followed by the reference fit (``impl="ref"``: numpy SOP + generic sparse
``scipy.optimize.lsq_linear``), on a shorter range since the generic solver does not scale.

Run: ``python benchmarks/bench_track.py [--frames N] [--ref-frames M]``.
"""
from __future__ import annotations

import argparse
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


def ours(n: int, out: Path) -> tuple[float, dict]:
    spec = get_spec("track")
    t = time.perf_counter()
    info = spec(input=str(CLIP), output=str(out), frames=f"0-{n - 1}")
    return time.perf_counter() - t, info


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
    args = ap.parse_args()
    load_model()
    with tempfile.TemporaryDirectory() as d:
        ours(10, Path(d) / "warm.h2h.npz")  # load dlib models and touch pages outside the timings
        tracemalloc.start()
        dt, info = ours(args.frames, Path(d) / "a.h2h.npz")
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        dt_small, info_small = ours(args.ref_frames, Path(d) / "b.h2h.npz")
    print(f"clip {CLIP.name} (256x256)")
    print(f"ours, {args.frames} frames: {args.frames / dt:6.1f} frames/s end to end "
          f"(NME {info['nme_mean']:.4f}, RMSE {info['rmse_px_mean']:.2f} px, peak traced {peak / 2**20:.0f} MiB)")
    ref_dt, ref_nme = reference(args.ref_frames)
    print(f"{args.ref_frames} frames: ours {args.ref_frames / dt_small:6.1f} frames/s (NME {info_small['nme_mean']:.4f}) | "
          f"reference (per-frame detection + lsq_linear) {args.ref_frames / ref_dt:6.2f} frames/s "
          f"(NME {ref_nme:.4f}) | speed-up x{ref_dt / dt_small:.1f}")
    print(f"process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
