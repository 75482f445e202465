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


@pytest.mark.parametrize("name,size", CLIPS + [("WDA_AlexandriaOcasioCortez", 256)])
def test_native_predictor_gives_dlibs_points(frames, name, size):
    """The native evaluator of dlib's model file returns dlib's own points, to the pixel, on real faces: from
    detector boxes, from boxes seeded by landmarks (on the resampled crops ShapePredictor makes), shifted and
    scaled boxes, and boxes partly outside the frame (feature pixels outside read 0)."""
    from h2h_engine.landmarks.dlib_models import dlib_module, native_shape_model, shape_predictor

    det, net, native, rect = FaceDetector(), shape_predictor(), native_shape_model(), dlib_module().rectangle
    calls = 0
    for _, rgb in frames(name, 0, 59, size)[::3]:
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        d = max(det.detect(gray), key=lambda d: d.side).box
        h, w = gray.shape
        boxes = [d, box_from_points(ShapePredictor("dlib")(gray, d).landmarks), d * 1.07 + 3, d - [40, 0, 40, 0],
                 np.float32([-30, -20, w // 2, h // 2])]
        for b in boxes:
            r = [int(round(b[0])), int(round(b[1])), int(round(b[2])) - 1, int(round(b[3])) - 1]
            want = np.array([(p.x, p.y) for p in net(gray, rect(*r)).parts()], np.float32)
            assert np.array_equal(native.predict(gray, *r), want), (name, r)
            calls += 1
        assert np.array_equal(ShapePredictor("native")(gray, d).landmarks, ShapePredictor("dlib")(gray, d).landmarks)
    assert calls >= 100


def test_native_predictor_errors():
    from h2h_engine import _native
    from h2h_engine.landmarks.dlib_models import native_shape_model

    with pytest.raises(ValueError, match="malformed dlib shape predictor"):
        _native.ShapeModel(b"\x01\x01" + b"\x00" * 10)
    with pytest.raises(ValueError, match="image must have shape"):
        native_shape_model().predict(np.zeros((4, 4, 3), np.uint8), 0, 0, 3, 3)
    with pytest.raises(ValueError, match="impl must be one of"):
        ShapePredictor("opencv")
