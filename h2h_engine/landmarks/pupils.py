"""Pupil centres inside the eye polygons of the 68-point markup (points 36-41 and 42-47).

Coordinates are frame pixels with pixel centres at integers, as dlib's landmarks.

- ``impl="ref"``: the authors' method, the centroid of inverse grey level (255 - I) over the pixels whose
  centres lie inside each eye polygon.
- ``impl="iris"`` (default): the eye is resampled so that it is ``EYE_PX`` px wide (sub-pixel sampling);
  only pixels darker than half-way between the darkest (5th percentile) and brightest (90th percentile)
  intensities inside the polygon count, weighted by how much darker they are, and the centre is then
  re-estimated with a Gaussian window of iris size around it (a few mean-shift steps) so that dark eye
  corners, lashes and shadows away from the iris stop pulling it. Closed or nearly closed eyes (eye aspect
  ratio below ``EAR_CLOSED``) and eyes without a dark blob fall back to the polygon centre, confidence 0.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..geometry import EYES, eye_aspect_ratio, inside_polygon

PUPIL_IMPLS = ("iris", "ref")
EYE_PX = 40.0       # eye width (corner to corner) after resampling, px
IRIS_RADIUS = 0.22  # iris radius as a fraction of the eye width (about 6 mm of a 28 mm eye)
EAR_CLOSED = 0.12   # eye aspect ratio below which the eye is taken as closed
EAR_OPEN = 0.22     # eye aspect ratio from which the eye counts as fully open for the confidence
MIN_CONTRAST = 0.25  # (bright - dark) / bright below which there is no usable dark iris
_MEAN_SHIFT_STEPS = 4


def _pupil_ref(gray: np.ndarray, eye: np.ndarray) -> tuple[np.ndarray, float]:
    h, w = gray.shape
    x0, y0 = np.maximum(np.floor(eye.min(0)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(eye.max(0)).astype(int), [w - 1, h - 1])
    ys, xs = np.mgrid[y0:y1 + 1, x0:x1 + 1]
    inside = inside_polygon(xs.astype(np.float64), ys.astype(np.float64), eye.astype(np.float64))
    weight = (255.0 - gray[ys, xs]) * inside
    total = weight.sum()
    if total <= 0:
        return eye.mean(0), 0.0
    return np.array([(weight * xs).sum() / total, (weight * ys).sum() / total]), 1.0


def _pupil_iris(gray: np.ndarray, eye: np.ndarray) -> tuple[np.ndarray, float]:
    centre = eye.mean(0)
    width = float(np.linalg.norm(eye[3] - eye[0]))
    ear = float(eye_aspect_ratio(eye))
    if width < 3.0 or ear < EAR_CLOSED:
        return centre, 0.0
    f = EYE_PX / width
    lo_xy = eye.min(0) - 0.1 * width
    size = np.ceil((eye.max(0) + 0.1 * width - lo_xy) * f).astype(int) + 1
    warp = np.array([[f, 0.0, -f * lo_xy[0]], [0.0, f, -f * lo_xy[1]]], np.float32)
    crop = cv2.warpAffine(gray, warp, (int(size[0]), int(size[1])), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
    mask = np.zeros(crop.shape, np.uint8)
    cv2.fillPoly(mask, [np.round((eye - lo_xy) * f * 16).astype(np.int32)], 1, cv2.LINE_8, shift=4)
    ys, xs = np.nonzero(mask)
    if len(xs) < 12:
        return centre, 0.0
    vals = crop[ys, xs]
    dark, bright = np.percentile(vals, [5, 90])
    contrast = (bright - dark) / max(bright, 1.0)
    if contrast < MIN_CONTRAST:
        return centre, 0.0
    weight = np.maximum(0.5 * (dark + bright) - vals, 0.0)
    total = weight.sum()
    q = np.array([(weight * xs).sum(), (weight * ys).sum()]) / total
    inv_2s2 = 0.5 / (IRIS_RADIUS * EYE_PX) ** 2
    for _ in range(_MEAN_SHIFT_STEPS):
        w_disc = weight * np.exp(-((xs - q[0]) ** 2 + (ys - q[1]) ** 2) * inv_2s2)
        t = w_disc.sum()
        if t <= 0:
            break
        q = np.array([(w_disc * xs).sum(), (w_disc * ys).sum()]) / t
    conf = min(1.0, (ear - EAR_CLOSED) / (EAR_OPEN - EAR_CLOSED)) * min(1.0, contrast / (2 * MIN_CONTRAST))
    return lo_xy + q / f, float(conf)


def locate_pupils(gray: np.ndarray, landmarks: np.ndarray, impl: str = "iris") -> tuple[np.ndarray, np.ndarray]:
    """Pupil centres of one face.

    Args:
        gray: (H, W) uint8 frame.
        landmarks: (68, 2) pixels.
        impl: ``"iris"`` (dark-iris centroid, default) or ``"ref"`` (the authors' inverse-intensity centroid).
    Returns:
        pupils (2, 2) float32 pixels [subject's right eye, left eye]; confidence (2,) float32 in [0, 1]
        (0: closed eye or no visible iris, the polygon centre is returned).
    """
    if impl not in PUPIL_IMPLS:
        raise ValueError(f"impl must be one of {PUPIL_IMPLS}; got {impl!r}")
    if gray.ndim != 2 or landmarks.shape != (68, 2):
        raise ValueError(f"need gray (H, W) and landmarks (68, 2); got {gray.shape} and {landmarks.shape}")
    one = _pupil_iris if impl == "iris" else _pupil_ref
    found = [one(gray, landmarks[idx].astype(np.float64)) for idx in EYES]
    return (np.array([p for p, _ in found], np.float32), np.array([c for _, c in found], np.float32))

