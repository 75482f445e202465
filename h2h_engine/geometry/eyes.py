"""Eye geometry of the 68-point markup: eye polygons, eye opening, point-in-polygon and per-eye frames.

An eye polygon is the 6 points of one eye (:data:`.landmarks68.RIGHT_EYE` or ``LEFT_EYE``) in markup order:
corner, two upper-lid points, corner, two lower-lid points. The eye frame of :func:`eye_frames`:

- origin: midpoint of the corners (36, 39) or (42, 45); ``x`` axis: corner to corner, unit length;
  ``y`` axis: ``x`` turned 90 degrees (pointing down the image for an upright face);
- lids: the middle of the upper lid (37, 38 / 43, 44) and of the lower lid (41, 40 / 47, 46) along ``y``;
  the opening (lower minus upper) is floored at ``MIN_OPENING`` eye widths so a closed eye stays defined.
"""
from __future__ import annotations

import numpy as np

from .landmarks68 import EYES, N_POINTS

CORNERS = (0, 3)     # positions of the two corners in an eye polygon
UPPER_LID = (1, 2)   # upper-lid points, in the same left-to-right order as LOWER_LID
LOWER_LID = (5, 4)
MIN_OPENING = 0.1    # lid opening floor of the eye frame, in eye widths


def eye_polygons(landmarks: np.ndarray) -> np.ndarray:
    """(..., 68, 2) landmarks -> (..., 2, 6, 2) eye polygons, the subject's right eye first."""
    lm = np.asarray(landmarks)
    if lm.shape[-2:] != (N_POINTS, 2):
        raise ValueError(f"landmarks must have shape (..., 68, 2); got {lm.shape}")
    return lm[..., EYES, :]


def eye_aspect_ratio(eye: np.ndarray) -> np.ndarray:
    """Eye opening (lid distance over corner distance) of (..., 6, 2) eye polygons, (...,)."""
    width = np.linalg.norm(eye[..., CORNERS[1], :] - eye[..., CORNERS[0], :], axis=-1)
    lids = sum(np.linalg.norm(eye[..., u, :] - eye[..., d, :], axis=-1) for u, d in zip(UPPER_LID, LOWER_LID))
    return lids / np.maximum(2.0 * width, 1e-6)


def inside_polygon(x: np.ndarray, y: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Even-odd rule: which points (x, y) (any shape, same shape) lie inside ``poly`` (N, 2); bool, x's shape."""
    inside = np.zeros(np.shape(x), bool)
    for (xa, ya), (xb, yb) in zip(poly, np.roll(poly, -1, axis=0)):
        crosses = (ya > y) != (yb > y)
        x_at = xa + (y - ya) * (xb - xa) / np.where(yb != ya, yb - ya, 1.0)
        inside ^= crosses & (x < x_at)
    return inside


def eye_frames(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-eye frames (see the module docstring) from 68-point landmarks.

    Args:
        landmarks: (T, 68, 2) pixels.
    Returns:
        origin (T, 2, 2), x axis (T, 2, 2) unit, y axis (T, 2, 2) unit, width (T, 2), and
        lid (T, 2, 2): [middle of the lids along y, opening along y] (pixels, opening floored).
    """
    lm = np.asarray(landmarks, np.float64)
    if lm.ndim != 3 or lm.shape[1:] != (N_POINTS, 2):
        raise ValueError(f"landmarks must have shape (T, 68, 2); got {lm.shape}")
    eye = eye_polygons(lm)                                            # (T, 2, 6, 2)
    a, b = eye[:, :, CORNERS[0]], eye[:, :, CORNERS[1]]               # (T, 2, 2)
    upper = eye[:, :, list(UPPER_LID)].mean(axis=2)                   # (T, 2, 2)
    lower = eye[:, :, list(LOWER_LID)].mean(axis=2)                   # (T, 2, 2)
    origin = 0.5 * (a + b)
    u = b - a
    width = np.maximum(np.linalg.norm(u, axis=-1), 1e-6)              # (T, 2)
    ex = u / width[..., None]
    ey = np.stack([-ex[..., 1], ex[..., 0]], axis=-1)
    hu = np.einsum("tek,tek->te", upper - origin, ey)
    hl = np.einsum("tek,tek->te", lower - origin, ey)
    lid = np.stack([0.5 * (hu + hl), np.maximum(hl - hu, MIN_OPENING * width)], axis=-1)
    return origin, ex, ey, width, lid


def eye_frame_coords(landmarks: np.ndarray, pupils: np.ndarray) -> np.ndarray:
    """(T, 2, 2) pupils of (T, 2, 2) in each eye's corner frame (:func:`eye_frames`), both axes in eye widths:
    head translation, roll and scale removed, and (unlike the gaze transfer's lid-relative coordinates,
    :func:`h2h_engine.retarget.pupils_to_eye_coords`) lid motion kept out of the vertical coordinate."""
    origin, ex, ey, width, _ = eye_frames(landmarks)
    d = np.asarray(pupils, np.float64) - origin
    return np.stack([np.einsum("tek,tek->te", d, ex), np.einsum("tek,tek->te", d, ey)], axis=-1) / width[..., None]
