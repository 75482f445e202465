"""Self-reenactment evaluation on the held-out last third of the target shot (paper, section IV).

The model's frames are composited as a user gets them (face region: inside the face matte over the true
plate; crop region: the whole crop). Metrics on uint8 RGB frames at the model's size, averaged over the
test sequence:
- ``apd``: APD-L2, the Euclidean norm of the per-pixel RGB difference, averaged over the frame (0-441);
- ``mapd``: the same over pixels inside the NMFC mask (NMFC channel sum > 0.01);
- ``matte_apd``: the same over the regenerated region (face matte > 0; the whole crop in head mode);
- ``mouth_apd``: the same in the mouth crop (72 px at 256 px, scaled) centred on the rendered mouth box;
- ``psnr`` (dB) and ``ssim`` (Gaussian window 11, sigma 1.5, per channel, Wang et al. 2004);
- ``flicker``: mean L2 change between consecutive frames inside the regenerated region; its baseline is
  the real footage's own (``real``), so the ratio is the flicker added.
The four L2 metrics aggregate as the authors do, pixel-weighted over the whole test sequence: the sum of the
per-pixel distances over all frames divided by the number of pixels counted (``model``); the mean of the
per-frame means, which differs whenever the mask size changes, is kept as ``model_frame_mean``. PSNR and
SSIM are per-frame means.
Every metric is also computed for no-network baselines composited the same way: the mean training frame
and, when the run has appearance warps, the ``instant`` composite (retrieved training frames warped to the
test frame, over the plate only where the warp has coverage: in self-reenactment the plate *is* the held-out
frame, so instant shows the answer where its warp has none); for a U-Net run also ``untrained``, the network's
own start (its last layer is zero): the base image over the whole matte, instant's warp with its holes filled
from their surround instead of from the answer. ``best_baseline`` is the best of them and ``ratio`` = model /
best (below 1 is better for the errors, above 1 for PSNR and SSIM).

``kept_plate`` (face-region runs) scores what ``h2h synthesize --keep-plate`` adds in a dub without leaking the
answer: each held-out frame's model output with the plate of *another* held-out frame kept over it
(:class:`~h2h_engine.render.appearance.PlateKeep`), the one at least ``KEEP_GAP_SECONDS`` away with the nearest
head pose; the pose gap makes it harder than a real dub, where the pose is the plate's exactly.

``neighbour_floor`` is no baseline a method could use but an estimate of the error nobody can predict from
other frames: each test frame's own real frame ``FLOOR_LAG`` frames earlier, warped onto it through the 3DMM
(like ``instant``, from a frame seconds away) and composited the same way. Skin texture, compression noise
and fitting error that change within a tenth of a second set this floor; a held-out error near it is as
good as appearance transfer gets on the shot.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn

from h2h_engine.errors import InputError
from h2h_engine.geometry import rotation_error_deg
from h2h_engine.io import atomic_path, write_image
from h2h_engine.morphable import load_model_for
from h2h_engine.render.appearance import PlateKeep, Retrieval, Warper
from h2h_engine.synthesis.checkpoint import load_generator
from h2h_engine.synthesis.config import ModelConfig
from h2h_engine.synthesis.inference import Synthesizer, composite_alpha
from h2h_engine.synthesis.unet import BaseComposite
from h2h_engine.track import Track

from .config import TrainConfig, config_from_dict
from .data import ShotData, prepare_data
from .train import CHECKPOINT

METRICS = ("apd", "mapd", "matte_apd", "mouth_apd", "psnr", "ssim")
L2_METRICS = ("apd", "mapd", "matte_apd", "mouth_apd")  # aggregated pixel-weighted over the sequence
HIGHER_IS_BETTER = ("psnr", "ssim")
FLOOR_LAG = 2  # frames between a test frame and the real frame warped onto it for the neighbour floor
KEEP_GAP_SECONDS = 1.0  # kept_plate: the plate kept over a held-out frame is from at least this far away
HEAT_MAX = 100.0  # L2 error (0-255 units) shown as the hottest colour in heat maps


def l2_error_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-pixel Euclidean RGB distance of two uint8 images (..., H, W, 3) -> (..., H, W) float64."""
    d = a.astype(np.float64) - b.astype(np.float64)
    return np.sqrt((d * d).sum(-1))


