"""Raw video frames on pipes (ffmpeg ``-f rawvideo``): packed rgb24/rgb48le and planar float gbrpf32le."""
from __future__ import annotations

from typing import BinaryIO, Iterator

import numpy as np

from ..errors import InputError

# pix_fmt -> (sample dtype, planar, channel order in the buffer)
PIX_FMTS: dict[str, tuple[str, bool, str]] = {
    "rgb24": ("u1", False, "RGB"),
    "rgb48le": ("<u2", False, "RGB"),
    "gbrpf32le": ("<f4", True, "GBR"),
}


def _check(pix_fmt: str) -> tuple[np.dtype, bool, str]:
    if pix_fmt not in PIX_FMTS:
        raise InputError(f"pixel format {pix_fmt!r} is not one of {', '.join(PIX_FMTS)}")
    dt, planar, order = PIX_FMTS[pix_fmt]
    return np.dtype(dt), planar, order


def frame_bytes(size: tuple[int, int], pix_fmt: str) -> int:
    """Bytes of one ``size`` = (W, H) frame in ``pix_fmt``."""
    dt, _, _ = _check(pix_fmt)
    return size[0] * size[1] * 3 * dt.itemsize


def decode_raw(buf: bytes | memoryview, size: tuple[int, int], pix_fmt: str) -> np.ndarray:
    """One raw frame -> float32 RGB ``(H, W, 3)`` (integers scaled to [0, 1], floats as they are)."""
    dt, planar, order = _check(pix_fmt)
    w, h = size
    a = np.frombuffer(buf, dtype=dt, count=w * h * 3)
    if planar:  # G, B, R planes
        a = a.reshape(3, h, w)
        rgb = np.stack([a[order.index(c)] for c in "RGB"], axis=-1)
    else:
        rgb = a.reshape(h, w, 3)
    if dt.kind == "u":
        return rgb.astype(np.float32) / np.float32(np.iinfo(dt).max)
    return rgb.astype(np.float32)


def encode_raw(rgb: np.ndarray, pix_fmt: str) -> bytes:
    """Float RGB ``(H, W, 3)`` -> one raw frame (integers rounded and clipped; floats kept, incl. >1)."""
    dt, planar, order = _check(pix_fmt)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"encode_raw() takes (H, W, 3) RGB; got shape {rgb.shape}")
    if dt.kind == "u":
        top = np.iinfo(dt).max
        a = (np.clip(rgb, 0.0, 1.0) * top + 0.5).astype(dt)
    else:
        a = rgb.astype(dt)
    if planar:
        a = np.stack([a[:, :, "RGB".index(c)] for c in order], axis=0)
    return np.ascontiguousarray(a).tobytes()


def read_raw_frames(stream: BinaryIO, size: tuple[int, int], pix_fmt: str) -> Iterator[np.ndarray]:
    """Frames from a byte stream until it ends; a partial last frame is an error (wrong size/format)."""
    n = frame_bytes(size, pix_fmt)
    buf = bytearray(n)
    view = memoryview(buf)
    count = 0
    while True:
        got = 0
        while got < n:
            k = stream.readinto(view[got:])
            if not k:
                break
            got += k
        if got == 0:
            return
        if got < n:
            raise InputError(f"input ended inside frame {count}: {got} of {n} bytes; --size "
                             f"{size[0]}x{size[1]} and --pix-fmt {pix_fmt} must match the piped video")
        yield decode_raw(buf, size, pix_fmt)
        count += 1
