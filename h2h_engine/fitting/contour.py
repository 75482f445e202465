"""Jawline (contour) landmarks 0-16: which model point each detected jawline point corresponds to per frame.

A detector's jawline points lie on the face's outline, which slides over the 3D jaw as the head turns.
Rule used here (documented in docs/fitting.md): landmark 8 (chin) keeps its fixed vertex; every other jawline
landmark (0-7 on the model's right candidate chain, 9-16 on the left chain) takes, per frame, the candidate
point whose projection is nearest to the detected point (a closest-point correspondence along the jawline).
On the side turned away from the camera the candidates behind the outline project inside the face, so the
nearest one is the candidate on the occluding contour; on the near side it is the jaw point under the
detection. The choice never raises the landmark cost for the current shape and camera, so the alternating
fit stays monotone. (Excluding back-facing candidates by their normals was tried and made the jaw-angle
points 3-4 and 12-13 worse: the chain runs along the underside of the jaw, whose normals face away even in
frontal views.)

The model's candidate vertices lie about 1 cm apart, so each chain is refined with points on the segments
between consecutive candidates (``SUBDIVIDE`` per segment); such a point is the same blend of the two
vertices' mean and basis rows, so the fit stays linear in the coefficients.
"""
from __future__ import annotations

import numpy as np

from ..geometry import LEFT_JAW, RIGHT_JAW
from ..morphable import MorphableModel

SUBDIVIDE = 4                  # candidate points per segment between consecutive candidate vertices


def _refine(chain: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points along a vertex chain: (P, 2) segment end vertices and (P,) position on the segment in [0, 1)."""
    ends = np.repeat(np.stack([chain[:-1], chain[1:]], axis=1), SUBDIVIDE, axis=0)
    lam = np.tile(np.arange(SUBDIVIDE) / SUBDIVIDE, len(chain) - 1)
    return (np.concatenate([ends, [[chain[-1], chain[-1]]]]).astype(np.int64), np.concatenate([lam, [0.0]]))


class ContourCandidates:
    """Jawline candidate points of a model (refined vertex chains).

    Attributes:
        right_ends, left_ends: (P, 2) vertex pairs of the candidate points of each chain.
        right_lam, left_lam: (P,) position of each point between its two vertices (0 = the first).
    """

    def __init__(self, model: MorphableModel) -> None:
        self.right_ends, self.right_lam = _refine(np.asarray(model.contour_right, np.int64))
        self.left_ends, self.left_lam = _refine(np.asarray(model.contour_left, np.int64))

    @property
    def n_right(self) -> int:
        return len(self.right_lam)

    def select(self, cand_pixels: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-frame choice of candidate point for the jawline landmarks.

        Args:
            cand_pixels: (T, Pr + Pl, 2) projected candidate points (right chain first).
            landmarks: (T, 68, 2) detected landmarks.
        Returns:
            right (T, 8) indices of right-chain points for landmarks 0-7, left (T, 8) of left-chain points for 9-16.
        """
        out = []
        for px, lms in ((cand_pixels[:, :self.n_right], RIGHT_JAW), (cand_pixels[:, self.n_right:], LEFT_JAW)):
            d = np.linalg.norm(landmarks[:, lms, None, :] - px[:, None], axis=-1)        # (T, 8, P)
            out.append(d.argmin(axis=2))
        return out[0], out[1]
