"""Gaze transfer: pupils expressed in a per-eye frame spanned by the eye corners and the lid opening.

For each eye (subject's right: landmarks 36-41, left: 42-47) the frame is built from its 68-point landmarks:

- origin ``m``: midpoint of the corners (36, 39) or (42, 45); ``x`` axis: corner to corner, unit length;
  ``y`` axis: ``x`` turned 90 degrees (pointing down the image for an upright face);
- ``alpha`` = position along ``x`` in eye widths (-0.5 at landmark 36/42, +0.5 at 39/45);
- ``beta`` = position along ``y`` relative to the middle of the lids (mean of 37,38 and of 41,40 for the right
  eye; 43,44 and 47,46 for the left), in units of the lid opening (-0.5 on the upper lid, +0.5 on the lower).
  The opening is floored at ``MIN_OPENING`` eye widths so a closed eye stays well defined.

The map is affine per eye and frame, so ``eye_coords_to_pupils(lm, pupils_to_eye_coords(lm, p)) == p``.
"""
from __future__ import annotations

import numpy as np

# (corner a, corner b, upper lid points, lower lid points) per eye, subject's right eye first (as Track.pupils).
EYES = ((36, 39, (37, 38), (41, 40)), (42, 45, (43, 44), (47, 46)))
MIN_OPENING = 0.1  # lid opening floor, in eye widths


def eye_frames(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-eye frames from 68-point landmarks.

    Args:
        landmarks: (T, 68, 2) pixels.
    Returns:
        origin (T, 2, 2), x axis (T, 2, 2) unit, y axis (T, 2, 2) unit, width (T, 2), and
        lid (T, 2, 2): [middle of the lids along y, opening along y] (pixels, opening floored).
    """
    lm = np.asarray(landmarks, np.float64)
    if lm.ndim != 3 or lm.shape[1:] != (68, 2):
        raise ValueError(f"landmarks must have shape (T, 68, 2); got {lm.shape}")
    a = lm[:, [e[0] for e in EYES]]                                   # (T, 2, 2)
    b = lm[:, [e[1] for e in EYES]]                                   # (T, 2, 2)
    upper = lm[:, [list(e[2]) for e in EYES]].mean(axis=2)            # (T, 2, 2)
    lower = lm[:, [list(e[3]) for e in EYES]].mean(axis=2)            # (T, 2, 2)
    origin = 0.5 * (a + b)
    u = b - a
    width = np.maximum(np.linalg.norm(u, axis=-1), 1e-6)              # (T, 2)
    ex = u / width[..., None]
    ey = np.stack([-ex[..., 1], ex[..., 0]], axis=-1)
    hu = np.einsum("tek,tek->te", upper - origin, ey)
    hl = np.einsum("tek,tek->te", lower - origin, ey)
    lid = np.stack([0.5 * (hu + hl), np.maximum(hl - hu, MIN_OPENING * width)], axis=-1)
    return origin, ex, ey, width, lid


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
