"""Frame sources: movie files through PyAV and image sequences through OpenImageIO, behind one iterator."""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import FrameRangeError, InputError
from ..optional import require
from .colour import check_space, to_display_uint8
from .frames import FramePattern, is_pattern
from .image import read_image
from .timecode import check_timecode, from_smpte, offset_timecode, parse_rate

# Frames a movie may decode short of the count its container declares before it counts as truncated.
_COUNT_SLACK = 1
MOVIE_SUFFIXES = {".mp4", ".mov", ".avi", ".mpg", ".mpeg", ".mkv", ".m4v", ".webm", ".mxf"}


@dataclass
class FrameSource:
    """Frames of one shot. Movie frames are numbered from ``first_frame`` (0 unless told, see
    :func:`open_frames`); sequence frames keep their file numbers. Sequence frames are their display window.

    Iterating yields ``(frame_number, rgb)`` with ``rgb`` display sRGB uint8 ``(H, W, 3)``.
    """

    path: str
    rate: Fraction | None  # exact frame rate; None: a sequence whose header has none and no --fps was given
    width: int
    height: int
    frame_range: tuple[int, int] | None = None
    colourspace: str = "auto"
    _seq: FramePattern | None = field(default=None, repr=False)
    _frames: list[int] | None = field(default=None, repr=False)
    first_frame: int = 0  # the number of a movie's first frame
    timecode: str | None = None  # the timecode of frame ``timecode_frame`` (movie metadata / EXR header)
    timecode_frame: int = 0

    @property
    def is_sequence(self) -> bool:
        return self._seq is not None

    @property
    def fps(self) -> float:
        """The frame rate as a float; InputError for a sequence without one (its header has no
        ``framesPerSecond`` and no ``--fps`` was given): the engine never guesses a rate."""
        if self.rate is None:
            raise InputError(f"{self.path} has no frame rate in its header (framesPerSecond): pass --fps "
                             "(e.g. 24, 25 or 24000/1001)")
        return float(self.rate)

    def timecode_of(self, frame: int) -> str | None:
        """The timecode of frame number ``frame`` (None when the source carries none)."""
        if self.timecode is None or self.rate is None:
            return None
        return offset_timecode(self.timecode, self.rate, frame - self.timecode_frame)

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
            img = read_image(self._seq.path(f), window="display")
            if img.shape[0] != self.height or img.shape[1] != self.width:
                raise InputError(f"{self._seq.path(f)} is {img.shape[1]}x{img.shape[0]}, "
                                 f"the sequence started at {self.width}x{self.height}")
            yield f, to_display_uint8(img, self.colourspace)

    def _iter_movie(self) -> Iterator[tuple[int, np.ndarray]]:
        first, last = (self.frame_range[0] - self.first_frame, self.frame_range[1] - self.first_frame
                       ) if self.frame_range else (0, None)
        av = require("av", f"reading the movie {self.path}")
        try:
            with av.open(self.path) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                # one converter for the shot: frame.to_ndarray(format=...) builds a new swscale context for every
                # frame (0.5 ms at 256 px, more than decoding it); the pixels are the same
                to_rgb = av.video.reformatter.VideoReformatter()
                i = -1
                for i, frame in enumerate(container.decode(stream)):
                    if i < first:
                        continue
                    if last is not None and i > last:
                        break
                    rgb = to_rgb.reformat(frame, format="rgb24").to_ndarray()
                    if self.colourspace not in ("auto", "srgb"):
                        rgb = to_display_uint8(rgb, self.colourspace)
                    yield self.first_frame + i, rgb
        except av.error.FFmpegError as e:
            raise InputError(f"cannot decode {self.path}: {e} (corrupt or truncated video?)") from None
        if i < first:
            raise FrameRangeError(f"{self.path} has {i + 1} frames (from {self.first_frame}); range starts at "
                                  f"frame {first + self.first_frame}")
        # A truncated file can end the decode silently; containers' counts may be one frame off.
        if self._frames and i < self._frames[-1] - self.first_frame - _COUNT_SLACK:
            raise InputError(f"{self.path} decoded only {i + 1} of the {self._frames[-1] - self.first_frame + 1} "
                             "frames it declares (truncated or corrupt?)")


def open_frames(path: str | Path, frame_range: tuple[int, int] | None = None, colourspace: str = "auto",
                fps: str | float | Fraction | None = None, first_frame: int = 0) -> FrameSource:
    """Open a movie (mp4/mov/avi/mpg... via PyAV) or an image sequence (``%04d``, ``####`` or ``$F4``).

    ``colourspace`` names the plate's encoding (any name of the OCIO config, see
    :mod:`~h2h_engine.io.colour`); frames are converted to the networks' display sRGB. "auto": integer files
    are in the networks' space, float files in the config's ``scene_linear``.

    The rate: ``fps`` when given, else a sequence's EXR header (``framesPerSecond``) or the movie's stream;
    exact (see :func:`~h2h_engine.io.timecode.parse_rate`). Movie frames are numbered from ``first_frame``
    (the engine's convention is 0; pass 1 for Nuke's numbering of a movie Read, 1001 for a plate's), and
    ``frame_range`` is in those numbers. Timecode comes from the first sequence frame's ``smpte:TimeCode``
    or the movie's ``timecode`` metadata (stream, then container).

    Raises InputError for a missing/unreadable input and FrameRangeError for a range outside the shot.
    """
    p = str(path)
    check_space(colourspace)
    rate = parse_rate(fps) if fps not in (None, "") else None
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
        first, meta = read_image(seq.path(frames[0]), with_meta=True, window="display")
        header_rate = meta.attributes.get("framesPerSecond")
        rate = rate or (parse_rate(header_rate[1]) if header_rate else None)
        smpte = meta.attributes.get("smpte:TimeCode")
        return FrameSource(p, rate, first.shape[1], first.shape[0], frame_range, colourspace, seq, frames,
                           timecode=from_smpte(smpte[1]) if smpte else None, timecode_frame=frames[0])
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
            rate = rate or parse_rate(stream.average_rate or stream.guessed_rate or 25)
            w, h = stream.codec_context.width, stream.codec_context.height
            n = stream.frames
            tc = stream.metadata.get("timecode") or container.metadata.get("timecode")
    except av.error.FFmpegError as e:
        raise InputError(f"cannot open {p}: {e} (corrupt or not a video?)") from None
    if w == 0 or h == 0:
        raise InputError(f"cannot open {p}: the video stream has no picture size (corrupt?)")
    frames = None
    if n > 0:
        a, b = frame_range if frame_range else (first_frame, first_frame + n - 1)
        if a < first_frame:
            raise FrameRangeError(f"{p}: frame range {a}-{b} starts before the movie's first frame {first_frame}")
        frames = list(range(a, min(b, first_frame + n - 1) + 1))
    return FrameSource(p, rate, w, h, frame_range, colourspace, None, frames, first_frame,
                       check_timecode(tc) if tc else None, first_frame)