def apd_l2(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """APD-L2 of two (H, W, 3) uint8 frames, over ``mask`` (H, W) bool pixels when given (nan if empty)."""
    total, count = l2_sum(a, b, mask)
    return total / count if count else float("nan")


def l2_sum(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> tuple[float, int]:
    """(sum of the per-pixel L2 distances, pixels counted) of two (H, W, 3) uint8 frames over ``mask`` (H, W)."""
    return error_sum(l2_error_map(a, b), mask)


def error_sum(e: np.ndarray, mask: np.ndarray | tuple[slice, ...] | None = None) -> tuple[float, int]:
    """(sum, pixels counted) of an error map over a bool ``mask`` or a window of slices (None: everywhere)."""
    part = e if mask is None else e[mask]
    return float(part.sum()), int(part.size)


def pixel_weighted(sums: list[tuple[float, int]]) -> float:
    """The authors' aggregation of per-frame (sum, pixels) over a sequence: all sums over all pixels (nan if none)."""
    n = sum(c for _, c in sums)
    return sum(s for s, _ in sums) / n if n else float("nan")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 images (peak 255); inf when identical."""
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0 ** 2 / mse)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two (H, W, 3) uint8 images: Gaussian window (sigma 1.5, 11 taps, edges reflected), K1 0.01,
    K2 0.03, data range 255, averaged over pixels and channels (OpenCV's separable filter, all channels at once)."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    x, y = a.astype(np.float64), b.astype(np.float64)

    def f(z: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(z, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    mx, my = f(x), f(y)
    sxx, syy, sxy = f(x * x) - mx * mx, f(y * y) - my * my, f(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return float(s.mean())


def mouth_window(box: np.ndarray, crop: int, size: int) -> tuple[slice, slice]:
    """Row/column slices of the ``crop``-pixel square centred on a mouth box (x0, y0, x1, y1), inside the frame."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    x0 = int(np.clip(round(cx - crop / 2), 0, size - crop))
    y0 = int(np.clip(round(cy - crop / 2), 0, size - crop))
    return slice(y0, y0 + crop), slice(x0, x0 + crop)


def frame_metrics(fake: np.ndarray, real: np.ndarray, nmfc_mask: np.ndarray, region: np.ndarray,
                  mouth: tuple[slice, slice]) -> dict[str, Any]:
    """All per-frame metrics of one (S, S, 3) uint8 frame pair; ``region`` (S, S) bool the regenerated area.
    The L2_METRICS are (sum, pixels) pairs (see :func:`pixel_weighted`), PSNR and SSIM floats."""
    e = l2_error_map(fake, real)  # one error map for every region
    return {"apd": error_sum(e), "mapd": error_sum(e, nmfc_mask), "matte_apd": error_sum(e, region),
            "mouth_apd": error_sum(e, mouth), "psnr": psnr(fake, real), "ssim": ssim(fake, real)}


def sequence_scores(per_frame: list[dict[str, Any]]) -> dict[str, float]:
    """Sequence figures of :func:`frame_metrics` dicts: L2_METRICS pixel-weighted (and ``<name>_frame_mean``,
    the mean of per-frame means over frames with pixels), PSNR and SSIM as means."""
    out: dict[str, float] = {}
    for k in METRICS:
        if k in L2_METRICS:
            sums = [d[k] for d in per_frame]
            out[k] = pixel_weighted(sums)
            means = [s / c for s, c in sums if c]
            out[f"{k}_frame_mean"] = float(np.mean(means)) if means else float("nan")
        else:
            out[k] = float(np.nanmean([d[k] for d in per_frame]))
    return out


def flicker(frames: np.ndarray, region: np.ndarray) -> float:
    """Mean L2 change between consecutive (T, S, S, 3) uint8 frames inside ``region`` (T, S, S) of both."""
    if len(frames) < 2:
        return float("nan")
    both = region[1:] & region[:-1]
    return float(l2_error_map(frames[1:], frames[:-1])[both].mean()) if both.any() else float("nan")


def composite(real: np.ndarray, fake: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """(T, S, S, 3) uint8 ``fake`` over ``real`` with alpha (T, S, S) in [0, 1]; exactly ``real`` where 0."""
    a = alpha[..., None]
    out = np.rint(real.astype(np.float32) * (1 - a) + np.asarray(fake, np.float32) * a).astype(np.uint8)
    return np.where(a > 0, out, real)


def heat_colours(error: np.ndarray, vmax: float = HEAT_MAX) -> np.ndarray:
    """(H, W) error -> (H, W, 3) uint8, black-blue-red-yellow-white ramp from 0 to ``vmax``."""
    t = np.clip(error / vmax, 0, 1)[..., None]
    stops = np.array([[0, 0, 0], [0, 0, 1], [1, 0, 0], [1, 1, 0], [1, 1, 1]], np.float64)
    pos = t * (len(stops) - 1)
    i = np.minimum(pos.astype(int), len(stops) - 2)
    w = pos - i
    rgb = stops[i[..., 0]] * (1 - w) + stops[i[..., 0] + 1] * w
    return (rgb * 255 + 0.5).astype(np.uint8)


def generate_test_frames(gen: nn.Module, data: ShotData, device: str = "auto") -> np.ndarray:
    """G's output for the held-out frames, (T_test, S, S, 3) uint8 (warm-up from the frames before)."""
    synth = Synthesizer(gen, device=device)
    first, last = data.n_train, len(data) - 1
    lo, hi = synth.schedule.needed(first, last, gen.cfg.n_cond_frames)
    cond = data.frame_inputs(lo, hi + 1)
    out = np.zeros((last - first + 1, *data.images.shape[1:]), np.uint8)
    for i, rgb in synth.run(cond, lo, first, last):
        out[i - first] = (rgb * 255 + 0.5).astype(np.uint8)
    return out


def neighbour_floor(data: ShotData, track_path: str | Path, lag: int = FLOOR_LAG) -> tuple[np.ndarray, np.ndarray]:
    """Each held-out frame's real frame ``lag`` frames earlier, warped onto it: (T_test, S, S, 3) uint8 and
    its (T_test, S, S) coverage."""
    track = Track.load(track_path).slice(int(data.frames[0]), int(data.frames[-1]))
    warper = Warper(load_model_for(track), track, data.images, data.crop_box)
    rows = np.arange(data.n_train, len(data))
    index = np.maximum(rows - lag, 0)[:, None]
    held = track.slice(int(data.frames[data.n_train]), int(data.frames[-1]))
    return warper.warp(held, Retrieval(index.astype(np.int64), np.ones(index.shape, np.float32), 1.0))


def pose_matched(track: Track, side: float, gap: int) -> np.ndarray:
    """(T,) for each frame of ``track`` the frame at least ``gap`` frames away with the nearest head pose: the
    rotation between them in degrees plus their translation difference and log scale ratio in % of ``side``
    (-1 where every frame is nearer than ``gap``)."""
    rot = np.asarray(track.rotation, np.float64)
    cost = rotation_error_deg(rot[:, None], rot[None])  # (T, T)
    t = np.asarray(track.translation, np.float64)[:, :2]
    cost += 100 * np.linalg.norm(t[:, None] - t[None], axis=2) / side
    scale = np.log(np.asarray(track.scale, np.float64).reshape(-1))
    cost += 100 * np.abs(scale[:, None] - scale[None])
    rows = np.arange(len(track))
    cost[np.abs(rows[:, None] - rows[None]) < gap] = np.inf
    best = cost.argmin(1)
    return np.where(np.isfinite(cost[rows, best]), best, -1)


def kept_plate(data: ShotData, track_path: str | Path, frames: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """The held-out ``frames`` (T_test, S, S, 3) uint8 with the pose-matched held-out plate kept over them (see
    the module docstring), and what was matched (the gap in frames, the median pose gap in degrees)."""
    track = Track.load(track_path).slice(int(data.frames[data.n_train]), int(data.frames[-1]))
    model = load_model_for(track)
    real = np.asarray(data.images[data.n_train:])
    size = real.shape[1]
    gap = max(1, min(int(round(KEEP_GAP_SECONDS * float(track.fps))), len(track) // 2))
    match = pose_matched(track, float(data.crop_box[2] - data.crop_box[0]), gap)
    out = frames.copy()
    rows = np.nonzero(match >= 0)[0]
    for j in rows:
        a = int(match[j])
        b_track, a_track = track.slice(int(track.frames[j]), int(track.frames[j])), \
            track.slice(int(track.frames[a]), int(track.frames[a]))
        kept, weight = PlateKeep(model, b_track, a_track, data.crop_box, size)(0, real[a].astype(np.float32))
        x = frames[j].astype(np.float32)
        out[j] = np.clip(x + weight[..., None] * (kept - x) + 0.5, 0, 255).astype(np.uint8)
    angles = rotation_error_deg(track.rotation[rows], track.rotation[match[rows]])
    return out, {"gap": gap, "matched": len(rows), "pose_gap_deg": float(np.median(angles)) if len(rows) else None}


def finished_run(run_dir: str | Path) -> tuple[TrainConfig, dict[str, Any]]:
    """(config, inputs recorded in ``run.json``) of a finished training run; InputError when it is not one."""
    run_dir = Path(run_dir)
    for name in ("run.json", "config.yaml", CHECKPOINT):
        if not (run_dir / name).is_file():
            raise InputError(f"{run_dir} is not a finished training run (no {name})")
    import yaml  # noqa: PLC0415

    cfg = config_from_dict(yaml.safe_load((run_dir / "config.yaml").read_text()))
    return cfg, json.loads((run_dir / "run.json").read_text())


@dataclass
class HeldOut:
    """What the held-out frames of a shot are scored against (T_test frames at the model size S)."""

    real: np.ndarray      # (T, S, S, 3) uint8 real crops
    matte: np.ndarray     # (T, S, S) float32 regenerated region's alpha (ones in crop mode)
    region: np.ndarray    # (T, S, S) bool: matte > 0
    nmfc: np.ndarray      # (T, S, S) bool: inside the rendered NMFC
    mouths: list[tuple[slice, slice]]  # mouth windows

    def scores(self, frames: np.ndarray) -> dict[str, float]:
        """:func:`sequence_scores` and ``flicker`` of (T, S, S, 3) uint8 frames against the real ones."""
        out = sequence_scores([frame_metrics(frames[j], self.real[j], self.nmfc[j], self.region[j], self.mouths[j])
                               for j in range(len(self.real))])
        out["flicker"] = flicker(frames, self.region)
        return out


def held_out(data: ShotData, m: ModelConfig) -> HeldOut:
    """The held-out part of a run's prepared data as :class:`HeldOut`."""
    real = np.asarray(data.images[data.n_train:])
    matte = (np.asarray(data.matte[data.n_train:], np.float32) if m.region == "face" and data.matte is not None
             else np.ones(real.shape[:3], np.float32))
    nmfc = np.asarray(data.cond[data.n_train:, :3], np.float32).sum(1) > 0.01
    mouths = [mouth_window(data.mouth_box[data.n_train + j], m.mouth_crop, real.shape[1]) for j in range(len(real))]
    return HeldOut(real, matte, matte > 0, nmfc, mouths)


def evaluate_run(run_dir: str | Path, device: str = "auto", heat_maps: int = 4) -> dict[str, Any]:
    """Evaluate a training run's checkpoint; writes ``RUN_DIR/eval/summary.json`` and heat-map PNGs."""
    run_dir = Path(run_dir)
    cfg, inputs = finished_run(run_dir)
    data = prepare_data(inputs["target"], inputs["track"], cfg, run_dir / "cache")
    if len(data) - data.n_train < 1:
        raise InputError(f"{run_dir}: no held-out frames")
    m: ModelConfig = cfg.model
    ref = held_out(data, m)
    real, matte, region = ref.real, ref.matte, ref.region
    cover = None if data.cover is None else np.asarray(data.cover[data.n_train:], np.float32)
    made = generate_test_frames(load_generator(run_dir / CHECKPOINT)[0], data, device)
    alpha = composite_alpha(m, matte, cover)
    fake = composite(real, made, alpha)
    mean_frame = np.asarray(data.images[:data.n_train], np.float64).mean(0).round().astype(np.uint8)
    candidates = {"mean_frame": composite(real, np.broadcast_to(mean_frame, real.shape), matte)}
    # no network: the warped frames composited where they sampled the target (the warp is an appearance input)
    instant = ModelConfig(**{**m.to_dict(), "arch": "none", "appearance": m.appearance or "warp"})
    if data.warp is not None and m.arch != "none":
        candidates["instant"] = composite(real, np.asarray(data.warp[data.n_train:]), composite_alpha(instant, matte, cover))
    if m.arch == "unet":  # the U-Net's start: its base image (BaseComposite) over the whole matte
        candidates["untrained"] = composite(real, generate_test_frames(BaseComposite(m), data, device), matte)
    size, crop = real.shape[1], m.mouth_crop
    scores = ref.scores
    mine, base = scores(fake), {k: scores(v) for k, v in candidates.items()}
    near, near_cover = neighbour_floor(data, inputs["track"])
    floor = scores(composite(real, near, matte * np.clip(near_cover, 0, 1)))  # as instant composites its warp
    step = int(torch.load(run_dir / CHECKPOINT, map_location="cpu", weights_only=True, mmap=True)["step"])
    summary: dict[str, Any] = {"run": str(run_dir), "checkpoint_step": step, "arch": m.arch, "region": m.region,
        "appearance": list(m.appearance_inputs),
        "test_frames": [int(data.frames[data.n_train]), int(data.frames[-1])], "n_test": len(real),
        "size": size, "mouth_crop": crop, "matte_coverage": float(region.mean())}
    for name in METRICS:
        vals = {k: v[name] for k, v in base.items()}
        best = max(vals, key=vals.get) if name in HIGHER_IS_BETTER else min(vals, key=vals.get)
        summary[name] = {"model": mine[name], **{f"{k}_baseline": v for k, v in vals.items()},
                         "best_baseline": best, "ratio": mine[name] / vals[best] if vals[best] else float("nan")}
        if name in L2_METRICS:
            summary[name]["model_frame_mean"] = mine[f"{name}_frame_mean"]
    summary["neighbour_floor"] = {"lag": FLOOR_LAG, **{k: floor[k] for k in ("mapd", "matte_apd", "mouth_apd")}}
    if m.region == "face" and data.warp is not None:  # what --keep-plate adds in a dub, without the answer
        kept, how = kept_plate(data, inputs["track"], made)
        kept_scores = scores(composite(real, kept, alpha))
        summary["kept_plate"] = {**how, **{k: {"model": mine[k], "kept": kept_scores[k]}
                                           for k in ("mapd", "matte_apd", "mouth_apd")}}
    real_flicker = flicker(real, region)
    summary["flicker"] = {"model": mine["flicker"], "real": real_flicker,
                          "ratio": mine["flicker"] / real_flicker if real_flicker else float("nan")}
    out = run_dir / "eval"
    for j in np.linspace(0, len(real) - 1, min(heat_maps, len(real))).round().astype(int):
        err = l2_error_map(fake[j], real[j])
        tile = np.concatenate([real[j], fake[j], heat_colours(err)], axis=1)
        write_image(out / f"heat-{int(data.frames[data.n_train + j]):06d}.png", tile)
    with atomic_path(out / "summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2))
    return summary


def format_summary(summary: dict[str, Any]) -> str:
    """Human-readable table of a summary."""
    lines = [f"held-out frames {summary['test_frames'][0]}-{summary['test_frames'][1]} ({summary['n_test']}) "
             f"at {summary['size']} px, checkpoint step {summary['checkpoint_step']} "
             f"({summary['arch']}, region {summary['region']})",
             f"{'metric':<10} {'model':>9} {'mean frame':>11} {'instant':>9} {'untrained':>9} {'ratio':>7}  "
             "(to the best baseline)"]
    for name in METRICS:
        m = summary[name]
        inst, start = m.get("instant_baseline", float("nan")), m.get("untrained_baseline", float("nan"))
        lines.append(f"{name:<10} {m['model']:>9.3f} {m['mean_frame_baseline']:>11.3f} {inst:>9.3f} {start:>9.3f} "
                     f"{m['ratio']:>7.3f}")
    f, n = summary["flicker"], summary["neighbour_floor"]
    lines.append(f"neighbour floor (real frame t-{n['lag']} warped to t): mapd {n['mapd']:.3f}, matte_apd "
                 f"{n['matte_apd']:.3f}, mouth_apd {n['mouth_apd']:.3f}")
    lines.append(f"{'flicker':<10} {f['model']:>9.3f} {'real':>11} {f['real']:>9.3f} {f['ratio']:>7.3f}")
    if "kept_plate" in summary:
        k = summary["kept_plate"]
        lines.append(f"with a pose-matched plate kept (>= {k['gap']} frames away): " + ", ".join(
            f"{name} {k[name]['model']:.3f} -> {k[name]['kept']:.3f}" for name in ("mapd", "matte_apd", "mouth_apd")))
    return "\n".join(lines)
