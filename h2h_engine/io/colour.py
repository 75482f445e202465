"""Colour conversions between plate encodings and the display-referred sRGB the networks see.

Plates arrive in many encodings (scene-linear, ACEScg, log, sRGB video). :func:`to_display` converts a
plate's float pixels into the networks' space (sRGB-encoded Rec.709, what the training frames were) and
:func:`from_display` converts results back, through OpenColorIO (its built-in studio config, or the config
named by ``$OCIO``) when the ``opencolorio`` package is installed, else through the built-in sRGB curve and
ACEScg/ACES2065-1 matrices (which cover ``srgb``, ``linear``, ``acescg`` and ``aces2065``).
"""
from __future__ import annotations

import functools
import os

import numpy as np

from ..errors import ConfigError

# Short names for the plate colour-space knob -> colour-space names in the OCIO studio config.
COLOURSPACES = {
    "srgb": "sRGB Encoded Rec.709 (sRGB)",   # display-referred video/PNG: what the networks see
    "linear": "Linear Rec.709 (sRGB)",       # scene-linear, sRGB/Rec.709 primaries (Nuke's default)
    "acescg": "ACEScg",                      # scene-linear, AP1 primaries
    "aces2065": "ACES2065-1",                # scene-linear, AP0 primaries (archival)
    "acescct": "ACEScct",                    # log, AP1
    "rec709": "Camera Rec.709",              # BT.709 camera OETF
    "logc3": "ARRI LogC3 (EI800)",
    "slog3": "S-Log3 S-Gamut3.Cine",
}
NETWORK_SPACE = "srgb"

# Linear AP1 / AP0 (ACES white) -> linear Rec.709 (D65), Bradford-adapted: as in the ACES/OCIO configs.
_TO_LINEAR_709 = {
    "acescg": np.array([[1.70505099, -0.62179212, -0.08325887],
                        [-0.13025642, 1.14080474, -0.01054832],
                        [-0.02400336, -0.12896898, 1.15297233]], np.float64),
    "aces2065": np.array([[2.52168619, -1.13413099, -0.38755520],
                          [-0.27647991, 1.37271909, -0.09623917],
                          [-0.01537806, -0.15297534, 1.16835340]], np.float64),
}


def to_display_uint8(image: np.ndarray, space: str = "auto") -> np.ndarray:
    """Any stored image ``(H, W, C)`` to display sRGB uint8 RGB ``(H, W, 3)``.

    ``space`` "auto": uint8/uint16 are taken as display-referred, float (EXR) as scene-linear sRGB
    primaries; any name in COLOURSPACES converts from that space (integers scaled to [0, 1] first).
    """
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    image = image[:, :, :3]
    if space != "auto":
        unit = image.astype(np.float32) / np.float32(np.iinfo(image.dtype).max) if image.dtype.kind == "u" else image
        if space != NETWORK_SPACE or image.dtype.kind != "u":
            return (np.clip(to_display(unit, space), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if image.dtype == np.uint8:
        return np.ascontiguousarray(image)
    if image.dtype == np.uint16:
        return (image.astype(np.uint32) * 255 // 65535).astype(np.uint8)
    return (np.clip(_srgb_encode_signed(image.astype(np.float32)), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _check_space(space: str) -> None:
    if space not in COLOURSPACES:
        raise ConfigError(f"colour space {space!r} is not one of {', '.join(COLOURSPACES)}")


@functools.lru_cache(maxsize=None)
def _ocio_processor(src: str, dst: str):  # noqa: ANN202 - PyOpenColorIO type only when installed
    import PyOpenColorIO as ocio  # noqa: PLC0415 - optional dependency

    path = os.environ.get("OCIO")
    config = ocio.Config.CreateFromFile(path) if path else ocio.Config.CreateFromBuiltinConfig(
        "studio-config-latest")
    names = {COLOURSPACES.get(n, n) for n in (src, dst)}
    missing = [n for n in names if config.getColorSpace(n) is None]
    if missing:
        raise ConfigError(f"OCIO config {path or 'studio-config-latest'} has no colour space {missing[0]!r}")
    return config.getProcessor(COLOURSPACES.get(src, src), COLOURSPACES.get(dst, dst)).getDefaultCPUProcessor()


def has_ocio() -> bool:
    """True when the ``opencolorio`` package is importable (conversions then go through OCIO)."""
    try:
        import PyOpenColorIO  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


def _builtin_to_linear(x: np.ndarray, space: str) -> np.ndarray:
    if space == "linear":
        return x
    if space == "srgb":
        return _srgb_decode_signed(x)
    if space in _TO_LINEAR_709:
        return (x.astype(np.float64) @ _TO_LINEAR_709[space].T).astype(np.float32)
    raise ConfigError(f"colour space {space!r} needs OpenColorIO (pip install opencolorio); the built-in "
                      f"fallback knows srgb, linear, acescg, aces2065")


def _builtin_from_linear(x: np.ndarray, space: str) -> np.ndarray:
    if space == "linear":
        return x
    if space == "srgb":
        return _srgb_encode_signed(x)
    if space in _TO_LINEAR_709:
        return (x.astype(np.float64) @ np.linalg.inv(_TO_LINEAR_709[space]).T).astype(np.float32)
    return _builtin_to_linear(x, space)  # raises the same message


def _srgb_encode_signed(x: np.ndarray) -> np.ndarray:
    # the linear toe extends below 0 (out-of-gamut values survive a round trip), as in OCIO's sRGB curve
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(np.maximum(x, 0.0031308), 1 / 2.4) - 0.055
                    ).astype(np.float32)


def _srgb_decode_signed(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.04045, x / 12.92, np.power((np.maximum(x, 0.04045) + 0.055) / 1.055, 2.4)
                    ).astype(np.float32)


def convert(image: np.ndarray, src: str, dst: str, impl: str = "auto") -> np.ndarray:
    """Convert float RGB pixels ``(..., 3)`` between colour spaces (short names in COLOURSPACES).

    ``impl``: "ocio" (OpenColorIO), "builtin" (sRGB curve + ACES matrices), or "auto" (OCIO when
    installed). Returns float32 ``(..., 3)``; values are not clamped.
    """
    _check_space(src)
    _check_space(dst)
    if image.shape[-1] != 3:
        raise ValueError(f"convert() takes (..., 3) RGB; got shape {image.shape}")
    out = np.array(image, dtype=np.float32, copy=True)
    if src == dst:
        return out
    if impl == "auto":
        impl = "ocio" if has_ocio() else "builtin"
    if impl == "ocio":
        flat = np.ascontiguousarray(out.reshape(-1, 3))
        _ocio_processor(src, dst).applyRGB(flat)
        return flat.reshape(out.shape)
    if impl != "builtin":
        raise ValueError(f"impl must be 'auto', 'ocio' or 'builtin'; got {impl!r}")
    return _builtin_from_linear(_builtin_to_linear(out, src), dst)


def to_display(image: np.ndarray, space: str, impl: str = "auto") -> np.ndarray:
    """Plate pixels ``(..., 3)`` in ``space`` -> the networks' display sRGB (float, about [0, 1])."""
    return convert(image, space, NETWORK_SPACE, impl)


def from_display(image: np.ndarray, space: str, impl: str = "auto") -> np.ndarray:
    """Inverse of :func:`to_display`: network output ``(..., 3)`` display sRGB -> the plate's ``space``."""
    return convert(image, NETWORK_SPACE, space, impl)
