"""Synthesize node: a trained generator applied over a track's conditioning, optionally composited on a plate.

``h2h synthesize --checkpoint CKPT --track TRACK -o OUT [--frames A-B] [--plate PLATE] [--composite]
[--feather PX]``. Loads only the model config and G's weights from the checkpoint, renders the track's
conditioning with the crop settings the model was trained with, runs G block by block (any frame range
gives the same pixels as a whole-shot render) and writes the face crops, or, with a plate, the plate with
the synthesized crop pasted back through a feathered mask.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator

import numpy as np

from ..errors import FrameRangeError, InputError, ModelMismatchError
from ..io import open_frames
from ..io.colour import convert
from ..io.frames import FramePattern, is_pattern
from ..io.image import read_image
from ..io.writer import FrameWriter, is_movie
from ..morphable import load_model_for
from ..render.conditioning import render_conditioning
from ..render.crop import crop_box_for_track, paste_back
from ..synthesis.checkpoint import load_generator
from ..synthesis.inference import Synthesizer, conditioning_stack
from ..track import Track
from . import register
from .knobs import AUDIO, COLOURSPACE, FORCE, audio_for_track, settings_stamp
from .spec import Knob, NodeSpec, Port


def synthesize_frames(checkpoint: str, track: str, frames: tuple[int, int] | None = None,
                      plate: Callable[[int], np.ndarray] | None = None, feather: float = 12.0, mask: str = "box",
                      device: str = "auto", skip: Callable[[list[int]], bool] = lambda numbers: False,
                      progress: Callable[[int, int, str], None] = lambda *a: None,
                      info: dict[str, Any] | None = None,
                      plate_space: str = "srgb") -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(frame number, image)`` for ``frames`` of ``track`` in order: G's face crop (display sRGB), or
    with ``plate`` (frame number -> (H0, W0, 3) float32 in ``plate_space``, asked in ascending order) the crop
    converted to ``plate_space`` and pasted back on it, so plate pixels outside the mask stay bit-exact.

    Blocks whose frame numbers ``skip`` accepts are not synthesized (farm re-runs). ``info``, when given,
    receives the range, crop box and size. This is the one per-frame synthesis + composite path: the node
    writes its frames to files, ``h2h filter`` to a pipe.
    """
    gen, ck = load_generator(checkpoint)
    trk = Track.load(track)
    model = load_model_for(trk, what=f"track {track}")
    if trk.model_digest != ck["morphable_digest"]:
        raise ModelMismatchError(f"track {track} was fitted with model {trk.model_name} ({trk.model_digest}); "
                                 f"checkpoint {checkpoint} was trained with {ck.get('morphable_name')} "
                                 f"({ck['morphable_digest']})")
    a, b = frames if frames is not None else (int(trk.frames[0]), int(trk.frames[-1]))
    rows = np.nonzero((trk.frames >= a) & (trk.frames <= b))[0]
    if len(rows) == 0:
        raise FrameRangeError(f"--frames {a}-{b} selects nothing; the track has {trk.frames[0]}-{trk.frames[-1]}")
    first, last = int(rows[0]), int(rows[-1])
    size = gen.cfg.size
    box = crop_box_for_track(trk, model, margin=ck["crop_margin"], smooth=ck["crop_smooth"])
    if info is not None:
        info.update(frames=[int(trk.frames[first]), int(trk.frames[last])], size=size, fps=float(trk.fps),
                    crop_box=[float(v) for v in box])
    synth = Synthesizer(gen, device=device)
    total, done = last - first + 1, 0
    for _, out_first, out_last in synth.schedule.blocks(first, last):
        numbers = [int(f) for f in trk.frames[out_first:out_last + 1]]
        if skip(numbers):
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
            if plate is not None:
                face = np.ones((size, size), np.float32) if mask == "box" else c.mask[i - lo].astype(np.float32)
                patch = rgb if plate_space == "srgb" else convert(rgb, "srgb", plate_space)
                under = plate(number)
                if under.shape[1::-1] != tuple(trk.image_size):
                    raise InputError(f"plate frame {number} is {under.shape[1]}x{under.shape[0]}; track {track} was "
                                     f"made on {trk.image_size[0]}x{trk.image_size[1]} frames: use that plate")
                image = paste_back(under, patch, face, box, feather)
            yield number, image
            done += 1
            progress(done, total, "synthesize")


