"""Batch video fit on real clips: landmark error, identity stability, meaningful expressions, smoothness."""
from __future__ import annotations

import numpy as np
import pytest

from h2h_engine.errors import NoFaceError
from h2h_engine.fitting import fit_video, fitted_landmarks, landmark_nme, load_fit_config

# (clip, first, last, mean NME bound): frontal newsreader, HDTF 256 px, wide-open mouth, strong head motion.
CLIPS = [("German_20s", 0, 199, 0.02), ("EDTalk__test_data_pose_source1", 0, 119, 0.02),
         ("Audio_Source_681100216", 0, 149, 0.02), ("driving_d12", 0, 119, 0.022)]


def _aperture(lm: np.ndarray, idx: list[int]) -> np.ndarray:
    """(T,) eye aspect ratio of the eye with landmark indices idx (6 points)."""
    e = lm[:, idx]
    vertical = np.linalg.norm(e[:, 1] - e[:, 5], axis=1) + np.linalg.norm(e[:, 2] - e[:, 4], axis=1)
    return vertical / (2 * np.linalg.norm(e[:, 0] - e[:, 3], axis=1))


@pytest.mark.parametrize("name,first,last,bound", CLIPS)
def test_nme(model, fitted, name, first, last, bound):
    fit, lm, w = fitted(name, first, last)
    nme = landmark_nme(model, fit, lm)[w > 0]
    assert nme.mean() < bound and np.percentile(nme, 95) < 1.5 * bound
    assert np.isfinite(fit.rmse).all() and fit.rmse.shape == (len(lm),)
    # rmse is the root mean square of the same residuals, in pixels
    res = np.linalg.norm(fitted_landmarks(model, fit, lm) - lm, axis=2)
    np.testing.assert_allclose(fit.rmse, np.sqrt((res**2).mean(axis=1)), rtol=1e-6)


def test_shapes_and_bounds(model, fitted):
    fit, lm, _ = fitted(*CLIPS[0][:3])
    t = len(lm)
    assert fit.identity.shape == (model.n_id,) and fit.expression.shape == (t, model.n_exp)
    assert fit.rotation.shape == (t, 3, 3) and fit.translation.shape == (t, 2) and fit.scale.shape == (t,)
    assert fit.expression.min() >= model.exp_bounds[0] and fit.expression.max() <= model.exp_bounds[1]
    assert np.abs(fit.identity).max() <= model.id_bounds[1]
    np.testing.assert_allclose(fit.rotation @ fit.rotation.transpose(0, 2, 1), np.broadcast_to(np.eye(3), (t, 3, 3)),
                               atol=1e-9)


def test_identity_stability(model, fitted):
    face = model.region_mask("face")
    def shape(name, first, last):
        return model.shape(fitted(name, first, last)[0].identity)[face]
    first, second = shape("German_20s", 0, 99), shape("German_20s", 100, 199)
    other = shape("EDTalk__test_data_pose_source1", 0, 119)
    same = np.linalg.norm(first - second, axis=1).mean()   # cm
    diff = np.linalg.norm(first - other, axis=1).mean()
    assert same < 0.1
    assert diff > 0.3 and diff > 4 * same


def test_jaw_open_follows_mouth(model, fitted):
    fit, lm, w = fitted("Audio_Source_681100216", 0, 149)
    opening = np.linalg.norm(lm[:, 62] - lm[:, 66], axis=1) / np.linalg.norm(lm[:, 36] - lm[:, 45], axis=1)
    jaw = fit.expression[:, model.expression_index("jawOpen")]
    order = np.argsort(opening[w > 0])
    k = len(order) // 5
    jaw = jaw[w > 0]
    assert jaw[order[-k:]].mean() > jaw[order[:k]].mean() + 0.15
    assert np.corrcoef(opening[w > 0], jaw)[0, 1] > 0.6


