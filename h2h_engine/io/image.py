"""Single images through OpenImageIO (EXR half/float, PNG 8/16-bit, JPEG, TIFF...).

Where OpenImageIO is not installed, PNG and JPEG pixels (no metadata) go through OpenCV instead, so
8/16-bit sequences still read and write (e.g. prepared data on a GPU machine without OpenImageIO).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..optional import available, require
from .atomic import atomic_path


# Header fields that describe the file itself rather than the picture: never copied to another file.
_FILE_ATTRIBUTES = ("oiio:", "DateTime", "openexr:lineOrder", "openexr:chunkCount", "tiff:", "png:")

_FORMATS = ("half", "float", "uint8", "uint16")  # OpenImageIO's type names
_CV2_SUFFIXES = (".png", ".jpg", ".jpeg")  # what OpenCV reads and writes when OpenImageIO is missing


Window = tuple[int, int, int, int]  # (x, y, width, height) in pixels, y down, as OpenImageIO's ImageSpec


@dataclass
class ImageMeta:
    """What a file holds besides its pixels: channel names, per-channel sample types and header metadata.

    ``attributes`` maps a header field to ``(oiio type, value)``, e.g. ``"smpte:TimeCode": ("timecode",
    (16777216, 0))``, ``"PixelAspectRatio": ("float", 2.0)``, ``"framesPerSecond": ("rational", (25, 1))``,
    so it writes back with the same type (see :func:`write_image`).
    """

    channels: tuple[str, ...]
    channel_formats: tuple[str, ...]
    attributes: dict[str, tuple[str, Any]] = field(default_factory=dict)
    data_window: Window | None = None     # where the stored pixels lie (EXR dataWindow); None: = display window
    display_window: Window | None = None  # the picture's frame (EXR displayWindow)


def _windows(spec: Any) -> tuple[Window, Window]:
    """(data window, display window) of an OpenImageIO ImageSpec."""
    return (spec.x, spec.y, spec.width, spec.height), (spec.full_x, spec.full_y, spec.full_width, spec.full_height)


def place(pixels: np.ndarray, data_window: Window, window: Window, fill: np.ndarray | None = None) -> np.ndarray:
    """``pixels`` ``(h, w, C)`` lying at ``data_window`` re-framed to ``window`` ``(H, W, C)``: the part outside
    ``window`` is cut, and what ``pixels`` does not cover is ``fill`` (an array of the result's shape) or 0.

    Example: a bbox-cropped plate (data window inside the display window) to its display window, or a
    display-window result back onto an overscan plate's larger data window.
    """
    x0, y0, w0, h0 = data_window
    x1, y1, w1, h1 = window
    out = np.zeros((h1, w1, pixels.shape[2]), pixels.dtype) if fill is None else fill.astype(pixels.dtype, copy=True)
    ax, ay, bx, by = max(x0, x1), max(y0, y1), min(x0 + w0, x1 + w1), min(y0 + h0, y1 + h1)
    if ax < bx and ay < by:
        out[ay - y1:by - y1, ax - x1:bx - x1] = pixels[ay - y0:by - y0, ax - x0:bx - x0]
    return out


def _format_name(t: Any) -> str:
    return {"half": "half", "float": "float", "uint8": "uint8", "uint16": "uint16"}.get(str(t), "float")


def read_image(path: str | Path, with_meta: bool = False, window: str = "data"
               ) -> np.ndarray | tuple[np.ndarray, ImageMeta]:
    """Read an image as stored: ``(H, W, C)`` uint8/uint16/float16/float32 (mixed-type EXRs as float32).

    ``window`` "data": the stored pixels (the EXR data window); "display": the picture's display window, what
    a compositor shows (a bbox-cropped plate padded with 0, an overscan plate cut to its frame).

    With ``with_meta`` returns ``(pixels, ImageMeta)``: channel names, per-channel types and the header
    (timecode, frame rate, pixel aspect, custom attributes) so they can be written back unchanged.
    Raises InputError for a missing or unreadable file and for NaN/Inf pixels in float images.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"image {path} does not exist")
    if _use_cv2(path):  # PNG/JPEG without OpenImageIO: no header fields, no windows
        pixels = _cv2_read(path)
        if not with_meta:
            return pixels
        n = pixels.shape[2]
        names = ("R", "G", "B", "A")[:n] if n in (3, 4) else tuple(f"channel{i}" for i in range(n))
        return pixels, ImageMeta(names, (str(pixels.dtype),) * n)
    oiio = require("OpenImageIO", f"reading {path.name}")
    config = oiio.ImageSpec()
    config.attribute("oiio:UnassociatedAlpha", 1)  # as stored: PNG colours are not multiplied by their alpha
    inp = oiio.ImageInput.open(str(path), config)
    if inp is None:
        raise InputError(f"cannot read image {path}: {oiio.geterror()}")
    try:
        spec = inp.spec()
        pixels = inp.read_image(0, 0, 0, spec.nchannels, spec.format)  # format given explicitly: see NOTES
        meta = _meta_of(spec) if with_meta else None
        data_window, display_window = _windows(spec)
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
    if window == "display" and data_window != display_window:
        pixels = place(pixels, data_window, display_window)
    elif window not in ("data", "display"):
        raise ValueError(f"window must be 'data' or 'display'; got {window!r}")
    return (pixels, meta) if meta is not None else pixels


def read_stamp(path: str | Path) -> str:
    """The ``h2h:stamp`` header field of an image ("" when absent or unreadable, or without OpenImageIO);
    reads the header only."""
    try:
        import OpenImageIO as oiio  # noqa: PLC0415 - optional dependency
    except ImportError:
        return ""
    inp = oiio.ImageInput.open(str(path))
    if inp is None:
        return ""
    try:
        return inp.spec().get_string_attribute("h2h:stamp")
    finally:
        inp.close()


