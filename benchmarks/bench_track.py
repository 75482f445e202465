"""Benchmark of the whole Track node: decode + landmarks + pupils + batch 3DMM fit, end to end.

Ours: ``h2h_engine.nodes.track.run`` on a 256 px shared clip (what ``h2h track`` does, file write included).
Reference in the same run: the authors' approach (dlib detection on every frame, 68 points, centroid
pupils; see bench_landmarks.py) followed by the reference fit (``impl="ref"``: numpy SOP + generic sparse
``scipy.optimize.lsq_linear``), on a shorter range since the generic solver does not scale.

Also the same on a 512 px clip. Timings are the best of ``--repeats`` runs, beside the process CPU time of that
run (all threads: decode, following and pupils overlap in three threads, the fit uses OpenMP); memory is traced
in a separate run.

Run: ``python benchmarks/bench_track.py [--frames N] [--ref-frames M] [--repeats R] [--quick]``;
``benchmarks/run_all.py`` calls :func:`rows`.
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
from benchlib import Row, print_rows  # noqa: E402

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


def rows(quick: bool = False, frames: int = 200, ref_frames: int = 30, repeats: int = 3) -> list[Row]:
    """Ours end to end on ``frames`` frames of the 256 px and the 512 px clip (best of ``repeats``); ours and the
    reference on ``ref_frames``."""
    if quick:
        frames, ref_frames, repeats = 50, 6, 1
    load_model()
    out = []
    with tempfile.TemporaryDirectory() as d:
        for clip in (CLIP, CLIP_512):
            ours(10, Path(d) / "warm.h2h.npz", clip)  # load dlib models and touch pages outside the timings
            runs = [ours(frames, Path(d) / "a.h2h.npz", clip) for _ in range(repeats)]
            dt, cpu, info = min(runs, key=lambda r: r[0])
            tracemalloc.start()  # memory in a run of its own: tracing slows allocation-heavy code
            ours(frames, Path(d) / "m.h2h.npz", clip)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            side = info["image_size"][0]
            out.append(Row("track", f"end to end, {frames} frames of {clip.stem.split('__')[-1]} ({side} px)",
                           frames / dt, peak_mib=peak / 2**20, memory="traced",
                           extra={"CPU ms/frame": cpu / frames * 1e3, "NME": info["nme_mean"],
                                  "RMSE px": info["rmse_px_mean"], "best of": repeats}))
        dt_small, _, info_small = ours(ref_frames, Path(d) / "b.h2h.npz")
    ref_dt, ref_nme = reference(ref_frames)
    out.append(Row("track", f"end to end, {ref_frames} frames", ref_frames / dt_small,
                   peer="per-frame detection + lsq_linear", peer_value=ref_frames / ref_dt,
                   extra={"NME": info_small["nme_mean"], "reference NME": ref_nme}))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=200, help="frames for the end-to-end run")
    ap.add_argument("--ref-frames", type=int, default=30, help="frames for the reference (lsq_linear) run")
    ap.add_argument("--repeats", type=int, default=3, help="timed end-to-end runs (best kept; the machine is shared)")
    ap.add_argument("--quick", action="store_true", help="50 frames, 6 for the reference, 1 repeat")
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print_rows(rows(args.quick, args.frames, args.ref_frames, args.repeats))
    print(f"process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
