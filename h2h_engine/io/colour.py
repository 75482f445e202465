"""Colour conversions between plate encodings and the display-referred sRGB the networks see, through OCIO.

The active OpenColorIO config is the file (or ``ocio://`` URI) named by ``$OCIO`` when it is set, else
OpenColorIO's built-in ACES studio config (``ocio://studio-config-latest``), as in Nuke, Houdini or Maya. A
plate's colour space is any colour-space name, alias or role of that config (``ACEScg``, ``lin_ap1``,
``scene_linear``, a show's own ``plate_log``...); :func:`resolve` checks a name and says which of the config's
names are near a misspelt one. Defaults are roles, never hard-coded names: "auto" is the config's
``scene_linear`` role for float files (EXR) and the networks' space for integer files (PNG, video), and the
networks' space is the ``color_picking`` role (sRGB-encoded Rec.709 in the studio config, what the training
frames were). The short names of :data:`SHORTHANDS` (``srgb``, ``linear``, ``acescg``...) still work where the
config has no colour space of that name, so saved scripts keep working.

:func:`convert` goes through OCIO; ``impl="builtin"`` (the sRGB curve and the ACEScg/ACES2065-1 matrices, for
``srgb``, ``linear``, ``acescg`` and ``aces2065``) is kept only as the reference the tests compare OCIO with.
"""
from __future__ import annotations

import difflib
import functools
import os
from typing import Any

import numpy as np

from ..errors import ConfigError, MissingPackageError

BUILTIN_CONFIG = "ocio://studio-config-latest"
NETWORK_ROLE = "color_picking"  # what the networks see: sRGB-encoded Rec.709 in the studio config
LINEAR_ROLE = "scene_linear"    # "auto" for float (EXR) plates

# Short names of earlier versions -> colour spaces of the studio config (used when the active config has no
# colour space, alias or role of that name).
SHORTHANDS = {
    "srgb": "sRGB Encoded Rec.709 (sRGB)",   # display-referred video/PNG: what the networks see
    "linear": "Linear Rec.709 (sRGB)",       # scene-linear, sRGB/Rec.709 primaries (Nuke's default)
    "acescg": "ACEScg",                      # scene-linear, AP1 primaries
    "aces2065": "ACES2065-1",                # scene-linear, AP0 primaries (archival)
    "acescct": "ACEScct",                    # log, AP1
    "rec709": "Camera Rec.709",              # BT.709 camera OETF
    "logc3": "ARRI LogC3 (EI800)",
    "slog3": "S-Log3 S-Gamut3.Cine",
}

# Linear AP1 / AP0 (ACES white) -> linear Rec.709 (D65), Bradford-adapted: as in the ACES/OCIO configs.
_TO_LINEAR_709 = {
    "ACEScg": np.array([[1.70505099, -0.62179212, -0.08325887],
                        [-0.13025642, 1.14080474, -0.01054832],
                        [-0.02400336, -0.12896898, 1.15297233]], np.float64),
    "ACES2065-1": np.array([[2.52168619, -1.13413099, -0.38755520],
                            [-0.27647991, 1.37271909, -0.09623917],
                            [-0.01537806, -0.15297534, 1.16835340]], np.float64),
}
_BUILTIN_SRGB, _BUILTIN_LINEAR = SHORTHANDS["srgb"], SHORTHANDS["linear"]


def _ocio() -> Any:  # noqa: ANN401 - the PyOpenColorIO module
    try:
        import PyOpenColorIO  # noqa: PLC0415 - a declared dependency, imported where colour is converted
    except ImportError:
        raise MissingPackageError("colour conversion needs the Python package 'opencolorio', which is not "
                                  "installed here (pip install opencolorio)") from None
    return PyOpenColorIO


def config_source() -> str:
    """What the active config is read from: ``$OCIO`` (a file or ``ocio://`` URI), else the built-in one."""
    return os.environ.get("OCIO") or BUILTIN_CONFIG


@functools.lru_cache(maxsize=8)
def _config(source: str) -> Any:  # noqa: ANN401 - PyOpenColorIO.Config
    ocio = _ocio()
    try:
        return ocio.Config.CreateFromFile(source)
    except ocio.Exception as e:
        raise ConfigError(f"cannot load the OCIO config {source} ($OCIO): {str(e).splitlines()[0]}") from None


def active_config() -> Any:  # noqa: ANN401 - PyOpenColorIO.Config
    """The active OCIO config (see the module docstring), loaded once per ``$OCIO`` value."""
    return _config(config_source())


def known_names(config: Any = None) -> list[str]:  # noqa: ANN401
    """Every name a colour-space knob accepts in ``config`` (default: the active one): colour spaces,
    their aliases and the roles."""
    config = config or active_config()
    names = list(config.getRoleNames())
    for cs in config.getColorSpaces():
        names += [cs.getName(), *cs.getAliases()]
    return names


