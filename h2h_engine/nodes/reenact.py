"""Reenact node: the whole job in one command, as one Python graph of the other nodes: track both shots,
retarget the source onto the target, train (or reuse) the target's model, and synthesize onto the target
plate::

    track(source) --+
                    +--> retarget --------------------+
    track(target) --+                                 +--> synthesize --> OUT
          |  +--> train (target video + its track) --+
          +--------------------------------------------(plate track)

Every stage is cached by content under the work folder (:class:`~h2h_engine.nodes.graph.Graph`): re-running
with a changed knob recomputes only what depends on it (a synthesize knob never re-trains), and every track
file is read once per run. An interrupted training run resumes from its last checkpoint. Training is the
``train`` node, which imports the trainer only when it runs: with ``--run-dir`` pointing at a finished run
there is no train stage, and the engine alone is enough.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from ..errors import InputError
from ..io.frames import FramePattern, is_pattern
from ..synthesis.checkpoint import CHECKPOINT
from .graph import Graph
from .knobs import AUDIO, COLOURSPACE, FORCE
from .retarget import SPEC as RETARGET
from .spec import Knob, NodeSpec, Port
from .synthesize import SPEC as SYNTHESIZE
from .track import SPEC as TRACK
from .train import PRESETS


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


def train_settings(preset: str, mode: str, epochs: int) -> tuple[str, ...]:
    """The train node's ``--set`` items for a reenactment: the mode's model settings and, for ``epochs`` > 0,
    the paper's schedule: about 2/3 at full rate, 1/3 (at least one epoch from 2 on) decaying to 0."""
    items = [f"model.{k}={v}" for k, v in mode_overrides(preset, mode).get("model", {}).items()]
    if epochs:
        full = epochs - max(1, round(epochs / 3)) if epochs > 1 else 1
        items += [f"epochs={full}", f"decay_epochs={epochs - full}"]
    return tuple(items)


def reenact_graph(source: str, target: str, output: str, mode: str, source_frames: tuple[int, int] | None,
                  frames: tuple[int, int] | None, preset: str, epochs: int, run_dir: str, work_dir: str,
                  feather: float, mask: str, device: str, colourspace: str, audio: str, force: bool,
                  progress: Callable[[int, int, str], None] | None = None, fps: str = "",
                  first_frame: int = 0, engine: str = "auto", detail: bool = True, keep_plate: bool = True) -> Graph:
    """The reenactment as a graph (nothing run yet); its last node is synthesize. A train node resumes the
    run it finds in its cache folder (an interrupted one)."""
    work = Path(work_dir) if work_dir else default_work_dir(output)
    g = Graph(work / "cache", progress=progress)
    time = {"fps": fps, "first_frame": first_frame}
    src = g.add("track", input=source, frames=source_frames, colourspace=colourspace, **time)
    tgt = g.add("track", input=target, frames=frames, colourspace=colourspace, **time)
    drv = g.add("retarget", source=src, target=tgt, mode=mode, past_end="stop", within_target=True)
    if run_dir:
        checkpoint: Any = Path(run_dir) / CHECKPOINT
        if not checkpoint.is_file():
            raise InputError(f"--run-dir {run_dir} holds no {CHECKPOINT} (train it with h2h train first)")
        checkpoint = str(checkpoint)
    else:
        checkpoint = g.add("train", target=target, track=tgt, preset=preset, set=train_settings(preset, mode, epochs),
                           device=device)  # the device is not part of the key: a model trained elsewhere is reused
        checkpoint.set(resume=(Path(checkpoint.path()) / CHECKPOINT).is_file())
    g.add("synthesize", checkpoint=checkpoint, track=drv, plate=target, plate_track=tgt, output=output,
          feather=feather, mask=mask, device=device, colourspace=colourspace, audio=audio, force=force,
          engine=engine, detail=detail, keep_plate=keep_plate)
    return g


def run(source: str, target: str, output: str, mode: str, source_frames: tuple[int, int] | None,
        frames: tuple[int, int] | None, preset: str, epochs: int, run_dir: str, work_dir: str,
        feather: float, mask: str, device: str, colourspace: str, audio: str, force: bool,
        progress: Callable[[int, int, str], None], fps: str = "", first_frame: int = 0,
        engine: str = "auto", detail: bool = True, keep_plate: bool = True) -> dict[str, Any]:
    """Reenact ``target`` with ``source``'s performance into ``output``; returns the paths of every stage's
    result, the synthesize node's result and the stages that ran (the others came from the cache). ``fps``
    and ``first_frame`` apply to both shots (the track node's knobs)."""
    g = reenact_graph(source, target, output, mode, source_frames, frames, preset, epochs, run_dir, work_dir,
                      feather, mask, device, colourspace, audio, force, progress, fps, first_frame, engine,
                      detail, keep_plate)
    src, tgt, drv, *train, synth = g.nodes
    result = g.run(synth)
    return {"output": output, "work_dir": str(g.cache_dir.parent), "source_track": src.path(),
            "target_track": tgt.path(), "retargeted_track": drv.path(),
            "checkpoint": str(Path(train[0].path()) / CHECKPOINT) if train else str(Path(run_dir) / CHECKPOINT),
            "synthesize": result["result"], "ran": [n.spec.name for n in g.ran]}


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
        SYNTHESIZE.knob("detail"), SYNTHESIZE.knob("keep_plate"),
        COLOURSPACE, AUDIO, FORCE,
        TRACK.knob("fps"), TRACK.knob("first_frame"),
    ),
    run=run,
)
