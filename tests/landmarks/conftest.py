"""Frames of shared clips, decoded once per session and resized for the landmark tests."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from h2h_engine.io import open_frames
from h2h_engine.landmarks import FaceDetector, ShapePredictor


@pytest.fixture(scope="session")
def frames(clip):
    """``frames(name, first, last, size=None)`` -> list of (frame_no, rgb uint8); ``size`` resizes to a square."""
    cache: dict = {}

    def get(name: str, first: int, last: int, size: int | None = None) -> list[tuple[int, np.ndarray]]:
        key = (name, first, last, size)
        if key not in cache:
            out = []
            for n, rgb in open_frames(clip(name), (first, last)):
                if size is not None:
                    rgb = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
                out.append((n, rgb))
            cache[key] = out
        return [(n, f.copy()) for n, f in cache[key]]

    return get


@pytest.fixture(scope="session")
def fresh_landmarks():
    """``fresh_landmarks(rgb)`` -> (68, 2) landmarks of the largest face detected from scratch, or None."""
    det, pred = FaceDetector("hog"), ShapePredictor()

    def get(rgb: np.ndarray) -> np.ndarray | None:
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        found = det.detect(gray)
        if not found:
            return None
        return pred(gray, max(found, key=lambda d: d.side).box).landmarks

    return get