def resolve(space: str, is_float: bool = True) -> str:
    """The active config's colour-space name for a knob value: a name, alias or role of the config, a
    :data:`SHORTHANDS` name, or "auto" (``scene_linear`` for float pixels, the networks' space otherwise).
    Raises ConfigError naming the config and the names closest to an unknown ``space``."""
    config = active_config()
    name = (LINEAR_ROLE if is_float else NETWORK_ROLE) if space == "auto" else space
    cs = config.getColorSpace(name)
    if cs is None and name in SHORTHANDS:
        cs = config.getColorSpace(SHORTHANDS[name])
    if cs is None:
        if space == "auto" or name == NETWORK_ROLE:
            raise ConfigError(f"the OCIO config {config_source()} defines no {name!r} role; add it to the config "
                              "or name the plate's colour space explicitly")
        near = difflib.get_close_matches(space, known_names(config), n=5, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(n) for n in near)}?" if near else \
            " (run `ociocheck` or list the config's colour spaces)"
        raise ConfigError(f"colour space {space!r} is not in the OCIO config {config_source()}{hint}")
    return cs.getName()


def network_space() -> str:
    """The colour space the networks see: the active config's ``color_picking`` role."""
    return resolve(NETWORK_ROLE)


def check_space(space: str) -> None:
    """ConfigError unless ``space`` is "auto" or resolves in the active config (see :func:`resolve`)."""
    if space != "auto":
        resolve(space)
    network_space()


@functools.lru_cache(maxsize=None)
def _processor(source: str, src: str, dst: str) -> Any:  # noqa: ANN401 - PyOpenColorIO.CPUProcessor
    return _config(source).getProcessor(src, dst).getDefaultCPUProcessor()


def to_display_uint8(image: np.ndarray, space: str = "auto") -> np.ndarray:
    """Any stored image ``(H, W, C)`` to the networks' display sRGB, uint8 RGB ``(H, W, 3)``.

    Integer samples are scaled to [0, 1] first; ``space`` "auto" takes integer files as already in the
    networks' space and float files (EXR) as the config's ``scene_linear``.
    """
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    image = image[:, :, :3]
    integer = image.dtype.kind == "u"
    if integer and (space == "auto" or resolve(space, False) == network_space()):
        if image.dtype == np.uint8:
            return np.ascontiguousarray(image)
        if image.dtype == np.uint16:
            return (image.astype(np.uint32) * 255 // 65535).astype(np.uint8)
    unit = image.astype(np.float32) / np.float32(np.iinfo(image.dtype).max) if integer else image
    return (np.clip(to_display(unit, resolve(space, not integer)), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _builtin_name(space: str) -> str:
    name = SHORTHANDS.get(space, space)
    if name not in (_BUILTIN_SRGB, _BUILTIN_LINEAR, *_TO_LINEAR_709):
        raise ConfigError(f"the built-in reference knows srgb, linear, acescg and aces2065 only; got {space!r}")
    return name


def _builtin_to_linear(x: np.ndarray, name: str) -> np.ndarray:
    if name == _BUILTIN_SRGB:
        return _srgb_decode_signed(x)
    if name in _TO_LINEAR_709:
        return (x.astype(np.float64) @ _TO_LINEAR_709[name].T).astype(np.float32)
    return x


def _builtin_from_linear(x: np.ndarray, name: str) -> np.ndarray:
    if name == _BUILTIN_SRGB:
        return _srgb_encode_signed(x)
    if name in _TO_LINEAR_709:
        return (x.astype(np.float64) @ np.linalg.inv(_TO_LINEAR_709[name]).T).astype(np.float32)
    return x


def _srgb_encode_signed(x: np.ndarray) -> np.ndarray:
    # the linear toe extends below 0 (out-of-gamut values survive a round trip), as in OCIO's sRGB curve
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(np.maximum(x, 0.0031308), 1 / 2.4) - 0.055
                    ).astype(np.float32)


def _srgb_decode_signed(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.04045, x / 12.92, np.power((np.maximum(x, 0.04045) + 0.055) / 1.055, 2.4)
                    ).astype(np.float32)


def convert(image: np.ndarray, src: str, dst: str, impl: str = "ocio") -> np.ndarray:
    """Convert float RGB pixels ``(..., 3)`` from colour space ``src`` to ``dst`` (names, aliases or roles
    of the active config, or :data:`SHORTHANDS`; "auto" is ``scene_linear``).

    ``impl``: "ocio" (the active config), or "builtin" (the sRGB curve and ACES matrices: the tests'
    reference, for srgb/linear/acescg/aces2065 only). Returns float32 ``(..., 3)``; values are not clamped.
    """
    if impl not in ("ocio", "builtin"):
        raise ValueError(f"impl must be 'ocio' or 'builtin'; got {impl!r}")
    if image.shape[-1] != 3:
        raise ValueError(f"convert() takes (..., 3) RGB; got shape {image.shape}")
    out = np.array(image, dtype=np.float32, copy=True)
    if impl == "builtin":
        a, b = _builtin_name(src), _builtin_name(dst)
        return out if a == b else _builtin_from_linear(_builtin_to_linear(out, a), b)
    a, b = resolve(src), resolve(dst)
    if a == b:
        return out
    flat = np.ascontiguousarray(out.reshape(-1, 3))
    _processor(config_source(), a, b).applyRGB(flat)
    return flat.reshape(out.shape)


def to_display(image: np.ndarray, space: str, impl: str = "ocio") -> np.ndarray:
    """Plate pixels ``(..., 3)`` in ``space`` -> the networks' display sRGB (float, about [0, 1])."""
    return convert(image, space, NETWORK_ROLE if impl == "ocio" else "srgb", impl)


def from_display(image: np.ndarray, space: str, impl: str = "ocio") -> np.ndarray:
    """Inverse of :func:`to_display`: network output ``(..., 3)`` display sRGB -> the plate's ``space``."""
    return convert(image, NETWORK_ROLE if impl == "ocio" else "srgb", space, impl)
