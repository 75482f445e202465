"""Reenact node: the whole job in one command — track both shots, train (or reuse) the target's model,
retarget the source onto the target, and synthesize the result onto the target plate.

Intermediate results live in a work folder and are cached by content (:class:`~h2h_engine.nodes.graph.Graph`):
re-running with a changed knob recomputes only what depends on it, and an interrupted training run resumes
from its last checkpoint. Training comes from the ``training`` package (imported only for that step); with
``--run-dir`` pointing at a finished run, the engine alone is enough.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

from ..errors import ConfigError, InputError
from ..io.frames import FramePattern, is_pattern
from ..track import Track
from .graph import Graph
from .knobs import AUDIO, COLOURSPACE, FORCE
from .retarget import SPEC as RETARGET
from .spec import Knob, NodeSpec, Port
from .synthesize import SPEC as SYNTHESIZE
from .track import SPEC as TRACK

PRESETS = ("instant", "preview", "production", "paper", "tiny")  # training/configs/*.yaml


def default_work_dir(output: str) -> Path:
    """``shot.mp4`` -> ``shot.h2h/``; ``out/shot.####.exr`` -> ``out/shot.h2h/``."""
    text = FramePattern.parse(output).prefix.rstrip("._-") if is_pattern(output) else str(Path(output).with_suffix(""))
    return Path(text + ".h2h")


def mode_overrides(preset: str, mode: str) -> dict[str, Any]:
    """Model settings that follow the reenactment mode for presets with appearance inputs: face mode
    regenerates the face matte inside the plate; head mode the whole crop (no plate context: the pose moves)."""
    if preset in ("paper", "tiny"):
        return {}  # the paper's inputs exactly
    return {"model": {"region": "face", "appearance": "context,warp"} if mode == "face"
            else {"region": "crop", "appearance": "warp"}}


def trained_checkpoint(target: str, track: str, run_dir: Path, preset: str, epochs: int, device: str = "auto",
                       overrides: dict[str, Any] | None = None) -> Path:
    """Train the target's model in ``run_dir`` on ``device`` (auto | cpu | cuda[:N]), resuming an interrupted
    run; a finished run returns at once."""
    try:
        from training.config import load_config  # noqa: PLC0415 - the trainer is optional for the engine
        from training.train import CHECKPOINT, train  # noqa: PLC0415
    except ImportError:
        raise ConfigError("training needs the `training` package (pip install -e . from the repository); "
                          "or pass --run-dir with a finished run") from None
    overrides = {**(overrides or {}), "device": device}
    if epochs:
        full = max(1, math.ceil(epochs * 2 / 3))  # the paper's schedule: 2/3 at full rate, 1/3 decaying
        overrides.update(epochs=full, decay_epochs=epochs - full)
    cfg = load_config(preset, None, overrides)
    return train(target, track, run_dir, cfg, resume=(run_dir / CHECKPOINT).exists())


def run(source: str, target: str, output: str, mode: str, source_frames: tuple[int, int] | None,
        frames: tuple[int, int] | None, preset: str, epochs: int, run_dir: str, work_dir: str,
        feather: float, mask: str, device: str, colourspace: str, audio: str, force: bool,
        progress: Callable[[int, int, str], None], fps: str = "", first_frame: int = 0,
        engine: str = "auto") -> dict[str, Any]:
    """Reenact ``target`` with ``source``'s performance into ``output``; returns paths and the synth result.
    ``fps`` and ``first_frame`` apply to both shots (the track node's knobs)."""
    work = Path(work_dir) if work_dir else default_work_dir(output)
    g = Graph(work / "cache", progress=progress)
    time = {"fps": fps, "first_frame": first_frame}
    src = g.add("track", input=source, frames=source_frames, colourspace=colourspace, **time)
    tgt = g.add("track", input=target, frames=frames, colourspace=colourspace, **time)
    g.run(src, tgt)
    tgt_frames = Track.load(tgt.path()).frames
    drv = g.add("retarget", source=src, target=tgt, mode=mode,
                frames=(int(tgt_frames[0]), int(tgt_frames[-1])), past_end="stop")
    g.run(drv)

    if run_dir:
        ckpt = Path(run_dir) / "checkpoint.pt"
        if not ckpt.is_file():
            raise InputError(f"--run-dir {run_dir} holds no checkpoint.pt (train it with h2h train first)")
    else:
        over = mode_overrides(preset, mode)
        schedule = f"-e{epochs}" if epochs else ""  # a run is reused only for the same target and schedule
        region = f"-{over['model']['region']}" if over else ""
        ckpt = trained_checkpoint(target, tgt.path(), work / f"run-{preset}{region}{schedule}-{tgt.key()[:12]}",
                                  preset, epochs, device, over)
    result = SYNTHESIZE(progress=progress, checkpoint=str(ckpt), track=drv.path(), plate=target,
                        plate_track=tgt.path(), output=output, feather=feather, mask=mask, device=device,
                        colourspace=colourspace, audio=audio, force=force, engine=engine)
    return {"output": output, "work_dir": str(work), "source_track": src.path(), "target_track": tgt.path(),
            "retargeted_track": drv.path(), "checkpoint": str(ckpt), "synthesize": result}


SPEC = NodeSpec(
    name="reenact",
    help="The whole job: track source and target, train (or reuse) the target's model, retarget, synthesize "
         "onto the target plate.",
    inputs=(Port("source", "frames", "driving shot (movie or sequence): its performance is transferred",
                 flag="--source"),
            Port("target", "frames", "shot to re-enact (movie or sequence): its actor and plate are kept",
                 flag="--target")),
    outputs=(Port("output", "frames", "output movie (.mp4/.mov/.mkv) or sequence (out.####.exr/png)"),),
    knobs=(
        RETARGET.knob("mode"),
        Knob("source_frames", "frames", None, "frame range A-B of the source"),
        Knob("frames", "frames", None, "frame range A-B of the target, which is also the output's range"),
        Knob("preset", "choice", "preview", "training preset: instant (no network, seconds), preview (CPU, "
             "256 px U-Net over the target's own appearance), production/paper (GPU), tiny (tests)",
             choices=PRESETS),
        Knob("epochs", "int", 0, "training epochs (0 = the preset's schedule); 2/3 at full rate, 1/3 decaying",
             minimum=0),
        Knob("run_dir", "path", "", "finished training run to reuse instead of training (its checkpoint.pt)"),
        Knob("work_dir", "path", "", "folder for tracks, the training run and the cache (default: OUT.h2h/)"),
        SYNTHESIZE.knob("feather"), SYNTHESIZE.knob("mask"), SYNTHESIZE.knob("device"), SYNTHESIZE.knob("engine"),
        COLOURSPACE, AUDIO, FORCE,
        TRACK.knob("fps"), TRACK.knob("first_frame"),
    ),
    run=run,
)
