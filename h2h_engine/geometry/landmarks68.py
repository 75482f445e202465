"""The 68-point markup (iBUG 300-W, dlib's predictor): named index sets and the normalised mean error (NME).

Index sets are integer arrays so that ``landmarks[..., SET, :]`` picks those points. "Right" and "left" are
the subject's own (the right eye is on the image's left), and the right eye comes first everywhere
(``Track.pupils[:, 0]``).
"""
from __future__ import annotations

import numpy as np

N_POINTS = 68
JAW = np.arange(0, 17)                    # chin contour, subject's right ear to left ear; 8 is the chin
RIGHT_JAW = np.arange(0, 8)               # jaw points right of the chin (the model's contour_right chain)
LEFT_JAW = np.arange(9, 17)               # jaw points left of the chin (the model's contour_left chain)
BROWS = np.arange(17, 27)
NOSE = np.arange(27, 36)
RIGHT_EYE = np.arange(36, 42)             # eye contour from the outer corner 36 over the upper lid to 41
LEFT_EYE = np.arange(42, 48)              # eye contour from the inner corner 42 over the upper lid to 47
EYES = np.stack([RIGHT_EYE, LEFT_EYE])    # (2, 6): the eye polygons, right eye first
MOUTH = np.arange(48, 68)                 # outer lips 48-59, inner lips 60-67
RIGID = np.r_[0:5, 12:17, 27:48]          # points that move little with expression: upper jaw, nose, eyes
OUTER_EYE_CORNERS = (36, 45)              # the inter-ocular distance that normalises the NME


def inter_ocular(landmarks: np.ndarray) -> np.ndarray:
    """Outer-eye-corner distance (points 36 and 45) of (..., 68, 2) landmarks: the NME normaliser, (...,)."""
    a, b = OUTER_EYE_CORNERS
    return np.linalg.norm(landmarks[..., a, :] - landmarks[..., b, :], axis=-1)


def nme(landmarks: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Normalised mean error (...,): mean point distance of (..., 68, 2) ``landmarks`` to ``reference`` over the
    reference's inter-ocular distance."""
    landmarks, reference = np.asarray(landmarks, np.float64), np.asarray(reference, np.float64)
    if landmarks.shape != reference.shape or landmarks.shape[-2:] != (N_POINTS, 2):
        raise ValueError(f"landmarks and reference must both be (..., 68, 2); got {landmarks.shape} and "
                         f"{reference.shape}")
    return np.linalg.norm(landmarks - reference, axis=-1).mean(-1) / np.maximum(inter_ocular(reference), 1e-6)
