"""The Retarget node: ``h2h retarget --source SRC --target TGT -o OUT``, a track driving another shot."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from ..morphable import load_model_for
from ..retarget import MODES, PAST_END, retarget
from ..track import Track
from .knobs import FORCE
from .spec import Knob, NodeSpec, Port


def run(source: str, target: str, output: str, mode: str, frames: tuple[int, int] | None, source_offset: int,
        past_end: str, neutral_offset: bool, neutral_percentile: float, model: str, force: bool,
        progress: Callable[[int, int, str], None], within_target: bool = False) -> dict[str, Any]:
    """Read both tracks, retarget, write the output track atomically; returns a summary. (``force``,
    replacing an existing OUT, is applied by the spec's output claim before this runs.)"""
    src, tgt = Track.load(source), Track.load(target)
    mm = load_model_for(tgt, model, f"target track {target}")
    progress(0, 1, "retarget")
    out = retarget(mm, src, tgt, mode=mode, frames=frames, source_offset=source_offset, past_end=past_end,
                   neutral_offset=neutral_offset, neutral_percentile=neutral_percentile,
                   provenance={"source_path": str(Path(source).resolve()),
                               "target_path": str(Path(target).resolve())}, within_target=within_target)
    out.save(output)
    progress(1, 1, "retarget")
    driving = out.meta["retarget"]["source_frame_of_output"]
    return {"output": str(output), "mode": mode, "frames": [int(out.frames[0]), int(out.frames[-1])],
            "n_frames": len(out), "source_frames": [driving[0], driving[-1]]}


SPEC = NodeSpec(
    name="retarget",
    help="Drive a target shot's track with a source shot's expressions, gaze and blinks (and head motion in "
         "head mode); writes a track that RenderNMFC renders like any other.",
    inputs=(Port("source", "track", "track file of the driving (source) shot", flag="--source"),
            Port("target", "track", "track file of the shot to re-enact (target)", flag="--target")),
    outputs=(Port("output", "track", "retargeted track file to write (.h2h.npz)"),),
    knobs=(
        Knob("mode", "choice", "head", "head: source expression and head pose (placed where the target's head "
             "is); face: source expression on the target's own pose", choices=MODES),
        Knob("frames", "frames", None, "output frames A-B, numbered like the target's (face mode: within the "
             "target; head mode: default as many as the source has left)"),
        Knob("source_offset", "int", 0, "source frame (counted from its first) that drives the first output "
             "frame", minimum=0),
        Knob("past_end", "choice", "stop", "output frames past the source's end: stop the output, hold the last "
             "source frame, loop the source, or pingpong", choices=PAST_END),
        Knob("within_target", "bool", False, "head mode: end the output within the target's frames, where its "
             "plate has frames to composite onto (face mode always is)"),
        Knob("neutral_offset", "bool", True, "subtract the source's resting expression and add the target's"),
        Knob("neutral_percentile", "float", 10.0, "percentile of each expression coefficient over a shot taken as "
             "its resting value", minimum=0.0, maximum=50.0),
        Knob("model", "str", "", "morphable model name or file (default: the one named in the tracks)"),
        FORCE,
    ),
    run=run,
)
