"""Benchmark of the batch 3DMM video fit (Track node, fitting half).

Prints: fitting frames/s and the batch fit time on a shared clip (1,000 frames by default), the native shape
solver against the generic sparse ``lsq_linear`` reference at equal size, the SOP camera kernel against its
numpy reference, peak memory and the fitted-model NME. Run: ``python benchmarks/bench_fit.py [--quick]
[--scaling]``. Wall times are those of a shared machine; the process CPU time of the fit is printed beside them.
``--scaling``: the batch fit of 1,000 and 10,000 frames (a real clip's landmarks tiled and perturbed).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import Row, peak_rss_mib, print_rows  # noqa: E402

from h2h_engine.fitting import fit_video, landmark_nme, load_fit_config  # noqa: E402
from h2h_engine.fitting.shape import solve_shape  # noqa: E402
from h2h_engine.fitting.sop import sop_pose  # noqa: E402
from h2h_engine.fitting.video import _cameras, _landmark_weights, _LandmarkBasis, _problem  # noqa: E402
from h2h_engine.io import open_frames  # noqa: E402
from h2h_engine.landmarks import track_landmarks  # noqa: E402
from h2h_engine.morphable import load_model  # noqa: E402
from h2h_engine.track import FLAG_NO_FACE  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "videos"
DEFAULT_CLIP = "sstzal__DFRF__dataset_vids_cnn2_25fps.mp4"


def _timed(fn, *args, repeat: int = 1, **kwargs):
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - t0)
    return best, out


def _first_problem(model, lm, w):
    """The first round's shape problem of fit_video (cameras from the mean shape)."""
    cfg = load_fit_config()
    basis = _LandmarkBasis(model)
    weight = w[:, None] * _landmark_weights(cfg)[None]
    zero_a, zero_e = np.zeros(model.n_id), np.zeros((len(lm), model.n_exp))
    cams = _cameras(basis.points(zero_a, zero_e, np.tile(basis.fixed_rows, (len(lm), 1))), lm, weight, w > 0,
                    cfg.sop_iterations, "native")
    rows = basis.rows(zero_a, zero_e, cams, lm)
    return _problem(basis, rows, cams, lm, weight, cfg, int(w.sum()), (model.id_bounds, model.exp_bounds),
                    float(np.median(cams[2])))


def rows(quick: bool = False, clip: str = str(SHARED / DEFAULT_CLIP), frames: int = 1000,
         ref_frames: int = 12) -> list[Row]:
    """The batch fit of a real clip, the shape solver against lsq_linear, the SOP kernel against numpy."""
    if quick:
        frames, ref_frames = 200, 6
    model = load_model()
    t_lm, track = _timed(track_landmarks, open_frames(clip, (0, frames - 1)))
    lm = track.landmarks.astype(np.float64)
    w = ((track.flags & FLAG_NO_FACE) == 0).astype(np.float64)
    t = len(lm)
    cpu0 = time.process_time()
    t_fit, fit = _timed(fit_video, model, lm, w)
    cpu = time.process_time() - cpu0
    nme = landmark_nme(model, fit, lm)[w > 0]
    out = [Row("fit", f"batch fit, {t} frames of {Path(clip).stem.split('__')[-1]}", t / t_fit,
               peak_mib=peak_rss_mib(), memory="RSS", extra={"seconds": t_fit, "CPU s": cpu, "rounds": fit.rounds,
                                    "NME mean": float(nme.mean()), "NME max": float(nme.max()),
                                    "RMSE px": float(fit.rmse.mean()), "landmarks frames/s (not timed)": t / t_lm})]
    big = _first_problem(model, lm, w)
    t_cold, _ = _timed(solve_shape, big, np.zeros(model.n_id), np.zeros((t, model.n_exp)))
    n = min(ref_frames, t)
    small = _first_problem(model, lm[:n], w[:n])
    zero_s = (np.zeros(model.n_id), np.zeros((n, model.n_exp)))
    t_nat, (_, _, c_nat) = _timed(solve_shape, small, *zero_s, repeat=3)
    t_ref, (_, _, c_ref) = _timed(solve_shape, small, *zero_s, impl="ref")
    out.append(Row("fit", f"shape solve, {n} frames", t_nat * 1e3, unit="ms", peer="scipy lsq_linear (trf)",
                   peer_value=t_ref * 1e3, extra={"relative cost difference": (c_ref - c_nat) / c_ref,
                                                   f"cold solve of {t} frames, s": t_cold}))
    basis = _LandmarkBasis(model)
    pts = basis.points(fit.identity, fit.expression, basis.fixed_rows)
    t_sn, _ = _timed(sop_pose, pts, lm, repeat=3)
    t_sr, _ = _timed(sop_pose, pts, lm, impl="ref")
    out.append(Row("fit", f"SOP cameras, {t} frames x 68 points", t_sn * 1e3, unit="ms", peer="numpy reference",
                   peer_value=t_sr * 1e3))
    return out


def scaling_rows(frames: int, clip: str = str(SHARED / DEFAULT_CLIP), real_frames: int = 200) -> list[Row]:
    """The batch fit of ``frames`` frames: the landmarks of ``real_frames`` real frames tiled (mirrored at each
    repeat, so the motion stays continuous) and perturbed by 0.3 px noise; frames/s and this process's peak RSS."""
    model = load_model()
    track = track_landmarks(open_frames(clip, (0, real_frames - 1)))
    lm0 = track.landmarks.astype(np.float64)
    cycle = np.concatenate([np.arange(len(lm0)), np.arange(len(lm0) - 2, 0, -1)])  # 0..n-1..1: ping-pong
    rows_ = cycle[np.arange(frames) % len(cycle)]
    lm = lm0[rows_] + np.random.default_rng(0).normal(0.0, 0.3, (frames, *lm0.shape[1:]))
    w = ((track.flags[rows_] & FLAG_NO_FACE) == 0).astype(np.float64)
    cpu0 = time.process_time()
    seconds, fit = _timed(fit_video, model, lm, w)
    cpu = time.process_time() - cpu0
    nme = landmark_nme(model, fit, lm)[w > 0]
    return [Row("fit", f"batch fit, {frames:,} frames", frames / seconds, peak_mib=peak_rss_mib(),
                memory="RSS (fresh process)", extra={"seconds": seconds, "CPU s": cpu, "rounds": fit.rounds,
                                                     "NME mean": float(nme.mean())})]


SCALING = [("scaling_rows", {"frames": n}) for n in (1000, 10000)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip", default=str(SHARED / DEFAULT_CLIP))
    ap.add_argument("--frames", type=int, default=1000, help="frames of the batch fit")
    ap.add_argument("--ref-frames", type=int, default=12, help="frames of the lsq_linear comparison")
    ap.add_argument("--quick", action="store_true", help="200 frames, 6 for the reference")
    ap.add_argument("--scaling", action="store_true", help="the fit of 1,000 and 10,000 (tiled real) frames")
    args = ap.parse_args()
    if args.scaling:
        print_rows([r for _, kw in SCALING for r in scaling_rows(**kw, clip=args.clip)])
        return
    print(f"OpenMP threads {os.environ.get('OMP_NUM_THREADS', 'all')}")
    print_rows(rows(args.quick, args.clip, args.frames, args.ref_frames))


if __name__ == "__main__":
    main()
