"""Cycle reenactment (``h2h eval cycle``, paper section IV-A): X drives Y, the result drives X back.

Given two finished training runs, X's and Y's: X's held-out frames (the last third of X's shot, which X's
network never saw) are retargeted onto Y's track in face mode (the retarget node) and synthesized onto Y's
plate with Y's checkpoint (the synthesize node); that result is tracked with our tracker and fit (as
``h2h eval reenactment`` tracks a result), retargeted back onto X's own track over the same held-out frames
and synthesized onto X's plate with X's checkpoint. Intermediates are lossless PNG sequences.

The round trip is scored against X's real frames on X's crops at X's model size with the self-reenactment
metrics (:mod:`.evaluate`: APD-L2 in 0-441 units, pixel-weighted over the sequence; MAPD, matte APD, mouth
APD, PSNR, SSIM, flicker). Beside it stands ``direct``: X's own held-out track synthesized by X's checkpoint
through the same nodes (one leg, no tracking in between), so ``cycle / direct`` is what the trip through Y
and our tracker adds.
"""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from h2h_engine.errors import InputError, ModelMismatchError
from h2h_engine.io import atomic_path, open_frames, write_image
from h2h_engine.nodes import get_spec
from h2h_engine.render.crop import crop_frames
from h2h_engine.synthesis.checkpoint import read_checkpoint
from h2h_engine.track import Track

from .data import prepare_data
from .eval_reenactment import model_ref_of, track_result
from .evaluate import L2_METRICS, METRICS, finished_run, heat_colours, held_out, l2_error_map
from .train import CHECKPOINT

SUMMARY = "cycle.json"  # the summary's file name in the output folder (heat maps beside it)


def _frames(pattern: str, box: np.ndarray, size: int, n: int) -> np.ndarray:
    """The first ``n`` frames of a sequence cropped to ``box`` at ``size`` px: (n, S, S, 3) uint8."""
    out = np.stack([crop_frames(rgb[None], box, (size, size))[0] for _, rgb in open_frames(pattern)])
    if len(out) != n:
        raise InputError(f"{pattern} has {len(out)} frames, expected {n}")
    return out


def _synthesize(checkpoint: Path, track: str, plate: str, plate_track: str, output: str, device: str,
                frames: tuple[int, int] | None = None) -> str:
    # keep_plate off: on the way back the plate is X's real frame and the round-tripped expression nearly X's
    # own, so kept plate pixels would be the answer; the cycle measures what the networks make
    get_spec("synthesize")(checkpoint=str(checkpoint), track=track, plate=plate, plate_track=plate_track,
                           output=output, frames=frames, device=device, keep_plate=False)
    return output


