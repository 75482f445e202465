"""``h2h filter``: reenact a plate streamed as raw frames (stdin -> stdout), or in process through PyAV.

    ffmpeg -i plate.mp4 -f rawvideo -pix_fmt rgb24 - \\
      | h2h filter --checkpoint ckpt.pt --track retargeted.h2h.npz --size 512x512 --rate 25 --pix-fmt rgb24 \\
      | ffmpeg -f rawvideo -pix_fmt rgb24 -s 512x512 -r 25 -i - -c:v libx264 out.mp4

Both paths run the same :data:`FrameProcessor` (plate frames in, composited frames out, in order), so the
pipe and :func:`pyav_filter` produce the same pixels.
"""
from __future__ import annotations

from pathlib import Path
from typing import BinaryIO, Callable, Iterator

import numpy as np

from ..errors import InputError
from ..io.audio import AudioSpec
from ..io.rawvideo import encode_raw, read_raw_frames
from ..io.video import open_frames
from ..io.writer import FrameWriter

Frames = Iterator[tuple[int, np.ndarray]]  # (frame number, float32 display-sRGB RGB (H, W, 3))
FrameProcessor = Callable[[Frames], Frames]
Progress = Callable[[int, int, str], None]


def pipe_filter(inp: BinaryIO, out: BinaryIO, size: tuple[int, int], pix_fmt: str, process: FrameProcessor,
                start_number: int = 0, progress: Progress | None = None) -> int:
    """Raw frames of ``size`` (W, H) in ``pix_fmt`` from ``inp`` -> ``process`` -> raw frames to ``out``.

    Piped frames are numbered from ``start_number`` (the plate's first frame). Returns the frame count.
    """
    frames = ((start_number + i, rgb) for i, rgb in enumerate(read_raw_frames(inp, size, pix_fmt)))
    n = 0
    for f, rgb in process(frames):
        if rgb.shape != (size[1], size[0], 3):
            raise InputError(f"frame {f}: the filter made {rgb.shape[1]}x{rgb.shape[0]}, the pipe is "
                             f"{size[0]}x{size[1]}")
        out.write(encode_raw(rgb, pix_fmt))
        n += 1
        if progress is not None:
            progress(n, 0, "filter")
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
    with FrameWriter(dst, fps=source.fps, audio=audio) as w:
        for f, rgb in process(frames):
            w.write(f, rgb)
            n += 1
            if progress is not None:
                progress(n, total, "filter")
    return n
