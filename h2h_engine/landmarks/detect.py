"""Face detection with dlib: HOG + linear SVM (default) or the MMOD CNN, full frame or near a known face."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .dlib_models import cnn_detector, hog_detector

DETECTORS = ("hog", "cnn")
# Score from which a detection counts as fully confident (both detectors report a face from a score of 0).
# HOG SVM margins of real faces in six shared clips at 256 px: 5th percentiles 0.8-1.3, medians 1.2-2.5;
# MMOD CNN confidences of clear faces are about 1.
_FULL_SCORE = {"hog": 1.0, "cnn": 1.0}
# Side (px) a face is resampled to before detecting near a known face: above the HOG window (80 px).
_ROI_FACE_PX = 110


@dataclass(frozen=True)
class Detection:
    """One detected face: ``box`` (4,) float32 ``x0, y0, x1, y1`` pixels and the detector's raw score."""

    box: np.ndarray
    score: float

    @property
    def side(self) -> float:
        return float(0.5 * (self.box[2] - self.box[0] + self.box[3] - self.box[1]))


class FaceDetector:
    """dlib face detector. ``kind``: ``"hog"`` (fast, frontal) or ``"cnn"`` (slow, more poses)."""

    def __init__(self, kind: str = "hog") -> None:
        if kind not in DETECTORS:
            raise ValueError(f"detector must be one of {DETECTORS}; got {kind!r}")
        self.kind = kind
        self._net = hog_detector() if kind == "hog" else cnn_detector()

    def confidence(self, score: float) -> float:
        """Detector score mapped to [0.5, 1]: 0.5 at the detection threshold (score 0), 1 for clear faces."""
        return float(np.clip(0.5 + 0.5 * score / _FULL_SCORE[self.kind], 0.5, 1.0))

    def _run(self, image: np.ndarray, upsample: int) -> list[Detection]:
        if self.kind == "hog":
            rects, scores, _ = self._net.run(image, upsample, 0.0)
            pairs = zip(rects, scores)
        else:
            pairs = ((d.rect, d.confidence) for d in self._net(image, upsample))
        return [Detection(np.array([r.left(), r.top(), r.right() + 1, r.bottom() + 1], np.float32), float(s))
                for r, s in pairs]

    def detect(self, gray: np.ndarray, upsample: tuple[int, ...] = (0, 1)) -> list[Detection]:
        """All faces in a frame. Tries each upsampling level in turn until one finds a face.

        Args:
            gray: (H, W) uint8 frame.
            upsample: dlib upsampling levels to try in order (small faces need 1 or 2; each doubles the size).
        """
        for level in upsample:
            found = self._run(gray, level)
            if found:
                return found
        return []

    def detect_near(self, gray: np.ndarray, box: np.ndarray) -> list[Detection]:
        """Faces inside a window twice the size of ``box`` (4,), resampled so the face is ~110 px (fast)."""
        side = float(0.5 * (box[2] - box[0] + box[3] - box[1]))
        cx, cy = 0.5 * (box[0] + box[2]), 0.5 * (box[1] + box[3])
        h, w = gray.shape
        x0, y0 = max(0, int(cx - side)), max(0, int(cy - side))
        x1, y1 = min(w, int(cx + side) + 1), min(h, int(cy + side) + 1)
        if x1 - x0 < 8 or y1 - y0 < 8:
            return []
        s = _ROI_FACE_PX / max(side, 1.0)
        roi = cv2.resize(gray[y0:y1, x0:x1], None, fx=s, fy=s,
                         interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        sx, sy = roi.shape[1] / (x1 - x0), roi.shape[0] / (y1 - y0)
        out = []
        for d in self._run(roi, 0):
            b = d.box / np.array([sx, sy, sx, sy], np.float32) + np.array([x0, y0, x0, y0], np.float32)
            out.append(Detection(b.astype(np.float32), d.score))
        return out
