"""The SOP camera convention: u = s (R X)_x + t_x, v = t_y - s (R X)_y, depth s (R X)_z (larger is nearer)."""
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from h2h_engine.fitting import sop_pose
from h2h_engine.geometry import project


def test_matches_the_convention_by_hand():
    yaw = Rotation.from_euler("y", 90, degrees=True).as_matrix()[None]  # +z (towards the viewer) -> +x
    pts = np.array([[0.0, 0.0, 1.0], [0.0, 2.0, 0.0], [1.0, 0.0, 0.0]])
    out = project(pts, yaw, np.array([[100.0, 50.0]]), np.array([3.0]))
    # nose tip (z = 1) moves right; a point up (+y) goes up the image (smaller v); +x goes away (depth -3)
    np.testing.assert_allclose(out[0], [[103.0, 50.0, 0.0], [100.0, 44.0, 0.0], [100.0, 50.0, -3.0]], atol=1e-5)
    assert out.dtype == np.float32 and out.shape == (1, 3, 3)


def test_shared_points_and_per_frame_points_agree(model):
    rng = np.random.default_rng(0)
    rot = Rotation.from_euler("xyz", rng.normal(size=(4, 3)) * 0.3).as_matrix()
    trans, scale = rng.normal(size=(4, 2)) * 10 + 128, rng.uniform(2, 6, 4)
    pts = model.mean[model.landmarks]
    np.testing.assert_array_equal(project(pts, rot, trans, scale), project(np.tile(pts, (4, 1, 1)), rot, trans, scale))


def test_sop_pose_recovers_the_camera_project_used(model):
    """The fitting side inverts exactly this convention: cameras fitted to projected points reproject them."""
    rot = Rotation.from_euler("xyz", [[0.1, -0.4, 0.05], [-0.2, 0.3, 0.0]]).as_matrix()
    trans, scale = np.array([[120.0, 140.0], [90.0, 60.0]]), np.array([4.0, 2.5])
    pts = model.mean[model.landmarks].astype(np.float64)
    pix = project(pts, rot, trans, scale)[..., :2].astype(np.float64)
    r, t, s = sop_pose(pts, pix)
    np.testing.assert_allclose(r, rot, atol=1e-4)
    np.testing.assert_allclose(s, scale, rtol=1e-4)
    np.testing.assert_allclose(project(pts, r, t, s)[..., :2], pix, atol=1e-3)


def test_exception():
    with pytest.raises(ValueError, match=r"rotation must have shape \(T, 3, 3\)"):
        project(np.zeros((5, 3)), np.eye(3), np.zeros((1, 2)), np.ones(1))
