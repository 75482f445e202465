"""``h2h filter``: reenact a plate streamed through a pipe (stdin -> stdout), or in process through PyAV.

    ffmpeg -i plate.mp4 -f nut -c:v rawvideo -pix_fmt rgb24 - \\
      | h2h filter --checkpoint ckpt.pt --track retargeted.h2h.npz \\
      | ffmpeg -i - -c:v libx264 out.mp4

A NUT stream says its pixel format (rgb24, rgb48le), size and rate, which are checked against the track
(and against --size/--pix-fmt/--rate when given); the result goes out as NUT of the same format. Raw frames
(``-f rawvideo``) are taken only with explicit --size and --pix-fmt, and cannot be checked: a mis-declared
raw stream whose byte count divides evenly is read as garbage (float gbrpf32le is raw-only: ffmpeg's NUT
cannot tag it). Both paths run the same :data:`FrameProcessor` (plate frames in, composited frames out, in
order), so the pipe and :func:`pyav_filter` produce the same pixels.
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

import numpy as np

from ..errors import InputError
from ..io.audio import AudioSpec
from ..io.nut import NutWriter, StreamFormat, read_nut, sniff
from ..io.rawvideo import PIX_FMTS, encode_raw, read_raw_frames
from ..io.video import open_frames
from ..io.writer import FrameWriter
from ..nodes import SPECS
from ..nodes.spec import PROGRESS_LINES, Knob
from ..track import Track

Frames = Iterator[tuple[int, np.ndarray]]  # (frame number, float32 display-sRGB RGB (H, W, 3))
FrameProcessor = Callable[[Frames], Frames]
Progress = Callable[[int, int, str], None]

# The filter's own options (the stream's shape); every other flag is a knob of the synthesize node.
STREAM_KNOBS = (
    Knob("size", "size", None, "frame size WxH of a raw piped video (ffmpeg -s; a NUT stream's own is checked "
         "against it)"),
    Knob("rate", "float", None, "frame rate of the piped video (ffmpeg -r; a NUT stream's own is checked against "
         "it); must match the track's", minimum=0.001),
    Knob("pix_fmt", "choice", None, "pixel format of a raw piped video, in and out (ffmpeg -pix_fmt; a NUT "
         "stream's own is checked against it)", choices=tuple(PIX_FMTS)),
    Knob("start_number", "int", 0, "frame number of the first piped frame (movies count from 0; a plate "
         "sequence from e.g. 1001)", minimum=0),
)
# Synthesize knobs that mean nothing on a stream: it is always composited, there are no files to keep, and
# sound is ffmpeg's business (-map the source's audio in the encoding ffmpeg; see docs/host.md).
_NOT_ON_STREAMS = ("composite", "force", "audio")


def filter_knobs() -> list[Knob]:
    """The synthesize node's knobs the filter takes (the same objects: names, types, defaults, help)."""
    return [k for k in SPECS["synthesize"].knobs if k.name not in _NOT_ON_STREAMS]


def reenact_processor(checkpoint: str, track: str, size: tuple[int, int], rate: float,
                      **knobs: Any) -> FrameProcessor:
    """Plate frames -> the reenacted composite for frames the track covers (within ``knobs['frames']``),
    the plate unchanged elsewhere; through the synthesize node's own per-frame path."""
    from ..nodes.synthesize import synthesize_frames  # noqa: PLC0415 - torch only when a filter runs

    trk = Track.load(track)
    if tuple(trk.image_size) != tuple(size):
        raise InputError(f"the piped video is {size[0]}x{size[1]} but the track {track} was made on "
                         f"{trk.image_size[0]}x{trk.image_size[1]}; pipe the target plate at its own size")
    if abs(rate - trk.fps) > 1e-3 * trk.fps:
        raise InputError(f"the piped video runs at {rate:g} fps but the track {track} at {trk.fps:g} fps")
    a, b = knobs.get("frames") or (int(trk.frames[0]), int(trk.frames[-1]))
    wanted = {int(f) for f in trk.frames if a <= f <= b}
    space = knobs.pop("colourspace", "auto")
    space = "srgb" if space == "auto" else space  # streams are display video unless the knob says otherwise

    def process(frames: Frames) -> Frames:
        held: dict[int, np.ndarray] = {}
        made = synthesize_frames(checkpoint, track, plate=lambda n: held[n], plate_space=space, **knobs)
        first = last = None
        matched = 0
        try:
            for f, rgb in frames:
                first, last = (f if first is None else first), f
                if f not in wanted:  # untouched, bit for bit
                    yield f, rgb
                    continue
                held.clear()
                held[f] = rgb
                number, image, _ = next(made)  # streams carry no alpha
                if number != f:  # cannot happen while both run in ascending order; guard the contract
                    raise RuntimeError(f"synthesis produced frame {number} for plate frame {f}")
                matched += 1
                yield f, image
        finally:
            made.close()
        got = "no frames" if first is None else f"frames {first}-{last}"
        if wanted and not matched:  # everything passed through untouched: the numbering is off
            raise InputError(f"the pipe held {got}, none of the track's {min(wanted)}-{max(wanted)}: check "
                             "--start-number (the plate's first frame number) and --frames")
        if matched < len(wanted):  # the stream was shorter than the range (or started inside it)
            raise InputError(f"the pipe held {got}: only {matched} of the track's {len(wanted)} frames "
                             f"{min(wanted)}-{max(wanted)} were reenacted; pipe the whole range or narrow --frames")

    return process


