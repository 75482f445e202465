"""Fitting scaled orthographic projection (SOP) cameras to 2D-3D correspondences, in the camera convention of
:func:`h2h_engine.geometry.project`."""
from __future__ import annotations

import numpy as np


def sop_pose(points: np.ndarray, pixels: np.ndarray, weights: np.ndarray | None = None, iterations: int = 5,
             impl: str = "native") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame SOP camera from 2D-3D correspondences (closed form, then Gauss-Newton refinement).

    The closed form fits a weighted affine camera by least squares and takes the nearest scaled rotation
    (orthonormal rows ``(P P^T)^(-1/2) P``, scale = mean singular value); ``iterations`` Gauss-Newton steps
    then minimise the weighted pixel residuals over (rotation, scale, translation).

    Args:
        points: (T, N, 3) or (N, 3) model-space points.
        pixels: (T, N, 2) observed pixels (u right, v down).
        weights: (T, N) or (N,) non-negative per-point weights, or None for all ones.
        iterations: Gauss-Newton steps after the closed form.
        impl: ``"native"`` (C++ kernel, OpenMP over frames) or ``"ref"`` (numpy reference).
    Returns:
        rotation (T, 3, 3), translation (T, 2), scale (T,) as float64, in the convention of
        :func:`h2h_engine.geometry.project`.
        A frame with fewer than 3 weighted points gets rotation I, scale 0 and the centroid as translation.
    """
    pix = np.asarray(pixels, np.float64)
    if pix.ndim != 3 or pix.shape[2] != 2:
        raise ValueError(f"pixels must have shape (T, N, 2); got {pix.shape}")
    pts = np.asarray(points, np.float64)
    if pts.ndim == 2:
        pts = np.broadcast_to(pts, (pix.shape[0],) + pts.shape)
    if pts.shape != pix.shape[:2] + (3,):
        raise ValueError(f"points must have shape (T, N, 3) or (N, 3) matching pixels {pix.shape}; got {pts.shape}")
    w = None
    if weights is not None:
        w = np.broadcast_to(np.asarray(weights, np.float64), pix.shape[:2])
        if (w < 0).any():
            raise ValueError("weights must be non-negative")
    if impl == "native":
        from .. import _native

        return _native.sop_pose(np.ascontiguousarray(pts), np.ascontiguousarray(pix),
                                None if w is None else np.ascontiguousarray(w), int(iterations))
    if impl == "ref":
        return _sop_pose_ref(pts, pix, w, int(iterations))
    raise ValueError(f"impl must be 'native' or 'ref'; got {impl!r}")


def _rodrigues(w: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotations exp([w]x) of (T, 3) axis-angle vectors."""
    th = np.linalg.norm(w, axis=1)
    small = th < 1e-8
    ths = np.where(small, 1.0, th)
    a = np.where(small, 1 - th**2 / 6, np.sin(ths) / ths)
    b = np.where(small, 0.5 - th**2 / 24, (1 - np.cos(ths)) / ths**2)
    k = np.zeros((len(w), 3, 3))
    k[:, 0, 1], k[:, 0, 2], k[:, 1, 2] = -w[:, 2], w[:, 1], -w[:, 0]
    k = k - k.transpose(0, 2, 1)
    return np.eye(3) + a[:, None, None] * k + b[:, None, None] * (k @ k)


def _sop_pose_ref(pts: np.ndarray, pix: np.ndarray, w: np.ndarray | None,
                  iterations: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Numpy reference of the ``sop_pose`` kernel, frame by frame (slow, obviously correct)."""
    t_count = pix.shape[0]
    rot = np.tile(np.eye(3), (t_count, 1, 1))
    trans = np.zeros((t_count, 2))
    scale = np.zeros(t_count)
    w = np.ones(pix.shape[:2]) if w is None else w
    for f in range(t_count):
        keep = w[f] > 0
        x, wf = pts[f][keep], w[f][keep]
        p = pix[f][keep] * [1.0, -1.0]  # y-up image coordinates
        if keep.sum() < 3:
            trans[f] = (wf @ pix[f][keep]) / wf.sum() if wf.sum() > 0 else 0.0
            continue
        xc, pc = wf @ x / wf.sum(), wf @ p / wf.sum()
        dx, dp = x - xc, p - pc
        cxx = (dx * wf[:, None]).T @ dx
        cxx += 1e-12 * np.trace(cxx) * np.eye(3)
        affine = ((dp * wf[:, None]).T @ dx) @ np.linalg.inv(cxx)  # (2, 3)
        u, sv, vt = np.linalg.svd(affine, full_matrices=False)
        r = np.empty((3, 3))
        r[:2] = u @ vt
        r[2] = np.cross(r[0], r[1])
        s = sv.mean()
        t = np.array([pc[0] - s * r[0] @ xc, -(pc[1] - s * r[1] @ xc)])
        for _ in range(iterations):
            y = x @ r.T  # (N, 3)
            res = np.concatenate([s * y[:, 0] + t[0] - pix[f][keep, 0], t[1] - s * y[:, 1] - pix[f][keep, 1]])
            zero, one = np.zeros(len(y)), np.ones(len(y))
            ju = np.stack([zero, s * y[:, 2], -s * y[:, 1], y[:, 0], one, zero], axis=1)
            jv = np.stack([s * y[:, 2], zero, -s * y[:, 0], -y[:, 1], zero, one], axis=1)
            jac = np.concatenate([ju, jv])
            ww = np.concatenate([wf, wf])
            jtj = (jac * ww[:, None]).T @ jac
            jtj[np.diag_indices(6)] *= 1 + 1e-10
            delta = np.linalg.solve(jtj, -(jac * ww[:, None]).T @ res)
            r = _rodrigues(delta[None, :3])[0] @ r
            s += delta[3]
            t = t + delta[4:]
        rot[f], trans[f], scale[f] = r, t, s
    return rot, trans, scale
