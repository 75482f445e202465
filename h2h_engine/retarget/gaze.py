"""Gaze transfer: pupils expressed in the per-eye frame of :func:`h2h_engine.geometry.eye_frames` (spanned by
the eye corners and the lid opening):

- ``alpha`` = position along the corner-to-corner ``x`` axis in eye widths (-0.5 at landmark 36/42, +0.5 at
  39/45);
- ``beta`` = position along ``y`` relative to the middle of the lids, in units of the lid opening (-0.5 on the
  upper lid, +0.5 on the lower; the opening is floored at ``geometry.MIN_OPENING`` eye widths).

The map is affine per eye and frame, so ``eye_coords_to_pupils(lm, pupils_to_eye_coords(lm, p)) == p``.
"""
from __future__ import annotations

import numpy as np

from ..geometry import eye_frames


def pupils_to_eye_coords(landmarks: np.ndarray, pupils: np.ndarray) -> np.ndarray:
    """Pupils in eye coordinates.

    Args:
        landmarks: (T, 68, 2) pixels.
        pupils: (T, 2, 2) pixels, subject's right eye first.
    Returns:
        (T, 2, 2) float64 (alpha, beta) per eye, see the module docstring.
    """
    origin, ex, ey, width, lid = eye_frames(landmarks)
    d = np.asarray(pupils, np.float64) - origin
    alpha = np.einsum("tek,tek->te", d, ex) / width
    beta = (np.einsum("tek,tek->te", d, ey) - lid[..., 0]) / lid[..., 1]
    return np.stack([alpha, beta], axis=-1)


def eye_coords_to_pupils(landmarks: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """Pupil pixels from eye coordinates (the inverse of :func:`pupils_to_eye_coords`).

    Args:
        landmarks: (T, 68, 2) pixels of the eyes to place the pupils in.
        coords: (T, 2, 2) (alpha, beta) per eye.
    Returns:
        (T, 2, 2) float32 pupil pixels.
    """
    origin, ex, ey, width, lid = eye_frames(landmarks)
    c = np.asarray(coords, np.float64)
    along = (c[..., 0] * width)[..., None] * ex
    across = (lid[..., 0] + c[..., 1] * lid[..., 1])[..., None] * ey
    return (origin + along + across).astype(np.float32)
