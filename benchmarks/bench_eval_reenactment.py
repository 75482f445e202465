"""Benchmark of ``h2h eval reenactment``: evaluation throughput (result frames per second, end to end).

Makes a real result first (the news anchor of German_20s driven by EDTalk mouth_source through ``h2h reenact``
with the no-network ``instant`` preset, not timed), then times :func:`evaluate_reenactment`: tracking the
result and the re-encoded real plate, the measures, dlib descriptors on ``--identity-frames`` rows of each,
the reference descriptors and the flicker. The report (``--report``) is timed separately.

Run: ``python benchmarks/bench_eval_reenactment.py [--frames N] [--identity-frames K]``.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import Row, peak_rss_mib  # noqa: E402

from h2h_engine.nodes import get_spec  # noqa: E402
from h2h_engine.training.eval_reenactment import IDENTITY_FRAMES, evaluate_reenactment  # noqa: E402
from h2h_engine.training.qc_report import write_report  # noqa: E402

VIDEOS = Path(__file__).resolve().parents[1].parent / "shared" / "videos"
TARGET = VIDEOS / "yerfor__MimicTalk__data_raw_examples_German_20s.mp4"
SOURCE = VIDEOS / "tanshuai0219__EDTalk__test_data_mouth_source.mp4"


def measure(frames: int = 60, identity_frames: int = IDENTITY_FRAMES) -> dict:
    """Make the result (not timed), then time the evaluation and the report."""
    with tempfile.TemporaryDirectory() as tmp:
        rng = f"0-{frames - 1}"
        r = get_spec("reenact")(source=str(SOURCE), source_frames=rng, target=str(TARGET), frames=rng,
                                preset="instant", mode="face", output=f"{tmp}/out.mp4", work_dir=f"{tmp}/work")
        t, cpu = time.perf_counter(), time.process_time()
        ev = evaluate_reenactment(r["output"], r["retargeted_track"], r["target_track"],
                                  identity_frames=identity_frames)
        evaluation, cpu = time.perf_counter() - t, time.process_time() - cpu
        t = time.perf_counter()
        write_report(Path(tmp) / "report", ev, ["bench_eval_reenactment.py"])
        report = time.perf_counter() - t
    return {"n": ev.summary["n_frames"], "seconds": evaluation, "cpu": cpu, "report": report,
            "described": ev.summary["identity"]["frames_described"]}


def rows(quick: bool = False, frames: int = 60, identity_frames: int = IDENTITY_FRAMES) -> list[Row]:
    """Evaluation throughput (no peer: the paper's evaluation is not a program one can run here)."""
    if quick:
        frames = 20
    m = measure(frames, identity_frames)
    return [Row("eval", f"h2h eval reenactment, {m['n']} result frames", m["n"] / m["seconds"],
                peak_mib=peak_rss_mib(), memory="RSS",
                extra={"frames per CPU second": m["n"] / m["cpu"], "report s": m["report"],
                       "identity rows": m["described"]})]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=60, help="result frames")
    p.add_argument("--identity-frames", type=int, default=IDENTITY_FRAMES, help="rows with a descriptor (0: all)")
    args = p.parse_args()
    m = measure(args.frames, args.identity_frames)
    n, evaluation, cpu = m["n"], m["seconds"], m["cpu"]
    print(f"evaluation: {n} frames in {evaluation:.1f} s = {n / evaluation:.2f} frames/s "
          f"({cpu:.1f} s of CPU time: {n / cpu:.2f} frames per CPU second; identity on "
          f"{m['described']} rows); report {m['report']:.1f} s")


if __name__ == "__main__":
    main()
