"""Colour conversions between plate encodings and the display-referred sRGB the networks see."""
from __future__ import annotations

import numpy as np


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    """sRGB OETF (IEC 61966-2-1) on linear values; float in, float out, not clamped above 1."""
    x = np.asarray(x, dtype=np.float32)
    a = np.clip(x, 0.0, None)
    return np.where(a <= 0.0031308, 12.92 * a, 1.055 * np.power(a, 1.0 / 2.4) - 0.055).astype(np.float32)


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """Inverse of :func:`linear_to_srgb`."""
    x = np.asarray(x, dtype=np.float32)
    return np.where(x <= 0.04045, x / 12.92, np.power((np.clip(x, 0.0, None) + 0.055) / 1.055, 2.4)).astype(np.float32)


def to_display_uint8(image: np.ndarray) -> np.ndarray:
    """Any stored image ``(H, W, C)`` to display sRGB uint8 RGB ``(H, W, 3)``.

    uint8/uint16 are taken as display-referred; float (EXR) as scene-linear sRGB primaries.
    """
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    image = image[:, :, :3]
    if image.dtype == np.uint8:
        return np.ascontiguousarray(image)
    if image.dtype == np.uint16:
        return (image.astype(np.uint32) * 255 // 65535).astype(np.uint8)
    return (np.clip(linear_to_srgb(image), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