def reads_completely(path: str | Path) -> bool:
    """True when every pixel of the image decodes (a frame cut short by a crash or a full disk does not)."""
    path = Path(path)
    if _use_cv2(path):
        try:
            _cv2_read(path)
            return True
        except InputError:
            return False
    oiio = require("OpenImageIO", f"reading {path.name}")
    inp = oiio.ImageInput.open(str(path))
    if inp is None:
        return False
    try:
        spec = inp.spec()
        return inp.read_image(0, 0, 0, spec.nchannels, spec.format) is not None
    finally:
        inp.close()


def _meta_of(spec: Any) -> ImageMeta:
    formats = tuple(_format_name(f) for f in spec.channelformats) or (_format_name(spec.format),) * spec.nchannels
    attrs = {a.name: (str(a.type), a.value) for a in spec.extra_attribs
             if not a.name.startswith(_FILE_ATTRIBUTES)}
    return ImageMeta(tuple(spec.channelnames), formats, attrs, *_windows(spec))


def _use_cv2(path: Path) -> bool:
    return path.suffix.lower() in _CV2_SUFFIXES and not available("OpenImageIO")


def _cv2_read(path: Path) -> np.ndarray:
    """(H, W, C) uint8/uint16 pixels of a PNG/JPEG through OpenCV (RGB(A) order, as OpenImageIO gives)."""
    import cv2  # noqa: PLC0415 - only without OpenImageIO

    pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if pixels is None:
        raise InputError(f"cannot decode image {path}")
    if pixels.ndim == 2:
        return pixels[:, :, None]
    return np.ascontiguousarray(cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB if pixels.shape[2] == 3 else cv2.COLOR_BGRA2RGBA))


def _cv2_write(path: Path, pixels: np.ndarray) -> None:
    """Write (H, W, 1|3|4) uint8 (PNG, JPEG) or uint16 (PNG) pixels through OpenCV, atomically."""
    import cv2  # noqa: PLC0415 - only without OpenImageIO

    if pixels.dtype != np.uint8 and not (pixels.dtype == np.uint16 and path.suffix.lower() == ".png"):
        raise InputError(f"writing {pixels.dtype} pixels to {path.name} needs OpenImageIO (pip install openimageio)")
    c = pixels.shape[2]
    bgr = pixels[:, :, 0] if c == 1 else cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR if c == 3 else cv2.COLOR_RGBA2BGRA)
    with atomic_path(path) as tmp:
        ok, data = cv2.imencode(path.suffix.lower(), bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
        if not ok:
            raise InputError(f"cannot encode {path}")
        Path(tmp).write_bytes(data.tobytes())


def _set_attribute(spec: Any, name: str, value: Any) -> None:
    import OpenImageIO as oiio  # noqa: PLC0415 - write_image has required it

    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        typ, v = value
        if typ in ("string", "int", "float"):
            spec.attribute(name, v)
        else:
            spec.attribute(name, oiio.TypeDesc(typ), list(v) if isinstance(v, tuple) else v)
    else:
        spec.attribute(name, value)


def write_image(path: str | Path, pixels: np.ndarray, channel_names: list[str] | None = None,
                attributes: dict | None = None, dtype: str | None = None,
                channel_formats: list[str] | None = None, data_window: Window | None = None,
                display_window: Window | None = None) -> None:
    """Write ``(H, W, C)`` pixels atomically. ``dtype`` ("half", "float", "uint8", "uint16") defaults to the
    array's own type (float32 -> half for EXR). ``attributes`` become metadata (EXR header fields): plain
    values, or ``(oiio type, value)`` pairs as :class:`ImageMeta` holds them. ``channel_formats`` gives
    one type per channel (EXR), e.g. half RGB beside a float depth channel. ``data_window`` (its size must be
    the pixels') and ``display_window`` place the pixels in the picture (EXR; default: both the pixels' own
    ``(0, 0, W, H)``), so bbox-cropped and overscan plates keep their geometry."""
    path = Path(path)
    pixels = np.ascontiguousarray(pixels)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    h, w, c = pixels.shape
    if h == 0 or w == 0:
        raise InputError(f"refusing to write an empty {w}x{h} image to {path}")
    if data_window is not None and tuple(data_window[2:]) != (w, h):
        raise InputError(f"{path}: data window {data_window} does not fit {w}x{h} pixels")
    if _use_cv2(path) and not (channel_names or attributes or channel_formats or dtype or data_window
                               or display_window):
        _cv2_write(path, pixels)
        return
    oiio = require("OpenImageIO", f"writing {path.name}" + (" with metadata" if attributes else ""))
    fmt = {name: getattr(oiio, name.upper()) for name in _FORMATS}
    if dtype is None:
        dtype = {"u1": "uint8", "u2": "uint16", "f2": "half"}.get(pixels.dtype.str[1:],
                                                                 "half" if path.suffix.lower() == ".exr" else "float")
    spec = oiio.ImageSpec(w, h, c, fmt[dtype])
    if channel_names:
        if len(channel_names) != c:
            raise InputError(f"{path}: {len(channel_names)} channel names for {c} channels")
        spec.channelnames = tuple(channel_names)
    if channel_formats:
        spec.channelformats = tuple(fmt[f] for f in channel_formats)
    if data_window is not None:
        spec.x, spec.y = data_window[:2]
    if display_window is not None or data_window is not None:
        spec.full_x, spec.full_y, spec.full_width, spec.full_height = display_window or (0, 0, w, h)
    for k, v in (attributes or {}).items():
        _set_attribute(spec, k, v)
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
