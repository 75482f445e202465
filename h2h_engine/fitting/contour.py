"""Jawline (contour) landmarks 0-16: which model vertex each detected jawline point corresponds to per frame.

A detector's jawline points lie on the face's silhouette, which slides over the 3D jaw as the head turns.
Rule used here (documented in docs/fitting.md): landmark 8 (chin) keeps its fixed vertex; every other jawline
landmark (0-7 from the model's right candidate chain, 9-16 from the left chain) takes, per frame, the
candidate vertex whose projection is nearest to the detected point among the candidates that face the
camera in the current pose (rotated vertex normal z >= -0.15, i.e. front-facing or grazing; all
candidates if none does). On the side
turned away from the camera the visible candidate nearest to a silhouette point is the one on the occluding
contour; on the near side this is a closest-point correspondence along the jawline, and both choices never
raise the landmark cost for the current shape and camera, so the alternating fit stays monotone.
"""
from __future__ import annotations

import numpy as np

from ..morphable import MorphableModel

RIGHT_JAW = np.arange(0, 8)    # landmarks matched against model.contour_right
LEFT_JAW = np.arange(9, 17)    # landmarks matched against model.contour_left
GRAZING = -0.15                # a candidate counts as visible while its rotated normal has z >= this


class ContourCandidates:
    """Jawline candidate vertices of a model and what is needed to test which face the camera."""

    def __init__(self, model: MorphableModel) -> None:
        self.right = np.asarray(model.contour_right, np.int64)   # (Kr,)
        self.left = np.asarray(model.contour_left, np.int64)     # (Kl,)
        cand = np.concatenate([self.right, self.left])
        tris = model.triangles[np.isin(model.triangles, cand).any(axis=1)]  # triangles around the candidates
        self._verts, local = np.unique(tris, return_inverse=True)
        self._tris = local.reshape(-1, 3)
        self._mean = model.mean[self._verts].astype(np.float64)                       # (M, 3)
        self._id_basis = model.id_basis[:, self._verts].astype(np.float64)            # (n_id, M, 3)
        self._cand_local = np.searchsorted(self._verts, cand)

    def normals(self, identity: np.ndarray) -> np.ndarray:
        """(Kr + Kl, 3) unit outward normals of the candidates on the neutral-expression identity shape."""
        v = self._mean + np.tensordot(identity, self._id_basis, axes=1)                # (M, 3)
        a, b, c = v[self._tris[:, 0]], v[self._tris[:, 1]], v[self._tris[:, 2]]
        fn = np.cross(b - a, c - a)                                                    # area-weighted
        vn = np.zeros_like(v)
        for k in range(3):
            np.add.at(vn, self._tris[:, k], fn)
        n = vn[self._cand_local]
        return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)

    def select(self, cand_pixels: np.ndarray, normals: np.ndarray, rotation: np.ndarray,
               landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-frame choice of candidate for the jawline landmarks.

        Args:
            cand_pixels: (T, Kr + Kl, 2) projected candidates (right chain first).
            normals: (Kr + Kl, 3) candidate normals in model space.
            rotation: (T, 3, 3) camera rotations.
            landmarks: (T, 68, 2) detected landmarks.
        Returns:
            right (T, 8) indices into ``self.right`` for landmarks 0-7, left (T, 8) into ``self.left`` for 9-16.
        """
        nz = np.einsum("tj,kj->tk", rotation[:, 2], normals)                           # (T, Kr + Kl)
        kr = len(self.right)
        out = []
        for sl, lms in ((slice(0, kr), RIGHT_JAW), (slice(kr, None), LEFT_JAW)):
            px, vis = cand_pixels[:, sl], nz[:, sl] >= GRAZING                              # (T, K, 2), (T, K)
            vis = np.where(vis.any(axis=1, keepdims=True), vis, True)
            d = np.linalg.norm(landmarks[:, lms, None, :] - px[:, None], axis=-1)       # (T, 8, K)
            d = np.where(vis[:, None, :], d, np.inf)
            out.append(d.argmin(axis=2))
        return out[0], out[1]
