"""Gaze transfer: pupils in eye coordinates (corners and lids) on real tracks."""
import cv2
import numpy as np
import pytest

from h2h_engine.retarget import eye_coords_to_pupils, pupils_to_eye_coords, retarget
from h2h_engine.geometry import eye_frames


def test_eye_coordinates_roundtrip(shots):
    a, b = shots
    coords = pupils_to_eye_coords(a.landmarks, a.pupils)                 # (T, 2, 2)
    assert np.abs(eye_coords_to_pupils(a.landmarks, coords) - a.pupils).max() < 1e-3
    # detected pupils of open eyes lie between the corners and near the lid middle
    assert np.all(np.abs(np.median(coords, axis=0)) < 0.5)
    # the same coordinates put into B's eyes land inside B's eye boxes
    n = min(len(a), len(b))
    moved = eye_coords_to_pupils(b.landmarks[:n], coords[:n])
    origin, ex, _, width, _ = eye_frames(b.landmarks[:n])
    along = np.einsum("tek,tek->te", moved - origin, ex) / width
    assert np.allclose(along, coords[:n, :, 0], atol=1e-4)


@pytest.mark.parametrize("mode", ["head", "face"])
def test_retargeted_pupils_keep_source_gaze(shots, gaze_shot, model, mode):
    a, b = gaze_shot, shots[1]
    out = retarget(model, a, b, mode=mode, past_end="hold")
    rows = np.minimum(np.arange(len(out)), len(a) - 1)
    src = pupils_to_eye_coords(a.landmarks[rows], a.pupils[rows])
    got = pupils_to_eye_coords(out.landmarks, out.pupils)
    assert np.abs(got - src).max() < 1e-3
    assert np.ptp(src[..., 0], axis=0).min() > 0.4                      # the source looks far to the side
    # a pupil inside the source's eye outline lands inside the retargeted eye's outline
    src_in = _inside_eyes(a.landmarks[rows], a.pupils[rows])
    out_in = _inside_eyes(out.landmarks, out.pupils)
    assert src_in.sum() >= len(out)                       # most source pupils are inside their eyes
    assert (out_in & src_in).sum() >= 0.95 * src_in.sum()


def _inside_eyes(landmarks, pupils):
    """(T, 2) bool: pupil inside the eye polygon (landmarks 36-41 / 42-47)."""
    inside = np.zeros(pupils.shape[:2], bool)
    for t in range(len(landmarks)):
        for e, first in enumerate((36, 42)):
            poly = landmarks[t, first:first + 6].astype(np.float32)
            inside[t, e] = cv2.pointPolygonTest(poly, tuple(map(float, pupils[t, e])), False) >= 0
    return inside


def test_self_retarget_keeps_pupils_near_detections(shots, model):
    a, _ = shots
    out = retarget(model, a, a)
    width = np.linalg.norm(a.landmarks[:, 39] - a.landmarks[:, 36], axis=1)
    err = np.linalg.norm(out.pupils - a.pupils, axis=-1) / width[:, None]
    # differs only by the fit's landmark error around the eyes
    assert np.median(err) < 0.05


@pytest.mark.parametrize("mode", ["head", "face"])
def test_blinks_follow_the_source(shots, model, mode):
    a, b = shots                                       # A blinks three times in these frames
    out = retarget(model, a, b, mode=mode)

    def opening(lm):                                   # (T,) lid opening / eye width, both eyes
        _, _, _, width, lid = eye_frames(lm)
        return (lid[..., 1] / width).mean(axis=1)
    src, got = opening(a.landmarks), opening(out.landmarks)
    closed = src < 0.6 * np.median(src)                # blinks in the source's detections
    assert closed.sum() >= 3
    assert np.all(got[closed] < 0.7 * np.median(got))  # are blinks in the retargeted eyes
    assert np.corrcoef(src, got)[0, 1] > 0.9