def plate_reader(path: str, frames: tuple[int, int], colourspace: str = "auto"
                 ) -> tuple[Callable[[int], np.ndarray], str]:
    """``(plate, space)``: plate(frame number) -> (H0, W0, 3) float32 as stored (float EXR at full
    precision; integer files and movies scaled to [0, 1]) for ascending frame numbers, and its colour space."""
    source = open_frames(path, frames, colourspace)  # checks the path, range and sizes; numbers the frames
    if source.is_sequence:
        pattern = FramePattern.parse(path)
        first = read_image(pattern.path(source.frame_numbers()[0]))
        space = colourspace if colourspace != "auto" else ("linear" if first.dtype.kind == "f" else "srgb")
        it = ((f, read_image(pattern.path(f))) for f in source.frame_numbers())
    else:  # movies decode to display sRGB (FrameSource converts other encodings)
        space, it = "srgb", iter(source)
    current: tuple[int, np.ndarray] | None = None

    def plate(number: int) -> np.ndarray:
        nonlocal current
        while current is None or current[0] < number:
            current = next(it, None)
            if current is None:
                raise InputError(f"plate {path} ends before frame {number}")
        if current[0] != number:
            raise InputError(f"plate {path} has no frame {number}")
        px = current[1][:, :, :3] if current[1].shape[2] >= 3 else np.repeat(current[1][:, :, :1], 3, axis=2)
        return px.astype(np.float32) / np.float32(np.iinfo(px.dtype).max) if px.dtype.kind == "u" else \
            px.astype(np.float32)

    return plate, space


def run(checkpoint: str, track: str, output: str, plate: str | None = None, frames: tuple[int, int] | None = None,
        composite: bool = True, feather: float = 12.0, mask: str = "box", device: str = "auto",
        force: bool = False, colourspace: str = "auto", audio: str = "source",
        progress: Callable[[int, int, str], None] = lambda *a: None) -> dict[str, Any]:
    """Synthesize ``frames`` of ``track`` (all by default) into ``output`` (sequence pattern or movie)."""
    trk = Track.load(track)
    a, b = frames if frames is not None else (int(trk.frames[0]), int(trk.frames[-1]))
    plate_fn, plate_space = plate_reader(plate, (a, b), colourspace) if plate and composite else (None, "srgb")
    exr = output.lower().endswith(".exr")
    # EXR results are in the plate's colour space (scene-linear unless the plate says otherwise); others sRGB
    want = (colourspace if colourspace != "auto" else "linear") if exr else "srgb"
    # an EXR plate composited into an EXR sequence keeps the plate's header and untouched channels
    keep = plate if plate_fn is not None and exr and is_pattern(plate) and plate.lower().endswith(".exr") else None
    sound = audio_for_track(audio, trk, a) if is_movie(output) else None
    info: dict[str, Any] = {}
    stamp = settings_stamp("synthesize", {"composite": composite, "feather": feather, "mask": mask,
                                          "device": device, "colourspace": colourspace},
                           [checkpoint, track, plate])
    with FrameWriter(output, fps=trk.fps, overwrite=force, passthrough=keep, audio=sound,
                     stamp=stamp) as writer:
        for number, image in synthesize_frames(checkpoint, track, frames, plate_fn, feather, mask, device,
                                               lambda n: not force and all(writer.exists(f) for f in n),
                                               progress, info, plate_space):
            writer.write(number, image if plate_space == want else convert(image, plate_space, want))
    return {"output": str(output), "frames": info["frames"], "size": info["size"],
            "composited": plate_fn is not None, "crop_box": info["crop_box"],
            "audio": None if sound is None else [sound.path, sound.start_seconds]}


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
           FORCE,
           COLOURSPACE, AUDIO),
    run=run,
))
