"""Hybrid parameters on real tracks of two different people (A drives B)."""
from dataclasses import replace

import numpy as np
import pytest

from h2h_engine.errors import FrameRangeError, ModelMismatchError
from h2h_engine.geometry import project
from h2h_engine.retarget import neutral_expression, retarget
from h2h_engine.retarget.hybrid import face_centre
from h2h_engine.track import FLAG_RETARGETED

FIELDS = ("frames", "landmarks", "pupils", "confidence", "flags", "expression", "rotation", "translation", "scale")


def _model_landmarks(track, model):
    """(T, 68, 2) the track's own model landmarks under its own cameras."""
    pts = model.shape(track.identity, track.expression, vertices=model.landmarks)
    return project(pts, track.rotation, track.translation, track.scale)[..., :2]


@pytest.mark.parametrize("mode", ["head", "face"])
def test_output_is_target_identity_with_model_landmarks(shots, model, mode):
    a, b = shots
    out = retarget(model, a, b, mode=mode)
    assert np.array_equal(out.identity, b.identity)
    assert out.image_size == b.image_size and out.fps == b.fps and out.model_digest == b.model_digest
    assert np.all(out.flags & FLAG_RETARGETED)
    assert np.allclose(out.landmarks, _model_landmarks(out, model), atol=1e-3)
    # output frames are numbered like the target's
    assert out.frames[0] == b.frames[0] and np.all(np.diff(out.frames) == 1)


def test_head_mode_follows_source_rotation_at_target_placement(shots, model):
    a, b = shots
    out = retarget(model, a, b, mode="head", neutral_offset=False)
    n = len(out)
    assert n == len(a)
    assert np.array_equal(out.rotation, a.rotation)
    assert np.array_equal(out.expression, np.clip(a.expression, *model.exp_bounds))
    # mean placement is the target's, relative motion is the source's scaled by the size ratio (measured
    # at the face centre)
    k = b.scale.mean() / a.scale.mean()
    assert np.allclose(out.scale, a.scale * k, rtol=1e-6)  # float32 track arrays
    centre = face_centre(model)[None]                                     # (1, 3)

    def centre_px(t):
        return project(centre, t.rotation, t.translation, t.scale)[:, 0, :2]
    assert np.allclose(centre_px(out).mean(0), centre_px(b).mean(0), atol=1e-3)
    assert np.allclose(centre_px(out) - centre_px(out).mean(0), (centre_px(a) - centre_px(a).mean(0)) * k, atol=1e-3)
    # so the retargeted face sits where the target's face sits: mean landmark centroids agree within 5% of
    # the target's mean outer-eye-corner distance
    iod = np.linalg.norm(b.landmarks[:, 36] - b.landmarks[:, 45], axis=1).mean()
    assert np.linalg.norm(out.landmarks.mean((0, 1)) - b.landmarks.mean((0, 1))) < 0.05 * iod
    # and turns as the source's head turns (about 20 degrees of yaw in this clip): the nose tip moves relative to
    # the eyes as it does in the source's detected landmarks
    def nose_offset(lm):
        return (lm[:, 30] - lm[:, 36:48].mean(1)) / np.linalg.norm(lm[:, 36] - lm[:, 45], axis=1)[:, None]
    src_nose, out_nose = nose_offset(a.landmarks), nose_offset(out.landmarks)                 # (T, 2)
    assert np.ptp(src_nose[:, 0]) > 0.1
    assert np.corrcoef(src_nose[:, 0], out_nose[:, 0])[0, 1] > 0.95
    assert np.corrcoef(src_nose[:, 1], out_nose[:, 1])[0, 1] > 0.85


def test_face_mode_keeps_target_pose_exactly(shots, model):
    a, b = shots
    out = retarget(model, a, b, mode="face", past_end="hold")
    assert len(out) == len(b) and np.array_equal(out.frames, b.frames)
    assert np.array_equal(out.rotation, b.rotation)
    assert np.array_equal(out.translation, b.translation)
    assert np.array_equal(out.scale, b.scale)
    rows = np.minimum(np.arange(len(b)), len(a) - 1)
    want = np.clip(a.expression[rows] - neutral_expression(a.expression, 10.0) + neutral_expression(b.expression, 10.0),
                   *model.exp_bounds)
    assert np.allclose(out.expression, want, atol=1e-6)


