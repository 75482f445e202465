"""Benchmark of the batch 3DMM video fit (Track node, fitting half).

Prints: fitting frames/s and the batch fit time on a shared clip (1,000 frames by default), the native shape
solver against the generic sparse ``lsq_linear`` reference at equal size, the SOP camera kernel against its
numpy reference, peak memory and the fitted-model NME. Run: ``python benchmarks/bench_fit.py``. Wall times
are those of a shared machine; the process CPU time of the fit is printed beside them.
"""
from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

import numpy as np

from h2h_engine.fitting import fit_video, landmark_nme, load_fit_config
from h2h_engine.fitting.shape import solve_shape
from h2h_engine.fitting.sop import sop_pose
from h2h_engine.fitting.video import _cameras, _landmark_weights, _LandmarkBasis, _problem
from h2h_engine.io import open_frames
from h2h_engine.landmarks import track_landmarks
from h2h_engine.morphable import load_model
from h2h_engine.track import FLAG_NO_FACE

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip", default=str(SHARED / DEFAULT_CLIP))
    ap.add_argument("--frames", type=int, default=1000, help="frames of the batch fit")
    ap.add_argument("--ref-frames", type=int, default=12, help="frames of the lsq_linear comparison")
    args = ap.parse_args()
    model = load_model()

    t_lm, track = _timed(track_landmarks, open_frames(args.clip, (0, args.frames - 1)))
    lm = track.landmarks.astype(np.float64)
    w = ((track.flags & FLAG_NO_FACE) == 0).astype(np.float64)
    t = len(lm)
    print(f"clip {Path(args.clip).name}: {t} frames, landmarks {t / t_lm:.1f} frames/s (not part of the fit)")

    cpu0 = time.process_time()
    t_fit, fit = _timed(fit_video, model, lm, w)
    cpu = time.process_time() - cpu0
    nme = landmark_nme(model, fit, lm)[w > 0]
    print(f"batch fit (native): {t} frames in {t_fit:.2f} s = {t / t_fit:.0f} frames/s (process CPU time "
          f"{cpu:.2f} s over {os.environ.get('OMP_NUM_THREADS', 'all')} OpenMP threads), {fit.rounds} rounds; "
          f"NME mean {nme.mean():.4f} max {nme.max():.4f}; RMSE mean {fit.rmse.mean():.2f} px")

    big = _first_problem(model, lm, w)
    zero = (np.zeros(model.n_id), np.zeros((t, model.n_exp)))
    t_cold, _ = _timed(solve_shape, big, *zero)
    print(f"one shape solve, {t} frames, cold start: native {t_cold:.2f} s")

    n = min(args.ref_frames, t)
    small = _first_problem(model, lm[:n], w[:n])
    zero_s = (np.zeros(model.n_id), np.zeros((n, model.n_exp)))
    t_nat, (_, _, c_nat) = _timed(solve_shape, small, *zero_s, repeat=3)
    t_ref, (_, _, c_ref) = _timed(solve_shape, small, *zero_s, impl="ref")
    print(f"shape solve, {n} frames: native {t_nat * 1e3:.1f} ms, lsq_linear reference {t_ref:.2f} s, "
          f"ratio {t_ref / t_nat:.0f}x; cost native {c_nat:.6g} vs reference {c_ref:.6g} "
          f"(rel diff {(c_ref - c_nat) / c_ref:.1e})")

    pts = _LandmarkBasis(model).points(fit.identity, fit.expression, _LandmarkBasis(model).fixed_rows)
    t_sn, _ = _timed(sop_pose, pts, lm, repeat=3)
    t_sr, _ = _timed(sop_pose, pts, lm, impl="ref")
    print(f"SOP cameras, {t} frames x 68 points: native {t_sn * 1e3:.2f} ms, numpy reference {t_sr * 1e3:.0f} ms, "
          f"ratio {t_sr / t_sn:.0f}x")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (process RSS): {peak:.0f} MiB")


if __name__ == "__main__":
    main()
