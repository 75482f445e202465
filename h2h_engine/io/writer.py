"""Output frames to an image sequence (EXR/PNG/TIFF/JPEG via OpenImageIO) or a movie (PyAV), atomically.

Sequences write each frame to a temporary file and rename it, so a killed job never leaves a partial
frame and a re-run can skip the frames already on disk (farm chunks). Movies are written to a temporary
file in the target folder and renamed on :meth:`FrameWriter.close`.
"""
from __future__ import annotations

from pathlib import Path
from types import TracebackType

import numpy as np

from ..errors import InputError
from ..optional import require
from .atomic import atomic_path
from .audio import AudioSpec, add_audio_stream, mux_audio, read_audio
from .colour import check_space, from_display
from .frames import FramePattern, is_pattern
from .image import place, read_image, read_stamp, reads_completely, write_image
from .timecode import offset_timecode, parse_rate, to_smpte
from .video import MOVIE_SUFFIXES

# Movie codecs by container suffix: (codec, pixel format, options). Every movie is tagged BT.709 (matrix,
# primaries, transfer; limited range for YUV) and its RGB -> YUV conversion uses the BT.709 matrix.
_MOVIE_CODECS = {
    ".mp4": ("libx264", "yuv420p", {"crf": "16", "preset": "medium"}),
    ".mov": ("prores_ks", "yuv444p10le", {"profile": "4"}),
    ".mkv": ("ffv1", "bgr0", {}),  # FFV1 has no packed rgb24; bgr0 is lossless 8-bit RGB
    ".avi": ("ffv1", "bgr0", {}),
}


_DEFAULT_CHANNELS = ("R", "G", "B", "A")


def _unit_float(pixels: np.ndarray) -> np.ndarray:
    """Samples as float32 with integers scaled to [0, 1] (how OpenImageIO converts between types)."""
    if pixels.dtype.kind == "u":
        return pixels.astype(np.float32) / np.float32(np.iinfo(pixels.dtype).max)
    return pixels.astype(np.float32)


