"""Synthesize node: a trained generator applied over a track's conditioning, optionally composited on a plate.

``h2h synthesize --checkpoint CKPT --track TRACK -o OUT [--frames A-B] [--plate PLATE] [--composite]
[--feather PX]``. Loads only the model config and G's weights from the checkpoint, renders the track's
conditioning with the crop settings the model was trained with, runs G block by block (any frame range
gives the same pixels as a whole-shot render) and writes the face crops, or, with a plate, the plate with
the synthesized crop pasted back through a feathered mask.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import FrameRangeError, InputError, ModelMismatchError
from ..io import open_frames
from ..io.colour import srgb_to_linear
from ..io.writer import FrameWriter
from ..morphable import load_model
from ..render.conditioning import render_conditioning
from ..render.crop import crop_box_for_track, paste_back
from ..synthesis.checkpoint import load_generator
from ..synthesis.inference import Synthesizer, conditioning_stack
from ..track import Track
from . import register
from .spec import Knob, NodeSpec, Port


def run(checkpoint: str, track: str, output: str, plate: str | None = None, frames: tuple[int, int] | None = None,
        composite: bool = True, feather: float = 12.0, mask: str = "box", device: str = "auto",
        overwrite: bool = True, progress: Callable[[int, int, str], None] = lambda *a: None) -> dict[str, Any]:
    """Synthesize ``frames`` of ``track`` (all by default) into ``output`` (sequence pattern or movie)."""
    gen, info = load_generator(checkpoint)
    trk = Track.load(track)
    model = load_model()
    if trk.model_digest != info["morphable_digest"]:
        raise ModelMismatchError(f"track {track} was fitted with model {trk.model_name} ({trk.model_digest}); "
                                 f"checkpoint {checkpoint} was trained with {info.get('morphable_name')} "
                                 f"({info['morphable_digest']})")
    a, b = frames if frames is not None else (int(trk.frames[0]), int(trk.frames[-1]))
    rows = np.nonzero((trk.frames >= a) & (trk.frames <= b))[0]
    if len(rows) == 0:
        raise FrameRangeError(f"--frames {a}-{b} selects nothing; the track has {trk.frames[0]}-{trk.frames[-1]}")
    first, last = int(rows[0]), int(rows[-1])
    size = gen.cfg.size
    box = crop_box_for_track(trk, model, margin=info["crop_margin"], smooth=info["crop_smooth"])
    synth = Synthesizer(gen, device=device)
    exr = output.lower().endswith(".exr")
    plate_iter = iter(open_frames(plate, (int(trk.frames[first]), int(trk.frames[last])))) \
        if plate and composite else None
    plate_frame: tuple[int, np.ndarray] | None = None
    total, done = last - first + 1, 0
    writer = FrameWriter(output, fps=trk.fps, overwrite=overwrite)
    with writer:
        for _, out_first, out_last in synth.schedule.blocks(first, last):
            numbers = [int(f) for f in trk.frames[out_first:out_last + 1]]
            if not overwrite and all(writer.exists(f) for f in numbers):
                done += len(numbers)
                progress(done, total, "synthesize")
                continue
            lo, hi = synth.schedule.needed(out_first, out_last, gen.cfg.n_cond_frames)
            part = trk.slice(int(trk.frames[lo]), int(trk.frames[hi]))
            c = render_conditioning(model, part, (size, size), crop=box, what=("nmfc", "eyes", "mask"))
            cond = conditioning_stack(c.nmfc, c.eyes)
            for i, rgb in synth.run(cond, lo, out_first, out_last):
                number = int(trk.frames[i])
                image = rgb
                if plate_iter is not None:
                    while plate_frame is None or plate_frame[0] < number:
                        plate_frame = next(plate_iter, None)
                        if plate_frame is None:
                            raise InputError(f"plate {plate} ends before frame {number}")
                    if plate_frame[0] != number:
                        raise InputError(f"plate {plate} has no frame {number}")
                    face = np.ones((size, size), np.float32) if mask == "box" else \
                        c.mask[i - lo].astype(np.float32)
                    image = paste_back(plate_frame[1].astype(np.float32) / 255.0, rgb, face, box, feather)
                writer.write(number, srgb_to_linear(image) if exr else image)
                done += 1
                progress(done, total, "synthesize")
    return {"output": str(output), "frames": [int(trk.frames[first]), int(trk.frames[last])], "size": size,
            "composited": plate_iter is not None, "crop_box": [float(v) for v in box]}


SPEC = register(NodeSpec(
    name="synthesize",
    help="Render frames of a track with a trained Head2Head generator (face crops, or composited on a plate).",
    inputs=(Port("checkpoint", "checkpoint", "trained run's checkpoint.pt", flag="--checkpoint"),
            Port("track", "track", "track to render (the target's own, or retargeted)", flag="--track"),
            Port("plate", "frames", "target plate to composite onto (movie or sequence)", flag="--plate",
                 optional=True)),
    outputs=(Port("output", "frames", "output sequence (out.####.exr/png) or movie (.mp4/.mov/.mkv)"),),
    knobs=(Knob("frames", "frames", None, "frame range A-B to synthesize (default: the whole track)"),
           Knob("composite", "bool", True, "paste the synthesized crop back onto --plate"),
           Knob("feather", "float", 12.0, "width of the composite mask's soft edge, plate pixels", minimum=0.0,
                maximum=500.0),
           Knob("mask", "choice", "box", "composite the whole crop box or only the rendered face",
                choices=("box", "face")),
           Knob("device", "choice", "auto", "where G runs (fp16 on CUDA)", choices=("auto", "cpu", "cuda")),
           Knob("overwrite", "bool", True, "rewrite existing sequence frames (--no-overwrite resumes a farm job)")),
    run=run,
))
