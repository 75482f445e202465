"""Benchmark of the Retarget node: frames/s and peak memory of ``retarget`` vs its per-frame reference.

    python benchmarks/bench_retarget.py [--source A.h2h.npz --target B.h2h.npz] [--frames 2000]

Without track files it tracks two shared clips of different people once (``h2h track``, cached under
``~/.cache/h2h/bench``). The output is made ``--frames`` long by looping the source (``--past-end loop``).
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "retarget"))  # the per-frame reference lives beside its tests

from h2h_engine.morphable import load_model  # noqa: E402
from h2h_engine.morphable.registry import cache_dir  # noqa: E402
from h2h_engine.nodes import get_spec  # noqa: E402
from h2h_engine.retarget import retarget  # noqa: E402
from h2h_engine.track import Track  # noqa: E402
from retarget_ref import retarget_ref  # noqa: E402

VIDEOS = REPO.parent / "shared" / "videos"
CLIPS = (("tanshuai0219__EDTalk__test_data_pose_source1.mp4", "0-59"),
         ("tanshuai0219__EDTalk__test_data_mouth_source.mp4", "0-59"))


def tracked(clip: str, frames: str) -> Path:
    """A track of a shared clip, made once with the Track node."""
    out = cache_dir().parent / "bench" / f"{Path(clip).stem}_{frames}.h2h.npz"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        spec = get_spec("track")
        spec(**{spec.inputs[0].name: str(VIDEOS / clip), spec.outputs[0].name: str(out), "frames": frames})
    return out


def measure(fn: Callable[[], Track], repeats: int) -> tuple[float, int, Track]:
    """Best wall time over ``repeats`` runs, Python/numpy peak allocation of one run, and its result."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return best, peak, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", help="source track file (default: track a shared clip)")
    ap.add_argument("--target", help="target track file (default: track another shared clip)")
    ap.add_argument("--frames", type=int, default=2000, help="output frames in head mode (source looped)")
    args = ap.parse_args()
    src = Track.load(args.source or tracked(*CLIPS[0]))
    tgt = Track.load(args.target or tracked(*CLIPS[1]))
    model = load_model(tgt.model_name)
    first = int(tgt.frames[0])
    cases = {"head": dict(mode="head", frames=(first, first + args.frames - 1), past_end="loop"),
             "face": dict(mode="face", past_end="loop")}
    print(f"source {len(src)} frames, target {len(tgt)} frames, model {model.name}")
    for name, kw in cases.items():
        t_fast, m_fast, out = measure(lambda: retarget(model, src, tgt, **kw), repeats=3)
        t_ref, m_ref, _ = measure(lambda: retarget_ref(model, src, tgt, **kw), repeats=1)
        n = len(out)
        print(f"{name:4s} mode, {n} frames: retarget {n / t_fast:10.0f} frames/s (peak {m_fast / 2**20:6.1f} MiB)   "
              f"per-frame reference {n / t_ref:8.0f} frames/s (peak {m_ref / 2**20:6.1f} MiB)   "
              f"speed-up x{t_ref / t_fast:.1f}")
    print(f"process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
