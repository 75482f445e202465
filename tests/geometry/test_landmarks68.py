"""The 68-point index sets and the NME, on landmarks the engine tracked on a real clip."""
import numpy as np
import pytest

from h2h_engine.geometry import (BROWS, EYES, JAW, LEFT_EYE, LEFT_JAW, MOUTH, N_POINTS, NOSE, RIGHT_EYE, RIGHT_JAW,
                                 RIGID, inter_ocular, nme)


def test_index_sets_partition_the_markup():
    groups = [JAW, BROWS, NOSE, EYES.ravel(), MOUTH]
    assert sorted(np.concatenate(groups).tolist()) == list(range(N_POINTS))
    assert np.array_equal(EYES, [RIGHT_EYE, LEFT_EYE]) and RIGHT_EYE[0] == 36 and LEFT_EYE[-1] == 47
    assert sorted(np.concatenate([RIGHT_JAW, LEFT_JAW, [8]]).tolist()) == JAW.tolist()  # the chin splits the jaw
    assert set(RIGID) <= set(range(N_POINTS)) and not set(RIGID) & set(MOUTH)


def test_subject_right_eye_is_on_the_image_left(landmark_track):
    lm = landmark_track.landmarks
    assert (lm[:, RIGHT_EYE, 0].mean(1) < lm[:, LEFT_EYE, 0].mean(1)).all()
    assert (lm[:, RIGHT_JAW, 0].mean(1) < lm[:, LEFT_JAW, 0].mean(1)).all()
    assert (lm[:, MOUTH, 1].mean(1) > lm[:, NOSE, 1].mean(1)).all()  # image y points down


def test_nme(landmark_track):
    lm = landmark_track.landmarks.astype(np.float64)
    iod = inter_ocular(lm)                                               # (T,)
    assert iod.shape == (len(lm),) and (iod > 30).all()                 # 288 px clip: eyes ~ 50 px apart
    assert np.array_equal(nme(lm, lm), np.zeros(len(lm)))
    np.testing.assert_allclose(nme(lm + [3.0, 4.0], lm), 5.0 / iod)     # a 5 px shift of every point
    # invariant to a common similarity transform of both point sets
    c, s = np.cos(0.4), np.sin(0.4)
    move = lambda x: 2.5 * x @ np.array([[c, -s], [s, c]]).T + 7.0  # noqa: E731
    noisy = lm + np.random.default_rng(0).normal(size=lm.shape)
    np.testing.assert_allclose(nme(move(noisy), move(lm)), nme(noisy, lm), rtol=1e-9)
    with pytest.raises(ValueError, match=r"\(\.\.\., 68, 2\)"):
        nme(lm[:, :60], lm[:, :60])
