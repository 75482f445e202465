"""Single images through OpenImageIO (EXR half/float, PNG 8/16-bit, JPEG, TIFF...)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import OpenImageIO as oiio

from ..errors import InputError
from .atomic import atomic_path


def read_image(path: str | Path) -> np.ndarray:
    """Read an image as stored: ``(H, W, C)`` uint8/uint16/float16/float32.

    Raises InputError for a missing or unreadable file and for NaN/Inf pixels in float images.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"image {path} does not exist")
    inp = oiio.ImageInput.open(str(path))
    if inp is None:
        raise InputError(f"cannot read image {path}: {oiio.geterror()}")
    try:
        spec = inp.spec()
        pixels = inp.read_image(0, 0, 0, spec.nchannels, spec.format)  # format given explicitly: see NOTES
    finally:
        inp.close()
    if pixels is None:
        raise InputError(f"cannot decode image {path}: {oiio.geterror()}")
    pixels = np.asarray(pixels)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.dtype.kind == "f" and not np.isfinite(pixels).all():
        bad = int((~np.isfinite(pixels)).any(axis=-1).sum())
        raise InputError(f"image {path} has {bad} pixels with NaN/Inf values; fix or clamp the plate first")
    return pixels


def write_image(path: str | Path, pixels: np.ndarray, channel_names: list[str] | None = None,
                attributes: dict | None = None, dtype: str | None = None) -> None:
    """Write ``(H, W, C)`` pixels atomically. ``dtype`` ("half", "float", "uint8", "uint16") defaults to the
    array's own type (float32 -> half for EXR). ``attributes`` become metadata (EXR header fields)."""
    path = Path(path)
    pixels = np.ascontiguousarray(pixels)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    h, w, c = pixels.shape
    if h == 0 or w == 0:
        raise InputError(f"refusing to write an empty {w}x{h} image to {path}")
    fmt = {"half": oiio.HALF, "float": oiio.FLOAT, "uint8": oiio.UINT8, "uint16": oiio.UINT16}
    if dtype is None:
        dtype = {"u1": "uint8", "u2": "uint16", "f2": "half"}.get(pixels.dtype.str[1:],
                                                                 "half" if path.suffix.lower() == ".exr" else "float")
    spec = oiio.ImageSpec(w, h, c, fmt[dtype])
    if channel_names:
        spec.channelnames = tuple(channel_names)
    for k, v in (attributes or {}).items():
        spec.attribute(k, v)
    with atomic_path(path) as tmp:
        out = oiio.ImageOutput.create(str(tmp))
        if out is None:
            raise InputError(f"no image writer for {path.suffix!r}: {oiio.geterror()}")
        if not out.open(str(tmp), spec):
            raise InputError(f"cannot write {path}: {out.geterror()}")
        ok = out.write_image(pixels)
        out.close()
        if not ok:
            raise InputError(f"cannot write {path}: {out.geterror()}")