def open_pipe(inp: BinaryIO, size: tuple[int, int] | None = None, pix_fmt: str | None = None,
              rate: float | None = None) -> tuple[StreamFormat, Iterator[np.ndarray]]:
    """What ``inp`` carries and its frames, float32 RGB (H, W, 3): a NUT stream (recognised by its first
    bytes) by its own header, which the ``size``/``pix_fmt``/``rate`` given must match; anything else as raw
    frames of ``size`` (W, H) in ``pix_fmt``, both required since raw bytes cannot be checked."""
    is_nut, stream = sniff(inp)
    if is_nut:
        fmt, frames = read_nut(stream)
        said = {"--size": (size, fmt.size), "--pix-fmt": (pix_fmt, fmt.pix_fmt)}
        if fmt.rate is None:  # a NUT stream without a rate: the flag's, if any
            fmt = replace(fmt, rate=rate)
        elif rate is not None and abs(rate - fmt.rate) > 1e-3 * fmt.rate:
            said["--rate"] = (f"{rate:g}", f"{fmt.rate:g} fps")
        for flag, (given, own) in said.items():
            if given is not None and given != own:
                show = (lambda v: f"{v[0]}x{v[1]}") if flag == "--size" else str
                raise InputError(f"{flag} {show(given)} does not match the piped NUT stream ({show(own)}): drop the "
                                 "flag or fix the ffmpeg command")
        return fmt, frames
    if size is None or pix_fmt is None:
        raise InputError("stdin is not a NUT stream: send ffmpeg ... -f nut -c:v rawvideo -pix_fmt rgb24 - "
                         "(self-describing), or raw frames with both --size WxH and --pix-fmt")
    return StreamFormat("raw", size, pix_fmt, rate), read_raw_frames(stream, size, pix_fmt)


def pipe_filter(fmt: StreamFormat, frames: Iterator[np.ndarray], out: BinaryIO, process: FrameProcessor,
                start_number: int = 0, progress: Progress | None = None) -> int:
    """Piped frames of ``fmt`` (from :func:`open_pipe`) -> ``process`` -> ``out`` in the same container and
    format (NUT answered with NUT, raw with raw). Frames are numbered from ``start_number`` (the plate's first
    frame). Returns the frame count."""
    size = fmt.size
    writer = NutWriter(out, fmt) if fmt.container == "nut" else None
    write = writer.write if writer is not None else out.write
    n = 0
    for f, rgb in process((start_number + i, rgb) for i, rgb in enumerate(frames)):
        if rgb.shape != (size[1], size[0], 3):
            raise InputError(f"frame {f}: the filter made {rgb.shape[1]}x{rgb.shape[0]}, the pipe is "
                             f"{size[0]}x{size[1]}")
        write(encode_raw(rgb, fmt.pix_fmt))
        n += 1
        if progress is not None:
            progress(n, 0, "filter")
    if writer is not None:
        writer.close()
    out.flush()
    return n


def pyav_filter(src: str | Path, dst: str | Path, process: FrameProcessor,
                frame_range: tuple[int, int] | None = None, colourspace: str = "auto",
                audio: AudioSpec | None = None, progress: Progress | None = None) -> int:
    """The same as the pipe, in process: decode ``src`` (movie or sequence), ``process``, write ``dst``
    (movie with optional ``audio``, or sequence). Returns the frame count."""
    source = open_frames(src, frame_range, colourspace)
    total = len(source.frame_numbers() or [])
    frames = ((f, rgb.astype(np.float32) / np.float32(255)) for f, rgb in source)
    n = 0
    timecode = (source.timecode_frame, source.timecode) if source.timecode else None  # carried to the output
    with FrameWriter(dst, fps=source.rate or source.fps, audio=audio, timecode=timecode) as w:
        for f, rgb in process(frames):
            w.write(f, rgb)
            n += 1
            if progress is not None:
                progress(n, total, "filter")
    return n


def add_filter_command(sub: Any, add_knob: Callable[[argparse.ArgumentParser, Knob], None]) -> None:
    """``h2h filter``: the synthesize node's inputs and knobs plus the stream's shape (needs that node)."""
    if "synthesize" not in SPECS:
        return
    spec = SPECS["synthesize"]
    p = sub.add_parser("filter", help="reenact raw frames piped from ffmpeg (stdin -> stdout)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for port in spec.inputs:
        if port.kind != "frames":  # the plate arrives on stdin
            p.add_argument(port.flag or f"--{port.name}", dest=port.name, required=not port.optional,
                           help=port.help)
    for knob in STREAM_KNOBS + tuple(filter_knobs()):
        add_knob(p, knob)
    p.set_defaults(_func=run_filter_command)


def run_filter_command(args: argparse.Namespace) -> int:
    """Run ``h2h filter``: frames from stdin, reenacted frames to stdout (nothing else goes to stdout)."""
    stream = {k.name: k.parse(getattr(args, k.name) if getattr(args, k.name) is not None else k.default)
              for k in STREAM_KNOBS}
    knobs = {k.name: k.parse(getattr(args, k.name) if getattr(args, k.name) is not None else k.default)
             for k in filter_knobs()}
    spec = SPECS["synthesize"]
    ports = {p.name: getattr(args, p.name) for p in spec.inputs if p.kind != "frames"}
    fmt, frames = open_pipe(sys.stdin.buffer, stream["size"], stream["pix_fmt"], stream["rate"])
    if fmt.rate is None:
        raise InputError("h2h filter needs --rate: the piped stream does not say its rate (give the rate ffmpeg uses)")
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints (also from C code) must not corrupt frames
    process = reenact_processor(size=fmt.size, rate=fmt.rate, **ports, **knobs)
    with out:
        n = pipe_filter(fmt, frames, out, process, stream["start_number"], PROGRESS_LINES.get(args.progress))
    print(f"h2h filter: {n} frames ({fmt.container} {fmt.size[0]}x{fmt.size[1]} {fmt.pix_fmt} {fmt.rate:g} fps)",
          file=sys.stderr)
    return 0
