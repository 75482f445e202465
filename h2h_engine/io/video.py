"""Frame sources: movie files through PyAV and image sequences through OpenImageIO, behind one iterator."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import ConfigError, FrameRangeError, InputError
from ..optional import require
from .colour import COLOURSPACES, to_display_uint8
from .frames import FramePattern, is_pattern
from .image import read_image

# Frames a movie may decode short of the count its container declares before it counts as truncated.
_COUNT_SLACK = 1
MOVIE_SUFFIXES = {".mp4", ".mov", ".avi", ".mpg", ".mpeg", ".mkv", ".m4v", ".webm", ".mxf"}


@dataclass
class FrameSource:
    """Frames of one shot. Movie frames are numbered from 0; sequence frames keep their file numbers.

    Iterating yields ``(frame_number, rgb)`` with ``rgb`` display sRGB uint8 ``(H, W, 3)``.
    """

    path: str
    fps: float
    width: int
    height: int
    frame_range: tuple[int, int] | None = None
    colourspace: str = "auto"
    _seq: FramePattern | None = field(default=None, repr=False)
    _frames: list[int] | None = field(default=None, repr=False)

    @property
    def is_sequence(self) -> bool:
        return self._seq is not None

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        if self._seq is not None:
            yield from self._iter_sequence()
        else:
            yield from self._iter_movie()

    def frame_numbers(self) -> list[int] | None:
        """Frame numbers this source yields, when known without decoding (sequences, or movies with a count)."""
        return self._frames

    def _iter_sequence(self) -> Iterator[tuple[int, np.ndarray]]:
        assert self._seq is not None and self._frames is not None
        for f in self._frames:
            img = read_image(self._seq.path(f))
            if img.shape[0] != self.height or img.shape[1] != self.width:
                raise InputError(f"{self._seq.path(f)} is {img.shape[1]}x{img.shape[0]}, "
                                 f"the sequence started at {self.width}x{self.height}")
            yield f, to_display_uint8(img, self.colourspace)

    def _iter_movie(self) -> Iterator[tuple[int, np.ndarray]]:
        first, last = self.frame_range if self.frame_range else (0, None)
        av = require("av", f"reading the movie {self.path}")
        try:
            with av.open(self.path) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                i = -1
                for i, frame in enumerate(container.decode(stream)):
                    if i < first:
                        continue
                    if last is not None and i > last:
                        break
                    rgb = frame.to_ndarray(format="rgb24")
                    yield i, rgb if self.colourspace in ("auto", "srgb") else to_display_uint8(rgb, self.colourspace)
        except av.error.FFmpegError as e:
            raise InputError(f"cannot decode {self.path}: {e} (corrupt or truncated video?)") from None
        if i < first:
            raise FrameRangeError(f"{self.path} has {i + 1} frames; range starts at frame {first}")
        # A truncated file can end the decode silently; containers' counts may be one frame off.
        if self._frames and i < self._frames[-1] - _COUNT_SLACK:
            raise InputError(f"{self.path} decoded only {i + 1} of the {self._frames[-1] + 1} frames it declares "
                             "(truncated or corrupt?)")


def open_frames(path: str | Path, frame_range: tuple[int, int] | None = None,
                colourspace: str = "auto") -> FrameSource:
    """Open a movie (mp4/mov/avi/mpg... via PyAV) or an image sequence (``%04d``, ``####`` or ``$F4``).

    ``colourspace`` names the plate's encoding (see :data:`~h2h_engine.io.colour.COLOURSPACES`); frames
    are converted to the networks' display sRGB. "auto": integer files are sRGB, float files linear.

    Raises InputError for a missing/unreadable input and FrameRangeError for a range outside the shot.
    """
    p = str(path)
    if colourspace != "auto" and colourspace not in COLOURSPACES:
        raise ConfigError(f"colour space {colourspace!r} is not one of auto, {', '.join(COLOURSPACES)}")
    if is_pattern(p):
        seq = FramePattern.parse(p)
        frames = seq.existing_frames()
        if not frames:
            raise InputError(f"no files match the sequence {seq}")
        if frame_range is not None:
            a, b = frame_range
            frames = [f for f in frames if a <= f <= b]
            if not frames:
                raise FrameRangeError(f"no frames of {seq} in range {a}-{b}")
        holes = sorted(set(range(frames[0], frames[-1] + 1)) - set(frames))
        if holes:
            shown = ", ".join(str(f) for f in holes[:5]) + (f" and {len(holes) - 5} more" if len(holes) > 5 else "")
            raise FrameRangeError(f"sequence {seq} is missing frame(s) {shown} between {frames[0]} and {frames[-1]}; "
                                  "render them or pick a range without holes with --frames")
        first = read_image(seq.path(frames[0]))
        return FrameSource(p, 24.0, first.shape[1], first.shape[0], frame_range, colourspace, seq, frames)
    if not Path(p).is_file():
        raise InputError(f"input {p} does not exist")
    if Path(p).suffix.lower() not in MOVIE_SUFFIXES:
        raise InputError(f"input {p} is neither a movie ({', '.join(sorted(MOVIE_SUFFIXES))}) "
                         "nor an image-sequence pattern (%04d, ####, $F4)")
    av = require("av", f"reading the movie {p} (image sequences need no PyAV)")
    try:
        with av.open(p) as container:
            if not container.streams.video:
                raise InputError(f"{p} has no video stream")
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or 25.0)
            w, h = stream.codec_context.width, stream.codec_context.height
            n = stream.frames
    except av.error.FFmpegError as e:
        raise InputError(f"cannot open {p}: {e} (corrupt or not a video?)") from None
    if w == 0 or h == 0:
        raise InputError(f"cannot open {p}: the video stream has no picture size (corrupt?)")
    frames = None
    if n > 0:
        a, b = frame_range if frame_range else (0, n - 1)
        frames = list(range(a, min(b, n - 1) + 1))
    return FrameSource(p, fps, w, h, frame_range, colourspace, None, frames)