@pytest.mark.parametrize("mode", ["head", "face"])
def test_cycle_a_b_a_returns_a(shots, model, mode):
    a, b = shots
    # without the neutral offset nothing is lost on the way through B
    aba = retarget(model, retarget(model, a, b, mode=mode, neutral_offset=False), a, mode=mode, neutral_offset=False)
    assert np.array_equal(aba.frames, a.frames) and np.array_equal(aba.identity, a.identity)
    assert np.abs(aba.expression - a.expression).max() < 1e-6
    assert np.abs(aba.rotation - a.rotation).max() < 1e-6
    assert np.abs(aba.translation - a.translation).max() < 1e-3          # pixels
    assert np.abs(aba.scale / a.scale - 1).max() < 1e-6
    assert np.abs(aba.landmarks - _model_landmarks(a, model)).max() < 1e-3
    # with it, only what the bounds clipped in B is lost
    aba = retarget(model, retarget(model, a, b, mode=mode), a, mode=mode)
    assert np.abs(aba.rotation - a.rotation).max() < 1e-6
    assert np.abs(aba.translation - a.translation).max() < 1e-3
    in_b = a.expression - neutral_expression(a.expression, 10.0) + neutral_expression(b.expression, 10.0)
    kept = (in_b > model.exp_bounds[0]) & (in_b < model.exp_bounds[1])
    assert 0.5 < kept.mean() < 1.0                                       # B's bounds do clip some
    assert np.abs(aba.expression - a.expression)[kept].max() < 0.01
    assert np.abs(aba.landmarks - _model_landmarks(a, model)).mean() < 0.5  # pixels


@pytest.mark.parametrize("mode", ["head", "face"])
def test_retargeting_a_shot_onto_itself_is_the_identity(shots, model, mode):
    a, _ = shots
    out = retarget(model, a, a, mode=mode)
    assert np.array_equal(out.frames, a.frames)
    assert np.allclose(out.expression, a.expression, atol=1e-6)
    assert np.allclose(out.rotation, a.rotation, atol=1e-6)
    assert np.allclose(out.translation, a.translation, atol=1e-3)
    assert np.allclose(out.scale, a.scale, rtol=1e-6)
    assert np.allclose(out.landmarks, _model_landmarks(a, model), atol=1e-3)


def test_expressions_stay_within_bounds(shots, model):
    a, b = shots
    lo, hi = model.exp_bounds
    # a high "neutral" percentile shifts the coefficients far enough that clipping must act
    out = retarget(model, a, b, mode="face", neutral_percentile=50.0, past_end="loop")
    raw = a.expression[np.arange(len(out)) % len(a)] - np.median(a.expression, 0) + np.median(b.expression, 0)
    assert raw.min() < lo and raw.max() > hi or raw.min() < lo - 0.01     # the test really exercises the clip
    assert out.expression.min() >= lo and out.expression.max() <= hi
    inside = (raw >= lo) & (raw <= hi)
    assert np.allclose(out.expression[inside], raw[inside], atol=1e-5)


def test_neutral_offset_moves_resting_face(shots, model):
    a, b = shots
    out = retarget(model, a, b, mode="face")
    # away from the bounds, the output's resting expression is the target's
    got = neutral_expression(out.expression, 10.0)
    want = neutral_expression(b.expression, 10.0)
    free = (want > 0.02) & (want < 0.98)
    assert free.sum() >= 3
    assert np.abs(got[free] - want[free]).max() < 0.05


@pytest.mark.parametrize("mode,past_end,offset", [("head", "pingpong", 3), ("face", "loop", 5),
                                                  ("face", "stop", 0), ("head", "hold", 0)])
def test_matches_reference(shots, model, reference, mode, past_end, offset):
    a, b = shots
    frames = (b.frames[0] + 2, b.frames[-1] - 1) if mode == "face" else (7, 7 + len(a) + 20)
    kw = dict(mode=mode, frames=frames, source_offset=offset, past_end=past_end)
    fast, ref = retarget(model, a, b, **kw), reference.retarget_ref(model, a, b, **kw)
    assert len(fast) == len(ref)
    for name in FIELDS:
        assert np.allclose(getattr(fast, name), getattr(ref, name), atol=1e-3), name


def test_mismatched_models_are_rejected(shots, model):
    a, b = shots
    other = replace(b, model_name="other-model", model_digest="0123456789abcdef")
    with pytest.raises(ModelMismatchError, match="0123456789abcdef.*re-track both shots"):
        retarget(model, a, other)
    with pytest.raises(ModelMismatchError, match="re-track"):
        retarget(model, replace(a, model_digest="0123456789abcdef"), replace(b, model_digest="0123456789abcdef"))


def test_face_mode_needs_target_frames(shots, model):
    a, b = shots
    with pytest.raises(FrameRangeError, match="face mode"):
        retarget(model, a, b, mode="face", frames=(int(b.frames[0]), int(b.frames[-1]) + 1))


def test_head_mode_within_target_ends_at_the_targets_frames(shots, model):
    a, b = shots
    short = b.slice(int(b.frames[0]), int(b.frames[4]))  # a target of 5 frames, a longer source
    assert len(retarget(model, a, short, mode="head")) == len(a)  # head mode needs no target frame ...
    within = retarget(model, a, short, mode="head", within_target=True)  # ... unless asked to stay on its plate
    assert within.frames.tolist() == short.frames.tolist()
    assert within.meta["retarget"]["knobs"]["within_target"] is True
    late = (int(short.frames[-1]) + 1, int(short.frames[-1]) + 5)
    with pytest.raises(FrameRangeError, match="inside the target's frames"):
        retarget(model, a, short, mode="head", frames=late, within_target=True)
