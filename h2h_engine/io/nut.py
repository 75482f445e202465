"""Self-describing video on pipes: NUT (``ffmpeg ... -f nut -c:v rawvideo -pix_fmt rgb24 -``) through PyAV.

A NUT stream's header carries the pixel format, frame size and rate, so a reader never has to trust flags
that may not match the stream; each frame is one raw packet, checked against that header's byte count.
Frames are the same bytes :mod:`~h2h_engine.io.rawvideo` reads and writes (rgb24, rgb48le; ffmpeg's NUT
muxer has no tag for gbrpf32le and mislabels it, so float goes raw).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, BinaryIO, Iterator

import numpy as np

from ..errors import InputError
from ..optional import require
from .rawvideo import PIX_FMTS, decode_raw, frame_bytes

MAGIC = b"nut/multimedia container\x00"  # how every NUT stream starts
NUT_PIX_FMTS = ("rgb24", "rgb48le")  # the raw formats ffmpeg's NUT muxer tags unambiguously


@dataclass(frozen=True)
class StreamFormat:
    """What a piped video holds: ``container`` ("nut" or "raw"), ``size`` (W, H), ``pix_fmt`` and ``rate``
    (frames per second; None when a raw stream's flags did not say)."""

    container: str
    size: tuple[int, int]
    pix_fmt: str
    rate: float | None


class Prefixed:
    """A read-only byte stream that first replays ``head`` (bytes already read off ``stream`` to sniff it)."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self.head, self.stream = head, stream

    def read(self, n: int = -1) -> bytes:
        if not self.head:
            return self.stream.read(n)
        if n < 0:
            out, self.head = self.head + self.stream.read(), b""
            return out
        out, self.head = self.head[:n], self.head[n:]
        return out

    def readinto(self, buf: Any) -> int:
        if not self.head:
            return self.stream.readinto(buf)
        data = self.read(len(buf))
        buf[:len(data)] = data
        return len(data)


def sniff(stream: BinaryIO) -> tuple[bool, Prefixed]:
    """(whether ``stream`` is NUT, the stream with the sniffed bytes put back)."""
    head = stream.read(len(MAGIC))
    return head == MAGIC, Prefixed(head, stream)


def read_nut(stream: BinaryIO) -> tuple[StreamFormat, Iterator[np.ndarray]]:
    """The format of a NUT stream of raw video and its frames as float32 RGB (H, W, 3) (see
    :func:`~h2h_engine.io.rawvideo.decode_raw`); InputError for other codecs or formats and for a packet
    whose size is not the header's frame size."""
    av = require("av", "reading and writing NUT pipes")
    try:
        container = av.open(stream, format="nut")
    except av.FFmpegError as e:
        raise InputError(f"the piped NUT stream cannot be read ({e})") from None
    if not container.streams.video:
        raise InputError("the piped NUT stream holds no video")
    st = container.streams.video[0]
    cc = st.codec_context
    fmt = cc.format.name if cc.format is not None else "unknown"
    if cc.name != "rawvideo" or fmt not in NUT_PIX_FMTS:
        raise InputError(f"the piped NUT stream holds {cc.name} {fmt}; send raw rgb24 or rgb48le "
                         "(ffmpeg ... -f nut -c:v rawvideo -pix_fmt rgb48le -), or float raw with --pix-fmt gbrpf32le")
    rate = st.average_rate or st.guessed_rate
    info = StreamFormat("nut", (cc.width, cc.height), fmt, float(rate) if rate else None)
    n = frame_bytes(info.size, fmt)

    def frames() -> Iterator[np.ndarray]:
        try:
            for i, packet in enumerate(p for p in container.demux(st) if p.size):
                if packet.size != n:
                    raise InputError(f"NUT frame {i} holds {packet.size} bytes, not the {n} of a "
                                     f"{info.size[0]}x{info.size[1]} {fmt} frame its header declares")
                yield decode_raw(bytes(packet), info.size, fmt)
        finally:
            container.close()

    return info, frames()


class NutWriter:
    """Raw frames (bytes of ``info``'s size and format) muxed into NUT on ``out``, numbered from 0."""

    def __init__(self, out: BinaryIO, info: StreamFormat) -> None:
        av = require("av", "reading and writing NUT pipes")
        if info.pix_fmt not in PIX_FMTS or info.rate is None:
            raise ValueError(f"NutWriter needs a raw pixel format and a rate; got {info}")
        self.av, self.out = av, out
        self.container = av.open(out, "w", format="nut")
        self.rate = Fraction(info.rate).limit_denominator(1001000)
        self.stream = self.container.add_stream("rawvideo", rate=self.rate)
        self.stream.width, self.stream.height = info.size
        self.stream.pix_fmt = info.pix_fmt
        self.count = 0

    def write(self, data: bytes) -> None:
        packet = self.av.Packet(data)
        packet.stream = self.stream
        packet.pts = packet.dts = self.count
        packet.time_base = 1 / self.rate
        self.container.mux(packet)
        self.count += 1

    def close(self) -> None:
        self.container.close()
        self.out.flush()
