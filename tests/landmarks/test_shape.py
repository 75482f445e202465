import cv2
import numpy as np
import pytest

from h2h_engine.landmarks import FaceDetector, ShapePredictor, box_from_points
from h2h_engine.landmarks.tracker import _iou

CLIPS = [("W009_front_neutral", None), ("driving_d3", 256), ("Pose_Source_00473", None)]


@pytest.mark.parametrize("name,size", CLIPS)
def test_box_from_points_matches_the_detector(frames, name, size):
    """Boxes seeded from landmarks look like the HOG boxes the predictor was trained on."""
    det, pred = FaceDetector(), ShapePredictor()
    ious = []
    for _, rgb in frames(name, 0, 49, size)[::5]:
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        d = max(det.detect(gray), key=lambda d: d.side)
        ious.append(_iou(box_from_points(pred(gray, d.box).landmarks), d.box))
    # (the raw bounding box of the points scores medians 0.65-0.75 here)
    assert np.median(ious) > 0.77 and min(ious) > 0.65


@pytest.mark.parametrize("name,size", CLIPS)
def test_detect_near_finds_the_same_face(frames, name, size):
    det = FaceDetector()
    for _, rgb in frames(name, 0, 49, size)[::10]:
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        full = max(det.detect(gray), key=lambda d: d.side)
        near = det.detect_near(gray, full.box)
        assert len(near) == 1 and _iou(near[0].box, full.box) > 0.6


def test_sub_pixel_landmarks(frames):
    """Landmarks are not whole pixels, and a 1.5 px shift of the frame shifts them by about 1.5 px."""
    pred, det = ShapePredictor(), FaceDetector()
    rgb = frames("GRID_bbaf2n", 0, 0)[0][1]
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    box = det.detect(gray)[0].box
    lm = pred(gray, box).landmarks
    assert np.abs(lm - np.round(lm)).mean() > 0.1
    shifted = cv2.warpAffine(gray, np.float32([[1, 0, 1.5], [0, 1, 0]]), gray.shape[::-1], flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REPLICATE)
    moved = pred(shifted, box + np.float32([1.5, 0, 1.5, 0])).landmarks
    assert abs(float(np.median(moved[:, 0] - lm[:, 0])) - 1.5) < 0.3
