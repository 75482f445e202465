"""Benchmark of the Retarget node: frames/s and peak memory of ``retarget`` vs its per-frame reference.

    python benchmarks/bench_retarget.py [--source A.h2h.npz --target B.h2h.npz] [--frames 2000] [--quick]
                                        [--scaling]

Without track files it tracks two shared clips of different people once (``h2h track``, cached under
``~/.cache/h2h/bench``). The output is made ``--frames`` long by looping the source (``--past-end loop``).
``--scaling``: head-mode retargets of 1,000 and 10,000 output frames, each in a fresh process for its memory.
"""
from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "retarget"))  # the per-frame reference lives beside its tests
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import Row, cached_track, peak_rss_mib, print_rows  # noqa: E402

from h2h_engine.morphable import load_model  # noqa: E402
from h2h_engine.retarget import retarget  # noqa: E402
from h2h_engine.track import Track  # noqa: E402
from retarget_ref import retarget_ref  # noqa: E402

CLIPS = (("tanshuai0219__EDTalk__test_data_pose_source1.mp4", "0-59"),
         ("tanshuai0219__EDTalk__test_data_mouth_source.mp4", "0-59"))


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


def _inputs(source: str | None, target: str | None) -> tuple:
    src = Track.load(source or cached_track(*CLIPS[0]))
    tgt = Track.load(target or cached_track(*CLIPS[1]))
    return src, tgt, load_model(tgt.model_name)


def rows(quick: bool = False, source: str | None = None, target: str | None = None, frames: int = 2000) -> list[Row]:
    """Head mode (``frames`` output frames, the source looped) and face mode against the per-frame reference."""
    if quick:
        frames = 500
    src, tgt, model = _inputs(source, target)
    first = int(tgt.frames[0])
    cases = {"head": dict(mode="head", frames=(first, first + frames - 1), past_end="loop"),
             "face": dict(mode="face", past_end="loop")}
    out = []
    for name, kw in cases.items():
        t_fast, m_fast, res = measure(lambda: retarget(model, src, tgt, **kw), repeats=3)
        t_ref, m_ref, _ = measure(lambda: retarget_ref(model, src, tgt, **kw), repeats=1)
        n = len(res)
        out.append(Row("retarget", f"{name} mode, {n} frames", n / t_fast, peer="per-frame reference",
                       peer_value=n / t_ref, peak_mib=m_fast / 2**20, memory="traced",
                       extra={"reference peak traced MiB": m_ref / 2**20}))
    return out


def scaling_rows(frames: int, source: str | None = None, target: str | None = None) -> list[Row]:
    """Head mode with ``frames`` output frames: frames/s and this process's peak RSS."""
    src, tgt, model = _inputs(source, target)
    first = int(tgt.frames[0])
    seconds, _, res = measure(lambda: retarget(model, src, tgt, mode="head", frames=(first, first + frames - 1),
                                               past_end="loop"), repeats=2)
    return [Row("retarget", f"head mode, {len(res):,} frames", len(res) / seconds, peak_mib=peak_rss_mib(),
                memory="RSS (fresh process)", extra={"seconds": seconds})]


SCALING = [("scaling_rows", {"frames": n}) for n in (1000, 10000)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", help="source track file (default: track a shared clip)")
    ap.add_argument("--target", help="target track file (default: track another shared clip)")
    ap.add_argument("--frames", type=int, default=2000, help="output frames in head mode (source looped)")
    ap.add_argument("--quick", action="store_true", help="500 frames in head mode")
    ap.add_argument("--scaling", action="store_true", help="head mode at 1,000 and 10,000 frames")
    args = ap.parse_args()
    if args.scaling:
        print_rows([r for _, kw in SCALING for r in scaling_rows(**kw, source=args.source, target=args.target)])
        return
    print_rows(rows(args.quick, args.source, args.target, args.frames))


if __name__ == "__main__":
    main()
