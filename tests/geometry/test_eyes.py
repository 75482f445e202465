"""Eye polygons, eye opening, point-in-polygon and eye frames, on landmarks the engine tracked on a real clip."""
import cv2
import numpy as np
import pytest

from h2h_engine.geometry import (LEFT_EYE, RIGHT_EYE, eye_aspect_ratio, eye_frame_coords, eye_frames, eye_polygons,
                                 inside_polygon)


def _similarity(x: np.ndarray, angle: float = 0.5, scale: float = 1.7, shift=(40.0, -25.0)) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return scale * x @ np.array([[c, -s], [s, c]]).T + np.asarray(shift)


def test_polygons_and_opening(landmark_track):
    lm = landmark_track.landmarks.astype(np.float64)
    poly = eye_polygons(lm)
    assert poly.shape == (len(lm), 2, 6, 2)
    assert np.array_equal(poly[:, 0], lm[:, RIGHT_EYE]) and np.array_equal(poly[:, 1], lm[:, LEFT_EYE])
    ear = eye_aspect_ratio(poly)                                      # (T, 2)
    assert ear.shape == (len(lm), 2) and 0.15 < np.median(ear) < 0.45  # open eyes
    np.testing.assert_allclose(eye_aspect_ratio(eye_polygons(_similarity(lm))), ear, rtol=1e-9)
    closed = poly.copy()
    closed[..., [1, 2, 4, 5], :] = 0.5 * (poly[..., :1, :] + poly[..., 3:4, :])  # lids meet between the corners
    assert eye_aspect_ratio(closed).max() < 1e-12
    with pytest.raises(ValueError, match="68, 2"):
        eye_polygons(lm[:, :48])


def test_inside_polygon_matches_opencv(landmark_track):
    eye = landmark_track.landmarks[5, RIGHT_EYE].astype(np.float64)
    lo, hi = eye.min(0) - 2, eye.max(0) + 2
    ys, xs = np.mgrid[lo[1]:hi[1]:0.37, lo[0]:hi[0]:0.41]
    ours = inside_polygon(xs, ys, eye)
    theirs = np.array([cv2.pointPolygonTest(eye.astype(np.float32), (float(x), float(y)), True)
                       for x, y in zip(xs.ravel(), ys.ravel())]).reshape(xs.shape)
    decided = np.abs(theirs) > 1e-3  # points on the outline may go either way
    assert ours.any() and (~ours).any()
    assert np.array_equal(ours[decided], theirs[decided] > 0)


def test_eye_frames(landmark_track):
    lm = landmark_track.landmarks.astype(np.float64)
    origin, ex, ey, width, lid = eye_frames(lm)
    np.testing.assert_allclose(origin[:, 0], 0.5 * (lm[:, 36] + lm[:, 39]))
    np.testing.assert_allclose(width[:, 1], np.linalg.norm(lm[:, 45] - lm[:, 42], axis=1))
    np.testing.assert_allclose(np.linalg.norm(ex, axis=-1), 1.0)
    np.testing.assert_allclose(np.einsum("tek,tek->te", ex, ey), 0.0, atol=1e-12)
    assert (ey[..., 1] > 0.9).all()              # y axis points down the image for an upright face
    assert (lid[..., 1] >= 0.1 * width).all()    # opening floored at MIN_OPENING eye widths
    # pupils in eye-frame coordinates do not change when the whole face moves, turns in the image and scales
    pupils = landmark_track.pupils.astype(np.float64)
    coords = eye_frame_coords(lm, pupils)
    np.testing.assert_allclose(eye_frame_coords(_similarity(lm), _similarity(pupils)), coords, atol=1e-9)
    corners = eye_frame_coords(lm, lm[:, [39, 45]])  # the second corner of each eye: half a width along x
    np.testing.assert_allclose(corners, np.broadcast_to([0.5, 0.0], corners.shape), atol=1e-9)
    with pytest.raises(ValueError, match=r"\(T, 68, 2\)"):
        eye_frames(lm[0])
