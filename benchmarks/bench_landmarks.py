"""Benchmark of the landmark stage: ROI tracking (``track_landmarks``) vs the authors' naive approach.

The naive peer runs dlib's HOG detector on every frame (upsampling once, as dlib's examples and the earlier
40 / 11 fps measurement did; also shown without upsampling), then the 68-point predictor on the detected
box, then the inverse-intensity centroid pupils. Both run here on the same decoded frames (decoding is not timed), at
256 and 512 px. Also prints pupil quality of both pupil methods on real clips (see docs/landmarks.md).

Run: ``python benchmarks/bench_landmarks.py [--frames N] [--no-quality] [--quick]``.
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import cv2
import numpy as np

from h2h_engine.geometry import nme
from h2h_engine.io import open_frames
from h2h_engine.landmarks import (binocular_noise, eyes_open, inside_eye_polygon, landmark_jitter, locate_pupils,
                                  pupil_jitter, track_landmarks)
from h2h_engine.landmarks.dlib_models import hog_detector, shape_predictor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import Row, print_rows  # noqa: E402

VIDEOS = Path(__file__).resolve().parents[1].parent / "shared" / "videos"
CLIP = "OpenTalker__SadTalker__examples_ref_video_WDA_AlexandriaOcasioCortez_000.mp4"
QUALITY = [("rizkiarm__LipNet__evaluation_samples_GRID_bbaf2n.mpg", None, "static gaze"),
           ("KwaiVGI__LivePortrait__assets_examples_driving_d18.mp4", 256, "static gaze"),
           ("OpenTalker__SadTalker__test_examples_source_image_RD_Radio2_000.mp4", 256, "talking"),
           ("KwaiVGI__LivePortrait__assets_examples_driving_d0.mp4", 256, "gaze motion")]


def naive(frames: list[tuple[int, np.ndarray]], upsample: int = 1) -> np.ndarray:
    """The authors' per-frame pipeline: detect, 68 points, centroid pupils. Returns (T, 68, 2) landmarks."""
    det, pred = hog_detector(), shape_predictor()
    out = np.zeros((len(frames), 68, 2), np.float32)
    for i, (_, rgb) in enumerate(frames):
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        rects = det(gray, upsample)
        if len(rects) == 0:
            continue
        r = max(rects, key=lambda r: r.width() * r.height())
        out[i] = [(p.x, p.y) for p in pred(gray, r).parts()]
        locate_pupils(gray, out[i], impl="ref")
    return out


def timed(fns: dict, frames, repeats: int = 2) -> dict:
    """For each ``fns[name](frames)``: (result, best wall time, peak traced Python/numpy memory). Timed runs
    are interleaved and the best of ``repeats`` kept (the machine is shared); memory is traced in one more
    run of each, since tracing slows allocation-heavy code."""
    out: dict = {}
    for _ in range(repeats):
        for name, fn in fns.items():
            t = time.perf_counter()
            result = fn(frames)
            dt = time.perf_counter() - t
            if name not in out or dt < out[name][1]:
                out[name] = (result, dt)
    for name, fn in fns.items():
        tracemalloc.start()
        fn(frames)
        out[name] += (tracemalloc.get_traced_memory()[1],)
        tracemalloc.stop()
    return out


def speed(n_frames: int, sizes: tuple[int, ...] = (256, 512)) -> list[Row]:
    """track_landmarks against the naive per-frame pipeline at each size, on the same decoded frames."""
    src = [f for f in open_frames(VIDEOS / CLIP, (0, n_frames - 1))]
    warm = [(n, cv2.resize(rgb, (256, 256), interpolation=cv2.INTER_AREA)) for n, rgb in src[:20]]
    track_landmarks(warm), naive(warm)  # load the models and touch their pages outside the timings
    out = []
    for size in sizes:
        frames = [(n, cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)) for n, rgb in src]
        runs = timed({"track": track_landmarks, "naive": naive, "naive0": lambda f: naive(f, 0)}, frames)
        (track, t_track, m_track), (base, t_naive, m_naive) = runs["track"], runs["naive"]
        t_naive0 = runs["naive0"][1]
        redet = int(((track.flags & 2) > 0).sum())
        out.append(Row("landmarks", f"{size} px, {len(frames)} frames (decoding not timed)", len(frames) / t_track,
                       peer="per-frame HOG detection (upsample 1)", peer_value=len(frames) / t_naive,
                       peak_mib=m_track / 2**20, memory="traced",
                       extra={"detector runs": redet, "peer peak traced MiB": m_naive / 2**20,
                              "peer without upsampling frames/s": len(frames) / t_naive0,
                              "NME tracked vs naive": float(nme(track.landmarks, base).mean()),
                              "jitter tracked %": landmark_jitter(track.landmarks) * 100,
                              "jitter naive %": landmark_jitter(base) * 100}))
    return out


def rows(quick: bool = False, frames: int = 200) -> list[Row]:
    """The speed rows (the pupil-quality table is printed by ``main`` only)."""
    return speed(40, (256,)) if quick else speed(frames)


def quality(n_frames: int) -> None:
    print("pupils (eye-frame units = eye widths): jitter = median step vs 7-frame-smoothed eye corners "
          "(static gaze: lower is better); gaze range = std of mean horizontal position; binocular noise = "
          "std(right - left) / gaze range (lower is better); inside = fraction inside the eye polygon")
    for name, size, kind in QUALITY:
        frames = [(n, cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA) if size else rgb)
                  for n, rgb in open_frames(VIDEOS / name, (0, n_frames - 1))]
        track = track_landmarks(frames)
        grays = [cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) for _, rgb in frames]
        ok = eyes_open(track.landmarks)
        cells = []
        for impl in ("ref", "iris"):
            t = time.perf_counter()
            pupils = np.array([locate_pupils(g, lm, impl)[0] for g, lm in zip(grays, track.landmarks)])
            ms = (time.perf_counter() - t) / len(frames) * 1e3
            rng, noise = binocular_noise(track.landmarks, pupils)
            inside = inside_eye_polygon(track.landmarks[ok], pupils[ok]).mean()
            cells.append(f"{impl}: jitter {pupil_jitter(track.landmarks, pupils) * 100:.2f}% range {rng * 100:.1f}% "
                         f"binocular {noise:.2f} inside {inside:.3f} {ms:.2f} ms")
        print(f"  {name.split('__')[-1][:36]:36s} {frames[0][1].shape[0]}px {kind:11s} | " + " | ".join(cells))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--no-quality", action="store_true")
    ap.add_argument("--quick", action="store_true", help="40 frames at 256 px, no pupil quality")
    args = ap.parse_args()
    print(f"clip {CLIP}")
    print_rows(rows(args.quick, args.frames))
    print(f"process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    if not args.no_quality and not args.quick:
        quality(min(args.frames, 150))


if __name__ == "__main__":
    main()
