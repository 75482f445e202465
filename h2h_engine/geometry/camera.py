"""Scaled orthographic projection (SOP): the camera convention every part of the engine shares.

A model point ``X`` (model units, +y up, +z towards the viewer) lands at pixel
``u = s * (R X)_x + t_x``, ``v = t_y - s * (R X)_y`` with depth ``z = s * (R X)_z`` (larger is nearer).
Pixels have their centres at integers (dlib's landmark convention). The cameras themselves are fitted by
:func:`h2h_engine.fitting.sop_pose`.

:func:`project` computes in float32 with one fixed order of plain multiplies and adds,
``(x R_i0 + y R_i1) + z R_i2``, then ``* s``: the same bits on every CPU (a BLAS matrix product picks its kernel,
with or without fused multiply-adds, from the CPU it runs on), and the same bits as the native kernel that
projects the render meshes while evaluating their blendshapes (csrc/common/blendshape.h).
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
    x, y, z = pts[..., 0], pts[..., 1], pts[..., 2]
    s = np.asarray(scale, np.float32)[:, None]
    translation = np.asarray(translation, np.float32)
    r = rotation[:, None]  # (T, 1, 3, 3) against (T, N) coordinates
    out = np.empty(x.shape + (3,), np.float32)
    out[..., 0] = (x * r[..., 0, 0] + y * r[..., 0, 1] + z * r[..., 0, 2]) * s + translation[:, None, 0]
    out[..., 1] = translation[:, None, 1] - (x * r[..., 1, 0] + y * r[..., 1, 1] + z * r[..., 1, 2]) * s
    out[..., 2] = (x * r[..., 2, 0] + y * r[..., 2, 1] + z * r[..., 2, 2]) * s
    return out


def rotation_error_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(...) angle in degrees of the rotation taking (..., 3, 3) ``b`` to ``a`` (leading axes broadcast)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    cos = np.clip((np.einsum("...ij,...ij->...", a, b) - 1) / 2, -1.0, 1.0)  # trace(a b^T) = 1 + 2 cos(angle)
    return np.degrees(np.arccos(cos))
