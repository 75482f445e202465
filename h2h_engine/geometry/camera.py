"""Scaled orthographic projection (SOP): the camera convention every part of the engine shares.

A model point ``X`` (model units, +y up, +z towards the viewer) lands at pixel
``u = s * (R X)_x + t_x``, ``v = t_y - s * (R X)_y`` with depth ``z = s * (R X)_z`` (larger is nearer).
Pixels have their centres at integers (dlib's landmark convention). The cameras themselves are fitted by
:func:`h2h_engine.fitting.sop_pose`.
"""
from __future__ import annotations

import numpy as np


def project(points: np.ndarray, rotation: np.ndarray, translation: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Project model points to pixels with per-frame SOP cameras.

    Args:
        points: (T, N, 3) or (N, 3) model-space points.
        rotation: (T, 3, 3) rotation matrices.
        translation: (T, 2) pixel translations.
        scale: (T,) pixels per model unit.
    Returns:
        (T, N, 3) float32: pixel u, pixel v, depth (larger = nearer the camera).
    """
    rotation = np.asarray(rotation, np.float32)
    if rotation.ndim != 3 or rotation.shape[1:] != (3, 3):
        raise ValueError(f"rotation must have shape (T, 3, 3); got {rotation.shape}")
    pts = np.asarray(points, np.float32)
    if pts.ndim == 2:
        pts = np.broadcast_to(pts, (rotation.shape[0],) + pts.shape)
    cam = np.matmul(pts, rotation.transpose(0, 2, 1)) * np.asarray(scale, np.float32)[:, None, None]
    translation = np.asarray(translation)
    out = np.empty_like(cam)
    out[..., 0] = cam[..., 0] + translation[:, None, 0]
    out[..., 1] = translation[:, None, 1] - cam[..., 1]
    out[..., 2] = cam[..., 2]
    return out
