"""Manual-free quality measures of landmarks and pupils on real footage (public API: ``h2h_engine.landmarks``).

None needs a hand-annotated reference: each measures noise that a perfect tracker would not have (jitter on
smooth motion, disagreement between the two eyes, pupils outside their eye). The tests and
``benchmarks/bench_landmarks.py`` use them to compare trackers; the NME against a reference is
:func:`h2h_engine.geometry.nme`.
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter1d

from ..geometry import eye_aspect_ratio, eye_frame_coords, eye_polygons, inside_polygon, inter_ocular

OPEN_EAR = 0.2  # eye aspect ratio from which both eyes count as open for the pupil measures


def eyes_open(landmarks: np.ndarray) -> np.ndarray:
    """(T,) bool: both eyes of (T, 68, 2) landmarks open (eye aspect ratio above ``OPEN_EAR``)."""
    return (eye_aspect_ratio(eye_polygons(landmarks)) > OPEN_EAR).all(1)


def inside_eye_polygon(landmarks: np.ndarray, pupils: np.ndarray) -> np.ndarray:
    """(T, 2) bool: whether each pupil of (T, 2, 2) lies inside its eye polygon of (T, 68, 2) landmarks."""
    poly = eye_polygons(np.asarray(landmarks, np.float64))  # (T, 2, 6, 2)
    p = np.asarray(pupils, np.float64)
    out = np.empty(p.shape[:2], bool)
    for t in range(len(p)):
        for e in range(2):
            out[t, e] = inside_polygon(p[t, e, :1], p[t, e, 1:], poly[t, e])[0]
    return out


def pupil_jitter(landmarks: np.ndarray, pupils: np.ndarray, window: int = 7) -> float:
    """Median frame-to-frame pupil step, in eye widths, on frames with both eyes open.

    Head motion is removed by expressing the pupils in the eye frame
    (:func:`h2h_engine.geometry.eye_frame_coords`) of eye corners averaged over ``window`` frames, so that the
    corners' own frame-to-frame noise is not counted as pupil noise. On a static-gaze stretch this is the
    estimator's noise. Args: (T, 68, 2), (T, 2, 2).
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