def test_blinks(model, fitted):
    fit, lm, w = fitted("EDTalk__test_data_expression_source", 0, 299)
    # Subject's right eye is landmarks 36-41 (ICT eyeBlink_R), left eye 42-47 (eyeBlink_L).
    for idx, name in ((list(range(36, 42)), "eyeBlink_R"), (list(range(42, 48)), "eyeBlink_L")):
        ear = _aperture(lm, idx)[w > 0]
        blink = fit.expression[w > 0, model.expression_index(name)]
        order = np.argsort(ear)
        k = len(order) // 10
        assert blink[order[:k]].mean() > blink[order[-k:]].mean() + 0.1, name
        assert np.corrcoef(ear, blink)[0, 1] < -0.5, name


def test_smoothness_lowers_jitter(model, fitted):
    smooth, lm, w = fitted("Audio_Source_681100216", 0, 149)
    alone, _, _ = fitted("Audio_Source_681100216", 0, 149, smoothness=0.0)
    def jitter(e):
        return np.abs(np.diff(e, 2, axis=0)).mean()
    assert jitter(smooth.expression) < 0.75 * jitter(alone.expression)
    # the smoothed fit still follows the landmarks
    assert landmark_nme(model, smooth, lm).mean() < landmark_nme(model, alone, lm).mean() + 0.003


def test_frames_without_face(model, clip_landmarks):
    lm, w = clip_landmarks("German_20s", 0, 59)
    lm, w = lm.copy(), w.copy()
    lm[20:25], w[20:25] = np.nan, 0.0
    fit = fit_video(model, lm, w)
    for arr in (fit.expression, fit.rotation, fit.translation, fit.scale):
        assert np.isfinite(arr).all()
    assert np.isnan(fit.rmse[20:25]).all() and np.isfinite(np.delete(fit.rmse, range(20, 25))).all()
    for k in range(2):  # cameras interpolated between the neighbouring frames
        lo, hi = sorted((fit.translation[19, k], fit.translation[25, k]))
        assert (fit.translation[20:25, k] >= lo - 1e-6).all() and (fit.translation[20:25, k] <= hi + 1e-6).all()
    ref = fit_video(model, lm[:20], w[:20])  # the gap does not disturb the frames with a face much
    assert np.abs(ref.expression[:15] - fit.expression[:15]).mean() < 0.05


def test_single_frame_with_face(model, clip_landmarks):
    lm, _ = clip_landmarks("German_20s", 0, 59)
    w = np.zeros(12)
    w[4] = 1.0
    fit = fit_video(model, lm[:12], w)
    assert np.allclose(fit.rotation, fit.rotation[4]) and np.allclose(fit.scale, fit.scale[4])
    assert landmark_nme(model, fit, lm[:12])[4] < 0.03
    one = fit_video(model, lm[:1])  # a one-frame clip (no smoothness term)
    assert landmark_nme(model, one, lm[:1])[0] < 0.03


def test_exception(model):
    with pytest.raises(NoFaceError):
        fit_video(model, np.zeros((4, 68, 2)), np.zeros(4))
    with pytest.raises(ValueError, match=r"\(T, 68, 2\)"):
        fit_video(model, np.zeros((4, 5, 2)))
    with pytest.raises(ValueError, match="weights"):
        fit_video(model, np.zeros((4, 68, 2)), np.ones(3))
    with pytest.raises(ValueError, match="finite"):
        fit_video(model, np.full((4, 68, 2), np.nan))


def test_reference_path_agrees(model, clip_landmarks):
    """fit_video with the numpy SOP and lsq_linear references lands where the native kernels do."""
    lm, w = clip_landmarks("German_20s", 0, 5)
    cfg = load_fit_config().replace(rounds=2, round_solver_iterations=60)
    nat = fit_video(model, lm, w, cfg)
    ref = fit_video(model, lm, w, cfg, impl="ref")
    assert abs(ref.cost - nat.cost) <= 1e-3 * nat.cost
    np.testing.assert_allclose(landmark_nme(model, ref, lm), landmark_nme(model, nat, lm), atol=1e-3)
    np.testing.assert_allclose(ref.rotation, nat.rotation, atol=1e-2)
