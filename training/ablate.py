"""Ablations as one command (``h2h eval ablate``, paper Table I and Fig. 4).

Variants of one preset are trained on the same target frames with the same budget (``steps`` optimizer
updates, or the preset's schedule) and seed, each in its own run folder under the output folder (sharing
one conditioning cache), and scored by the self-reenactment evaluation (:func:`.evaluate.evaluate_run`)
on the same held-out frames. The variants (:func:`variants`):

- ``full``: the preset as is;
- ``no_mouth_d`` / ``no_dynamics_d``: without the mouth discriminator D_M / the dynamics discriminator D_D;
- ``pix2pix``: single-frame conditioning and no previous outputs (``head2head`` then has no previous-frames
  encoder), unless the full model already is single-frame;
- ``dis_flow``: D_D's facial flow from OpenCV DIS optical flow of the real frames instead of the 3DMM
  (``data.flow dis``), where a D_D is trained;
- ``appearance_*``: the appearance inputs of the CPU presets (``context,warp`` / ``warp`` / ``context``);
- ``instant``: no network (``arch none``), the retrieved training frames composited.

A variant that does not apply to the preset is listed with the reason it is skipped.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from h2h_engine.errors import ConfigError
from h2h_engine.io import atomic_path

from .config import TrainConfig, load_config
from .evaluate import evaluate_run
from .train import train

SUMMARY = "ablation.json"  # the table's file name in the output folder (one run folder per variant beside it)
COLUMNS = (("apd", "APD"), ("mapd", "MAPD"), ("mouth_apd", "mouth APD"), ("flicker", "flicker"))
APPEARANCE_OPTIONS = ("context,warp", "warp", "context")


@dataclass(frozen=True)
class Variant:
    """One row of the table: model settings over the preset's, or the reason it does not apply."""

    name: str
    what: str
    model: dict[str, Any] = field(default_factory=dict)  # model.* overrides
    data: dict[str, Any] = field(default_factory=dict)   # data.* overrides
    skip: str = ""                                       # non-empty: not trained, with this reason


def _discriminator(cfg: TrainConfig, name: str, key: str, what: str) -> Variant:
    if cfg.model.arch == "none":
        return Variant(name, what, skip="the preset trains no network (model.arch none)")
    if not getattr(cfg.model, key):
        return Variant(name, what, skip=f"the preset already trains without it (model.{key} false)")
    return Variant(name, what, {key: False})


def _pix2pix(cfg: TrainConfig) -> Variant:
    m, what = cfg.model, "pix2pix-style: the frame's own conditioning only, no previous outputs"
    if m.arch == "none":
        return Variant("pix2pix", what, skip="the preset trains no network (model.arch none)")
    if m.n_cond_frames == 1 and m.n_prev_frames == 0:
        return Variant("pix2pix", what, skip="the full model is already single-frame (model.n_cond_frames 1, "
                       "n_prev_frames 0)")
    return Variant("pix2pix", what, {"n_cond_frames": 1, "n_prev_frames": 0})


def _dis_flow(cfg: TrainConfig) -> Variant:
    name, what = "dis_flow", "D_D's facial flow from OpenCV DIS instead of the 3DMM"
    if cfg.model.arch == "none" or not cfg.model.use_dynamics_d:
        return Variant(name, what, skip="the flow feeds only D_D, which the preset does not train")
    if cfg.data.flow == "dis":
        return Variant(name, what, skip="the full model already uses DIS flow (data.flow dis)")
    return Variant(name, what, data={"flow": "dis"})


def _appearance(cfg: TrainConfig, option: str) -> Variant:
    m = cfg.model
    name, what = "appearance_" + option.replace(",", "_"), f"appearance inputs {option}"
    if not m.appearance_inputs:
        return Variant(name, what, skip="the preset has no appearance inputs (model.appearance empty)")
    if tuple(option.split(",")) == m.appearance_inputs:
        return Variant(name, what, skip="the full model's own appearance inputs")
    if "context" in option and m.region != "face":
        return Variant(name, what, skip="context needs model.region face")
    return Variant(name, what, {"appearance": option})