def _to_uint8(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype == np.uint8:
        return pixels
    return (np.clip(pixels.astype(np.float32), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


class FrameWriter:
    """Write numbered frames to ``path``: a sequence pattern (``out.####.exr``) or a movie (``out.mp4``).

    Args:
        path: sequence pattern (``%04d``, ``####``, ``$F4``) or movie file (.mp4 H.264, .mov ProRes 4444,
            .mkv/.avi FFV1 lossless).
        fps: the frame rate (exact: a Fraction, "24000/1001", or a float such as 23.976...; see
            :func:`~h2h_engine.io.timecode.parse_rate`): movies' rate, and EXR frames' ``framesPerSecond``.
        timecode: ``(frame number, "HH:MM:SS:FF")``, the timecode of one frame (e.g. the plate's first):
            every EXR frame gets its own ``smpte:TimeCode``, a movie the timecode of its first frame
            (``timecode`` metadata: a QuickTime/MP4 tmcd track). None: no timecode.
        channels: channel names for sequences (EXR keeps them, e.g. ``("nmfc.R", "nmfc.G", "nmfc.B")``).
        dtype: sequence sample type ("half", "float", "uint8", "uint16"); default half for EXR, uint8 else.
        attributes: metadata written into every sequence frame (EXR header).
        overwrite: False = keep frames that already exist (:meth:`exists` tells which), for farm re-runs.
        passthrough: a source image sequence (e.g. the plate ``plate.####.exr``): each output frame keeps
            that frame's header (timecode, pixel aspect, custom attributes) and the source channels it does
            not replace (alpha, depth, other layers, in their own sample types). Sequences only.
        stamp: a fingerprint of the settings that made the frames (see
            :func:`~h2h_engine.nodes.knobs.settings_stamp`), written into every sequence frame's header as
            ``h2h:stamp``; with it, :meth:`exists` (and so ``overwrite=False``) only keeps frames that carry
            the same stamp, so a re-run with other settings never keeps stale frames. Formats without
            custom metadata (TIFF, JPEG) are then always rewritten.
        audio: movies only: sound muxed into the movie when it closes, trimmed to the picture's length
            (see :func:`~h2h_engine.io.audio.audio_for` for the ``audio`` knob: source, target, none).
        colourspace: float sequences only: frames arrive as the networks' display sRGB and are converted
            to this space (e.g. the plate's ``linear`` or ``acescg``); "auto" writes them unchanged.

    Frames are ``(H, W, C)`` float in [0, 1] (or uint8). Movies take 3 channels, written in any order.
    """

    def __init__(self, path: str | Path, fps: float = 25.0, channels: tuple[str, ...] | None = None,
                 dtype: str | None = None, attributes: dict | None = None, overwrite: bool = True,
                 passthrough: str | Path | None = None, colourspace: str = "auto",
                 audio: AudioSpec | None = None, stamp: str | None = None,
                 timecode: tuple[int, str] | None = None) -> None:
        self.path = str(path)
        self.rate = parse_rate(fps)
        self.fps = float(self.rate)
        self.timecode = timecode
        check_space(colourspace)
        self.channels = channels
        self.attributes = attributes or {}
        self.overwrite = overwrite
        self.written: list[int] = []
        self._seq: FramePattern | None = None
        self._movie = None
        self.colourspace = colourspace
        self.audio = audio
        self.stamp = stamp
        self._passthrough = FramePattern.parse(passthrough) if passthrough is not None else None
        if is_pattern(self.path):
            self._seq = FramePattern.parse(self.path)
            suffix = self._seq.suffix.lower()
            self.dtype = dtype or ("half" if suffix.endswith(".exr") else "uint8")
        else:
            suffix = Path(self.path).suffix.lower()
            if suffix not in _MOVIE_CODECS:
                known = ", ".join(sorted(_MOVIE_CODECS))
                raise InputError(f"output {self.path} is neither a sequence pattern (####, %04d, $F4) "
                                 f"nor a movie ({known})")
            self.dtype = "uint8"
            if audio is not None and not Path(audio.path).is_file():
                raise InputError(f"audio source {audio.path} does not exist")
            if self._passthrough is not None:
                raise InputError(f"passing plate channels and metadata through needs an image-sequence output; "
                                 f"got movie {self.path}")

    # -- sequence ------------------------------------------------------------------------------------------
    def exists(self, frame: int) -> bool:
        """True if a sequence frame is already on disk (with this writer's stamp, if it has one) and decodes
        completely; always False for movies."""
        if self._seq is None or not self._seq.path(frame).is_file():
            return False
        path = self._seq.path(frame)
        return (self.stamp is None or read_stamp(path) == self.stamp) and reads_completely(path)

    def _attributes(self, frame: int) -> dict:
        assert self._seq is not None
        if not self._seq.suffix.lower().endswith(".exr"):  # rate and timecode are EXR header fields
            return {**self.attributes, "h2h:stamp": self.stamp} if self.stamp else dict(self.attributes)
        attrs = {"framesPerSecond": ("rational", (self.rate.numerator, self.rate.denominator)),
                 **self.attributes}
        if self.timecode is not None:
            attrs["smpte:TimeCode"] = ("timecode", to_smpte(self._timecode_of(frame)))
        return {**attrs, "h2h:stamp": self.stamp} if self.stamp else attrs

    def _timecode_of(self, frame: int) -> str:
        assert self.timecode is not None
        return offset_timecode(self.timecode[1], self.rate, frame - self.timecode[0])

    def frame_path(self, frame: int) -> Path:
        if self._seq is None:
            raise ValueError("frame_path() is for sequence outputs")
        return self._seq.path(frame)

    # -- writing -------------------------------------------------------------------------------------------
    def write(self, frame: int, pixels: np.ndarray) -> None:
        """Write one frame (``(H, W, C)``); sequences skip existing frames when ``overwrite`` is False."""
        if pixels.ndim != 3 or pixels.shape[0] == 0 or pixels.shape[1] == 0:
            raise InputError(f"cannot write frame {frame}: pixels have shape {pixels.shape}, want (H, W, C)")
        if self._seq is not None:
            if not self.overwrite and self.exists(frame):
                return
            if self.colourspace != "auto" and self.dtype in ("half", "float"):
                pixels = np.concatenate([from_display(_unit_float(pixels[:, :, :3]), self.colourspace),
                                         _unit_float(pixels[:, :, 3:])], axis=2)
            data = pixels if self.dtype in ("half", "float") else (
                _to_uint8(pixels) if self.dtype == "uint8" else
                (np.clip(pixels.astype(np.float32), 0, 1) * 65535 + 0.5).astype(np.uint16))
            if self.dtype == "half":
                data = data.astype(np.float16)
            elif self.dtype == "float":
                data = data.astype(np.float32)
            if self._passthrough is not None:
                self._write_with_source(frame, data)
            else:
                write_image(self._seq.path(frame), data, list(self.channels) if self.channels else None,
                            self._attributes(frame), dtype=self.dtype)
        else:
            self._write_movie(frame, pixels)
        self.written.append(frame)

    def _write_with_source(self, frame: int, data: np.ndarray) -> None:
        """Write ``data`` (the display window) as this writer's channels on top of the passthrough source
        frame's other channels, on the source's data and display windows: a bbox-cropped plate's comp keeps its
        bbox, an overscan plate keeps the pixels outside its frame (there, channels the plate has are the
        plate's, new ones 0)."""
        assert self._seq is not None and self._passthrough is not None
        src_path = self._passthrough.path(frame)
        src, meta = read_image(src_path, with_meta=True)
        display = meta.display_window
        if display[2:] != (data.shape[1], data.shape[0]):
            raise InputError(f"frame {frame} is {data.shape[1]}x{data.shape[0]} but the plate {src_path} is "
                             f"{display[2]}x{display[3]}; write at the plate's size to keep its channels")
        ours = list(self.channels) if self.channels else list(_DEFAULT_CHANNELS[: data.shape[2]])
        if len(ours) != data.shape[2]:
            raise InputError(f"frame {frame}: {data.shape[2]} channels but no names for them (pass channels=)")
        keep = [i for i, n in enumerate(meta.channels) if n not in ours]
        src = _unit_float(src)
        under = np.stack([src[:, :, meta.channels.index(n)] if n in meta.channels else np.zeros(src.shape[:2],
                          np.float32) for n in ours], axis=2)  # (h, w, len(ours)) what the plate has there
        mine = place(_unit_float(data), display, meta.data_window, fill=under)
        pixels = np.concatenate([mine, src[:, :, keep]], axis=2)
        formats = [self.dtype] * len(ours) + [meta.channel_formats[i] for i in keep]
        attrs = {**meta.attributes, **self._attributes(frame)}
        for k in ("smpte:TimeCode", "framesPerSecond"):  # the plate's own timing stays as it is
            if k in meta.attributes:
                attrs[k] = meta.attributes[k]
        write_image(self._seq.path(frame), pixels, ours + [meta.channels[i] for i in keep], attrs,
                    dtype=self.dtype, channel_formats=formats, data_window=meta.data_window,
                    display_window=display)

    def _write_movie(self, number: int, pixels: np.ndarray) -> None:
        av = require("av", f"writing the movie {self.path} (image sequences need no PyAV)")
        if pixels.shape[2] != 3:
            raise InputError(f"movies take 3 channels; got {pixels.shape[2]} (write EXR for more)")
        if self._movie is None:
            self._open_movie(number, pixels.shape[1], pixels.shape[0])
        container, stream = self._movie[:2]
        frame = av.VideoFrame.from_ndarray(_to_uint8(pixels), format="rgb24")
        if stream.pix_fmt.startswith("yuv"):  # swscale's default matrix is BT.601: convert with BT.709's
            frame = frame.reformat(format=stream.pix_fmt, src_colorspace="itu709", dst_colorspace="itu709",
                                   src_color_range="JPEG", dst_color_range="MPEG", dst_color_trc=1,
                                   dst_color_primaries=1)
        for packet in stream.encode(frame):
            container.mux(packet)

    def _open_movie(self, first: int, width: int, height: int) -> None:
        codec, pix_fmt, options = _MOVIE_CODECS[Path(self.path).suffix.lower()]
        if pix_fmt == "yuv420p" and (width % 2 or height % 2):
            raise InputError(f"H.264 needs even sizes; got {width}x{height} (use .mkv or a sequence)")
        av = require("av", f"writing the movie {self.path}")
        ctx = atomic_path(self.path)
        tmp = ctx.__enter__()
        container = av.open(str(tmp), mode="w")
        if self.timecode is not None:  # mov/mp4: a tmcd track; mkv: a TIMECODE tag
            container.metadata["timecode"] = self._timecode_of(first)
        stream = container.add_stream(codec, rate=self.rate)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.options = options
        ctx709 = stream.codec_context
        yuv = pix_fmt.startswith("yuv")
        ctx709.color_primaries, ctx709.color_trc = 1, 1  # AVCOL_PRI_BT709, AVCOL_TRC_BT709
        ctx709.colorspace = 1 if yuv else 0  # AVCOL_SPC_BT709 matrix for YUV; RGB (FFV1 bgr0) has none
        ctx709.color_range = 1 if yuv else 2  # MPEG (limited) for YUV, JPEG (full) for RGB
        audio_stream = add_audio_stream(container, Path(self.path).suffix.lower(), self.audio) if self.audio else None
        self._movie = (container, stream, ctx, audio_stream)

    def close(self, ok: bool = True) -> None:
        """Finish the output; with ``ok`` False (an error) a movie's temporary file is removed."""
        if self._movie is None:
            return
        container, stream, ctx, audio_stream = self._movie
        self._movie = None
        try:
            if ok:
                for packet in stream.encode():
                    container.mux(packet)
                if audio_stream is not None and self.audio is not None:
                    samples, rate, layout = read_audio(self.audio, len(self.written) / self.fps)
                    mux_audio(container, audio_stream, samples, rate, layout)
        finally:
            container.close()
            if ok:
                ctx.__exit__(None, None, None)
            else:
                ctx.__exit__(RuntimeError, RuntimeError("aborted"), None)

    def __enter__(self) -> "FrameWriter":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close(ok=exc_type is None)


def is_movie(path: str | Path) -> bool:
    """True for a movie output/input path (by suffix)."""
    return not is_pattern(str(path)) and Path(path).suffix.lower() in MOVIE_SUFFIXES
