"""The manual-free tracking measures (public API of h2h_engine.landmarks), on a real tracked face with known
perturbations added."""
import numpy as np

from h2h_engine.geometry import eye_frames, eye_polygons
from h2h_engine.landmarks import binocular_noise, eyes_open, inside_eye_polygon, landmark_jitter, pupil_jitter


def _in_eye_frame(lm: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """(T, 2, 2) pixels of eye-frame coordinates (T, 2, 2) (in eye widths) of (T, 68, 2) landmarks."""
    origin, ex, ey, width, _ = eye_frames(lm)
    return origin + width[..., None] * (coords[..., :1] * ex + coords[..., 1:] * ey)


def test_landmark_jitter_counts_noise_not_smooth_motion(landmark_track):
    lm = landmark_track.landmarks.astype(np.float64)
    t = np.arange(len(lm), dtype=np.float64)[:, None, None]
    still = np.repeat(lm[:1], len(lm), axis=0)
    assert landmark_jitter(still + t * [1.5, -0.5]) < 1e-12        # uniform motion is not jitter
    rng = np.random.default_rng(1)
    noisy = landmark_jitter(still + rng.normal(scale=1.0, size=lm.shape))
    assert 0.03 < noisy < 0.08  # |2nd difference| of 1 px noise: median ~ 2.9 px over a ~50 px inter-ocular
    assert landmark_jitter(lm) < noisy                               # the tracker is steadier than 1 px noise


def test_pupil_measures_see_added_pupil_noise(landmark_track):
    lm = landmark_track.landmarks.astype(np.float64)
    assert eyes_open(lm).all()
    rng = np.random.default_rng(2)
    fixed = _in_eye_frame(lm, np.broadcast_to([0.05, 0.1], (len(lm), 2, 2)).copy())  # a steady gaze
    base = pupil_jitter(lm, fixed)
    noisy = pupil_jitter(lm, fixed + rng.normal(scale=0.03, size=fixed.shape) * eye_frames(lm)[3][..., None])
    assert base < 0.02 and noisy > base + 0.02  # 0.03 eye widths per axis: median step ~ 0.05
    # eyes that turn together: large range, little binocular noise; independent eyes: noise as large as range
    sweep = 0.15 * np.sin(np.linspace(0, 3 * np.pi, len(lm)))
    together = np.stack([sweep, sweep], 1)[..., None] * [1.0, 0.0]
    apart = np.stack([sweep, rng.permutation(sweep)], 1)[..., None] * [1.0, 0.0]
    signal, ratio = binocular_noise(lm, _in_eye_frame(lm, together))
    assert 0.08 < signal < 0.12 and ratio < 0.1
    assert binocular_noise(lm, _in_eye_frame(lm, apart))[1] > 0.8


def test_inside_eye_polygon_and_closed_eyes(landmark_track):
    lm = landmark_track.landmarks.astype(np.float64)
    centre = eye_polygons(lm).mean(axis=2)                         # (T, 2, 2)
    assert inside_eye_polygon(lm, centre).all()
    width = eye_frames(lm)[3]
    assert not inside_eye_polygon(lm, centre + [0.0, 1.0] * width[..., None]).any()  # an eye width below
    shut = lm.copy()
    for e in (range(36, 42), range(42, 48)):
        idx = list(e)
        shut[:, idx, 1] = shut[:, idx, 1].mean(1, keepdims=True)
    assert not eyes_open(shut).any()