def evaluate_cycle(run_x: str | Path, run_y: str | Path, out_dir: str | Path, device: str = "auto",
                   heat_maps: int = 4) -> dict[str, Any]:
    """X -> Y -> X round trip of X's held-out frames; writes ``OUT/cycle.json`` and ``OUT/heat-FRAME.png``
    (real X | X driving Y | back on X | L2 heat map of the round trip) and returns the summary."""
    start = time.perf_counter()
    run_x, run_y, out_dir = Path(run_x), Path(run_y), Path(out_dir)
    cfg_x, in_x = finished_run(run_x)
    _, in_y = finished_run(run_y)
    data = prepare_data(in_x["target"], in_x["track"], cfg_x, run_x / "cache")
    n = len(data) - data.n_train
    if n < 2:
        raise InputError(f"{run_x}: {n} held-out frames; the cycle needs at least 2 (train X on a longer shot)")
    first, last = int(data.frames[data.n_train]), int(data.frames[-1])
    track_x, track_y = Track.load(in_x["track"]), Track.load(in_y["track"])
    if (track_x.model_name, track_x.model_digest) != (track_y.model_name, track_y.model_digest):
        raise ModelMismatchError(f"{run_x} and {run_y} were tracked with different models ({track_x.model_name} "
                                 f"{track_x.model_digest[:12]}, {track_y.model_name} {track_y.model_digest[:12]}): "
                                 "train both runs on tracks made with one model")
    if len(track_y) < n:
        raise InputError(f"{run_y}'s track has {len(track_y)} frames, fewer than X's {n} held-out ones: track more "
                         "of Y or hold out fewer frames of X")
    y_first, y_last = int(track_y.frames[-n]), int(track_y.frames[-1])  # Y's last n frames (its held-out part)
    retarget = get_spec("retarget")
    size = cfg_x.model.size
    with tempfile.TemporaryDirectory(prefix="h2h-cycle-") as tmp_dir:
        tmp = Path(tmp_dir)
        track_x.slice(first, last).save(tmp / "x_held.h2h.npz")
        retarget(source=str(tmp / "x_held.h2h.npz"), target=in_y["track"], output=str(tmp / "xy.h2h.npz"),
                 mode="face", frames=(y_first, y_last))
        xy = _synthesize(run_y / CHECKPOINT, str(tmp / "xy.h2h.npz"), in_y["target"], in_y["track"],
                         str(tmp / "xy" / "xy.####.png"), device)
        track_result(xy, None, model_ref_of(track_x), "X driving Y", Track.load(tmp / "xy.h2h.npz")).save(
            tmp / "xy_tracked.h2h.npz")
        retarget(source=str(tmp / "xy_tracked.h2h.npz"), target=in_x["track"], output=str(tmp / "xyx.h2h.npz"),
                 mode="face", frames=(first, last))
        xyx = _synthesize(run_x / CHECKPOINT, str(tmp / "xyx.h2h.npz"), in_x["target"], in_x["track"],
                          str(tmp / "xyx" / "xyx.####.png"), device)
        direct = _synthesize(run_x / CHECKPOINT, in_x["track"], in_x["target"], in_x["track"],
                             str(tmp / "xx" / "xx.####.png"), device, frames=(first, last))
        box_y = np.asarray(read_checkpoint(run_y / CHECKPOINT)["data"]["crop_box"], np.float32)
        frames_xy = _frames(xy, box_y, size, n)
        frames_xyx, frames_xx = _frames(xyx, data.crop_box, size, n), _frames(direct, data.crop_box, size, n)
    ref = held_out(data, cfg_x.model)
    cycle, one_leg = ref.scores(frames_xyx), ref.scores(frames_xx)
    summary: dict[str, Any] = {
        "run_x": str(run_x), "run_y": str(run_y), "mode": "face", "frames_x": [first, last],
        "frames_y": [y_first, y_last], "n_frames": n, "size": size, "mouth_crop": cfg_x.model.mouth_crop,
        "matte_coverage": float(ref.region.mean())}
    for name in (*METRICS, "flicker"):
        c, d = cycle[name], one_leg[name]
        summary[name] = {"cycle": c, "direct": d, "ratio": c / d if d else float("nan"),
                         **({"cycle_frame_mean": cycle[f"{name}_frame_mean"]} if name in L2_METRICS else {})}
    summary["flicker"]["real"] = ref.scores(ref.real)["flicker"]
    for j in np.linspace(0, n - 1, min(heat_maps, n)).round().astype(int):
        tile = np.concatenate([ref.real[j], frames_xy[j], frames_xyx[j],
                               heat_colours(l2_error_map(frames_xyx[j], ref.real[j]))], axis=1)
        write_image(out_dir / f"heat-{int(data.frames[data.n_train + j]):06d}.png", tile)
    summary["seconds"] = time.perf_counter() - start
    with atomic_path(out_dir / SUMMARY) as tmp_path:
        tmp_path.write_text(json.dumps(summary, indent=2))
    return summary


def format_cycle(summary: dict[str, Any]) -> str:
    """Human-readable table of a cycle summary."""
    lines = [f"cycle {summary['run_x']} -> {summary['run_y']} -> back: X frames {summary['frames_x'][0]}-"
             f"{summary['frames_x'][1]} ({summary['n_frames']}) via Y frames {summary['frames_y'][0]}-"
             f"{summary['frames_y'][1]}, {summary['mode']} mode, at {summary['size']} px",
             f"{'metric':<10} {'cycle':>9} {'direct':>9} {'ratio':>7}  (direct: X's network on X's own track)"]
    for name in (*METRICS, "flicker"):
        m = summary[name]
        lines.append(f"{name:<10} {m['cycle']:>9.3f} {m['direct']:>9.3f} {m['ratio']:>7.3f}")
    lines.append(f"real footage's flicker {summary['flicker']['real']:.3f}")
    return "\n".join(lines)
