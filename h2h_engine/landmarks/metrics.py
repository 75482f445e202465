"""Manual-free quality measures of landmarks and pupils on real footage (used by tests and benchmarks)."""
from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter1d

from ..retarget.gaze import eye_frames
from .pupils import EYES, _inside_polygon, eye_aspect_ratio
from .shape import inter_ocular

OPEN_EAR = 0.2  # eye aspect ratio from which both eyes count as open for the pupil measures


def nme(landmarks: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Mean point distance of (..., 68, 2) ``landmarks`` to ``reference`` over the reference's inter-ocular
    distance (...,)."""
    return np.linalg.norm(landmarks - reference, axis=-1).mean(-1) / np.maximum(inter_ocular(reference), 1e-6)


def eyes_open(landmarks: np.ndarray) -> np.ndarray:
    """(T,) bool: both eyes of (T, 68, 2) landmarks open (eye aspect ratio above ``OPEN_EAR``)."""
    eyes = np.stack([landmarks[:, idx] for idx in EYES], axis=1)  # (T, 2, 6, 2)
    return (eye_aspect_ratio(eyes) > OPEN_EAR).all(1)


def eye_frame_coords(landmarks: np.ndarray, pupils: np.ndarray) -> np.ndarray:
    """(T, 2, 2) pupils of (T, 2, 2) in each eye's corner frame (:func:`h2h_engine.retarget.gaze.eye_frames`),
    both axes in eye widths: removes head translation, roll and scale, and (unlike the gaze transfer's
    lid-relative ``beta``) keeps lid motion out of the vertical coordinate."""
    origin, ex, ey, width, _ = eye_frames(landmarks)
    d = np.asarray(pupils, np.float64) - origin
    return np.stack([np.einsum("tek,tek->te", d, ex), np.einsum("tek,tek->te", d, ey)], axis=-1) / width[..., None]


def inside_eye_polygon(landmarks: np.ndarray, pupils: np.ndarray) -> np.ndarray:
    """(T, 2) bool: whether each pupil of (T, 2, 2) lies inside its eye polygon of (T, 68, 2) landmarks."""
    out = np.empty(pupils.shape[:2], bool)
    for e, idx in enumerate(EYES):
        for t in range(len(pupils)):
            out[t, e] = _inside_polygon(pupils[t, e, :1].astype(np.float64), pupils[t, e, 1:].astype(np.float64),
                                        landmarks[t, idx].astype(np.float64))[0]
    return out


def pupil_jitter(landmarks: np.ndarray, pupils: np.ndarray, window: int = 7) -> float:
    """Median frame-to-frame pupil step, in eye widths, on frames with both eyes open.

    Head motion is removed by expressing the pupils in the eye frame (:func:`eye_frame_coords`) of eye
    corners averaged over ``window`` frames, so that the corners' own frame-to-frame noise is not counted as
    pupil noise. On a static-gaze stretch this is the estimator's noise. Args: (T, 68, 2), (T, 2, 2).
    """
    smooth = uniform_filter1d(landmarks.astype(np.float64), window, axis=0, mode="nearest")
    steps = np.linalg.norm(np.diff(eye_frame_coords(smooth, pupils), axis=0), axis=-1)  # (T-1, 2)
    ok = eyes_open(landmarks)
    return float(np.median(steps[ok[1:] & ok[:-1]]))


def binocular_noise(landmarks: np.ndarray, pupils: np.ndarray) -> tuple[float, float]:
    """Gaze range and binocular noise of horizontal pupil positions on frames with both eyes open.

    Both eyes turn together, so over a clip with gaze motion the difference of the two eyes' horizontal
    eye-frame positions is noise while their mean is signal. Returns (std of the mean, in eye widths;
    std of the difference over std of the mean: lower is better, scale-free). Args: (T, 68, 2), (T, 2, 2).
    """
    x = eye_frame_coords(landmarks, pupils)[eyes_open(landmarks), :, 0]  # (T', 2)
    signal = float(np.std(x.mean(1)))
    return signal, float(np.std(x[:, 0] - x[:, 1]) / max(signal, 1e-9))


def landmark_jitter(landmarks: np.ndarray) -> float:
    """Median second difference ``|L[t+1] - 2 L[t] + L[t-1]|`` of (T, 68, 2) landmarks over the mean
    inter-ocular distance: frame-to-frame noise, with smooth motion removed."""
    accel = np.linalg.norm(landmarks[2:] - 2 * landmarks[1:-1] + landmarks[:-2], axis=-1)
    return float(np.median(accel) / max(float(inter_ocular(landmarks).mean()), 1e-6))