def variants(cfg: TrainConfig) -> list[Variant]:
    """The table's rows for a preset, in order (see the module docstring)."""
    m = cfg.model
    instant_what = "no network (model.arch none: the instant composite)"
    instant = (Variant("instant", instant_what, skip="the full model is already arch none") if m.arch == "none"
               else Variant("instant", instant_what, {"arch": "none", "appearance": m.appearance or "warp",
                                                      "n_cond_frames": 1, "n_prev_frames": 0}))
    return [Variant("full", "the preset as is"),
            _discriminator(cfg, "no_mouth_d", "use_mouth_d", "without the mouth discriminator D_M"),
            _discriminator(cfg, "no_dynamics_d", "use_dynamics_d", "without the dynamics discriminator D_D"),
            _pix2pix(cfg),
            _dis_flow(cfg),
            *(_appearance(cfg, o) for o in APPEARANCE_OPTIONS),
            instant]


def check_new_folder(out_dir: str | Path) -> None:
    """ConfigError unless ``out_dir`` is missing or empty (its variants' runs are trained there, never reused);
    the summary's own lock (``.ablation.json.lock``, see :func:`~h2h_engine.io.outputs.claim_output`) is allowed."""
    out_dir = Path(out_dir)
    if out_dir.is_dir() and any(p.name != f".{SUMMARY}.lock" for p in out_dir.iterdir()):
        raise ConfigError(f"{out_dir} is not empty: ablate trains its variants there; choose a new -o")


def ablate(target: str, track: str, out_dir: str | Path, preset: str, steps: int | None = None,
           overrides: dict[str, Any] | None = None, device: str = "auto",
           show_progress: bool = False) -> dict[str, Any]:
    """Train and evaluate every applicable variant of ``preset`` (plus ``overrides``) in ``OUT/<variant>/``;
    writes ``OUT/ablation.json`` and returns it. ``steps``: the budget of every variant (default: the
    preset's schedule)."""
    if steps is not None and steps < 1:
        raise ConfigError(f"--steps must be >= 1; got {steps}")
    out_dir = Path(out_dir)
    check_new_folder(out_dir)
    base = load_config(preset, None, overrides)
    cache = out_dir / "cache"  # one conditioning cache: every variant sees the same frames
    cache.mkdir(parents=True, exist_ok=True)
    rows, test_frames = [], None
    for v in variants(base):
        row: dict[str, Any] = {"name": v.name, "what": v.what, "model": v.model, "data": v.data}
        if v.skip:
            rows.append({**row, "skipped": v.skip})
            continue
        over = dict(overrides or {})
        over["model"] = {**over.get("model", {}), **v.model}
        over["data"] = {**over.get("data", {}), **v.data}
        cfg = load_config(preset, None, over)
        run = out_dir / v.name
        run.mkdir()
        (run / "cache").symlink_to(cache.resolve(), target_is_directory=True)
        train(target, track, run, cfg, stop_after=steps, show_progress=show_progress)
        s = evaluate_run(run, device=device)
        test_frames = s["test_frames"]
        rows.append({**row, "run": str(run), "steps": s["checkpoint_step"],
                     **{k: s[k]["model"] for k, _ in COLUMNS}})
    summary = {"target": str(target), "track": str(track), "preset": preset, "steps": steps,
               "test_frames": test_frames, "rows": rows}
    with atomic_path(out_dir / SUMMARY) as tmp:
        tmp.write_text(json.dumps(summary, indent=2))
    return summary


def format_ablation(summary: dict[str, Any]) -> str:
    """The table: one row per variant (skipped ones with their reason)."""
    budget = f"{summary['steps']} steps" if summary["steps"] else "the preset's schedule"
    lines = [f"ablation of preset {summary['preset']} on {summary['target']} ({budget}; held-out frames "
             f"{summary['test_frames']})",
             f"{'variant':<24}" + "".join(f" {label:>10}" for _, label in COLUMNS) + f" {'steps':>6}"]
    for r in summary["rows"]:
        if "skipped" in r:
            lines.append(f"{r['name']:<24} skipped: {r['skipped']}")
        else:
            lines.append(f"{r['name']:<24}" + "".join(f" {r[k]:>10.3f}" for k, _ in COLUMNS) + f" {r['steps']:>6}")
    return "\n".join(lines)
