"""SOP camera kernel: native vs numpy reference, recovery of known cameras, real landmarks."""
from __future__ import annotations

import numpy as np
import pytest

from h2h_engine.fitting.sop import _rodrigues, sop_pose
from h2h_engine.geometry import project


def _project64(pts: np.ndarray, rot: np.ndarray, trans: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(T, N, 2) float64 projection in the convention of ``project`` (which returns float32)."""
    cam = np.einsum("tij,tnj->tni", rot, pts) * scale[:, None, None]
    return np.stack([cam[..., 0] + trans[:, None, 0], trans[:, None, 1] - cam[..., 1]], axis=-1)


def _random_problem(rng: np.random.Generator, t: int = 40, n: int = 68, noise: float = 0.5):
    pts = rng.normal(size=(t, n, 3)) * [6.0, 7.0, 3.0]
    rot = _rodrigues(rng.normal(size=(t, 3)) * 0.4)
    scale = rng.uniform(4, 20, t)
    trans = rng.uniform(50, 450, (t, 2))
    pix = _project64(pts, rot, trans, scale) + rng.normal(size=(t, n, 2)) * noise
    return pts, pix, rot, trans, scale


@pytest.mark.parametrize("iterations", [0, 5])
def test_matches_ref_random(iterations):
    pts, pix, *_ = _random_problem(np.random.default_rng(1))
    w = np.random.default_rng(2).uniform(0, 2, pix.shape[:2])
    w[0, :66] = 0  # a degenerate frame: 2 weighted points
    nat = sop_pose(pts, pix, w, iterations, impl="native")
    ref = sop_pose(pts, pix, w, iterations, impl="ref")
    for a, b in zip(nat, ref):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-7)
    assert nat[2][0] == 0 and np.allclose(nat[0][0], np.eye(3))


def test_project_convention():
    pts, _, rot, trans, scale = _random_problem(np.random.default_rng(5))
    np.testing.assert_allclose(project(pts, rot, trans, scale)[..., :2], _project64(pts, rot, trans, scale), atol=1e-3)


def test_recovers_exact_cameras():
    pts, pix, rot, trans, scale = _random_problem(np.random.default_rng(3), noise=0.0)
    r, t, s = sop_pose(pts, pix)
    np.testing.assert_allclose(r, rot, atol=1e-9)
    np.testing.assert_allclose(t, trans, atol=1e-7)
    np.testing.assert_allclose(s, scale, atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-12)


def test_refinement_lowers_residual():
    pts, pix, *_ = _random_problem(np.random.default_rng(4), noise=3.0)
    def err(cams):
        return ((_project64(pts, *cams) - pix) ** 2).sum()
    assert err(sop_pose(pts, pix, iterations=5)) < err(sop_pose(pts, pix, iterations=0))


def test_real_landmarks(model, clip_landmarks):
    lm, _ = clip_landmarks("German_20s", 0, 39)
    mean_pts = model.mean[model.landmarks].astype(np.float64)
    nat = sop_pose(mean_pts, lm)
    ref = sop_pose(mean_pts, lm, impl="ref")
    for a, b in zip(nat, ref):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-7)
    # A frontal newsreader: the mean face alone already lands within a few percent of the eye distance.
    err = np.linalg.norm(project(mean_pts, *nat)[..., :2] - lm, axis=2).mean(axis=1)
    iod = np.linalg.norm(lm[:, 36] - lm[:, 45], axis=1)
    assert (err / iod).max() < 0.08
    assert np.abs(nat[0][:, 2, 2]).min() > 0.85  # facing the camera


def test_exception():
    with pytest.raises(ValueError, match="pixels"):
        sop_pose(np.zeros((5, 3)), np.zeros((2, 5, 3)))
    with pytest.raises(ValueError, match="points"):
        sop_pose(np.zeros((4, 3)), np.zeros((2, 5, 2)))
    with pytest.raises(ValueError, match="impl"):
        sop_pose(np.zeros((5, 3)), np.zeros((2, 5, 2)), impl="cuda")
