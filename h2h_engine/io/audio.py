"""Audio carried into movie outputs: a source clip's sound from a start time, trimmed to the picture.

Dubbing: the reenacted shot should play the driving (source) performance's audio, in sync with the frames
the retarget took from the source. :class:`AudioSpec` names the clip and the time in it that lines up with
the first output frame; :class:`~h2h_engine.io.writer.FrameWriter` muxes it when it closes a movie.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import InputError
from ..optional import require

if TYPE_CHECKING:
    import av

# Audio codec by movie container suffix (what plays everywhere in that container).
AUDIO_CODECS = {".mp4": "aac", ".mov": "pcm_s16le", ".mkv": "flac", ".avi": "pcm_s16le"}
AUDIO_CHOICES = ("source", "target", "none")


@dataclass(frozen=True)
class AudioSpec:
    """Audio of ``path`` starting at ``start_seconds`` (negative: that much silence first)."""

    path: str
    start_seconds: float = 0.0


def has_audio(path: str | Path) -> bool:
    """True if ``path`` is a movie with at least one audio stream."""
    av = require("av", "reading audio")
    try:
        with av.open(str(path)) as c:
            return bool(c.streams.audio)
    except (av.error.FFmpegError, OSError):
        return False


def audio_for(choice: str, source: str | Path | None, target: str | Path | None, source_frame: int,
              target_frame: int, source_fps: float, target_fps: float) -> AudioSpec | None:
    """The audio a movie output should carry for the ``audio`` knob (``source``, ``target`` or ``none``).

    ``source_frame``/``target_frame`` are the source and target frames shown at the first output frame
    (the retarget's frame offset); None when the chosen clip is not a movie with sound.
    """
    if choice not in AUDIO_CHOICES:
        raise InputError(f"audio must be one of {', '.join(AUDIO_CHOICES)}; got {choice!r}")
    if choice == "none":
        return None
    path, frame, fps = (source, source_frame, source_fps) if choice == "source" else (target, target_frame, target_fps)
    if path is None or not has_audio(path):
        return None
    return AudioSpec(str(path), frame / fps)


def read_audio(spec: AudioSpec, seconds: float) -> tuple[np.ndarray, int, str]:
    """Decode ``seconds`` of audio from ``spec``: ``(channels, samples)`` float32, sample rate, layout.

    Sample-exact: starts at ``spec.start_seconds`` (silence where it falls before the clip starts) and
    pads with silence where the clip ends early.
    """
    av = require("av", "reading audio")
    try:
        container = av.open(spec.path)
    except (av.error.FFmpegError, OSError) as e:
        raise InputError(f"cannot read audio from {spec.path}: {e}") from None
    with container:
        if not container.streams.audio:
            raise InputError(f"{spec.path} has no audio stream")
        stream = container.streams.audio[0]
        rate, layout = stream.rate, stream.layout.name
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        first = int(round(spec.start_seconds * rate))  # sample index in the clip of output sample 0
        n = int(round(seconds * rate))
        out = np.zeros((stream.layout.nb_channels, n), np.float32)
        start0 = None
        pos = 0
        for frame in container.decode(stream):
            for f in resampler.resample(frame):
                arr = f.to_ndarray()  # (channels, samples)
                if start0 is None:  # clip time of the first decoded sample
                    start0 = int(round((frame.time or 0.0) * rate))
                    pos = start0
                lo, hi = pos - first, pos - first + arr.shape[1]
                pos += arr.shape[1]
                a, b = max(lo, 0), min(hi, n)
                if a < b:
                    out[:, a:b] = arr[:, a - lo:b - lo]
                if hi >= n:
                    return out, rate, layout
    return out, rate, layout


def add_audio_stream(container: av.container.OutputContainer, suffix: str,
                     spec: AudioSpec) -> av.audio.stream.AudioStream:
    """Add an audio stream matching ``spec``'s clip (rate, channel layout) to a new movie container."""
    av = require("av", "writing audio")
    try:
        with av.open(spec.path) as c:
            if not c.streams.audio:
                raise InputError(f"{spec.path} has no audio stream to carry into the output")
            rate, layout = c.streams.audio[0].rate, c.streams.audio[0].layout.name
    except av.error.FFmpegError as e:
        raise InputError(f"cannot read audio from {spec.path}: {e}") from None
    stream = container.add_stream(AUDIO_CODECS[suffix], rate=rate)
    stream.layout = layout
    return stream


def mux_audio(container: av.container.OutputContainer, stream: av.audio.stream.AudioStream,
              samples: np.ndarray, rate: int, layout: str) -> None:
    """Encode ``(channels, samples)`` float32 into ``stream`` of an open output container."""
    av = require("av", "writing audio")
    fmt = stream.codec_context.format.name
    frame_size = stream.codec_context.frame_size or 1024
    resampler = av.AudioResampler(format=fmt, layout=layout, rate=rate)
    for i in range(0, samples.shape[1], frame_size):
        chunk = np.ascontiguousarray(samples[:, i:i + frame_size])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
        frame.sample_rate = rate
        frame.pts = i
        frame.time_base = Fraction(1, rate)
        for f in resampler.resample(frame):
            for packet in stream.encode(f):
                container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)
