"""Pairings of ``h2h eval reenactment`` on real clips (see conftest.py): A driven by himself through ``h2h
reenact`` scores near the tracker's noise floor; B's real footage passed off as A's result fails identity."""
from __future__ import annotations

from h2h_engine.training.eval_reenactment import evaluate_reenactment

IDENTITY_FRAMES = 6


def test_self_driven_result_is_near_the_noise_floor(reenactments, self_reenactment):
    result, driving = self_reenactment
    ev = evaluate_reenactment(result, driving, reenactments["target"], identity_frames=IDENTITY_FRAMES)
    m = ev.summary["measures"]
    assert ev.summary["identity"]["self_driven"] and ev.summary["identity"]["keeps_target"]
    for k in ("expression_rmse", "rotation_deg", "translation_px"):
        assert m[k]["result"] < 2.0 * m[k]["real"] + 0.05, (k, m[k])
    # driving A by himself transfers far more exactly than driving him by B does (0.09 there)
    assert m["expression_rmse"]["result"] < 0.06
    assert m["jaw_open_corr"]["result"] > 0.8 and m["mouth_corners_corr"]["result"] > 0.8
    assert abs(m["identity_to_target"]["result"] - m["identity_to_target"]["real"]) < 0.1


def test_wrong_pairing_fails_identity(reenactments, write_movie, tmp_path):
    fake = write_movie(reenactments["b"], (0, 29), tmp_path / "b_as_a.mp4")  # B's real footage as A's "result"
    ev = evaluate_reenactment(fake, reenactments["ab_driving"], reenactments["target"], identity_frames=IDENTITY_FRAMES)
    m = ev.summary["measures"]
    assert not ev.summary["identity"]["keeps_target"]
    assert m["nearer_target_share"]["result"] == 0.0 and m["identity_to_target"]["result"] > 0.6
    assert m["identity_to_source"]["result"] < 0.4  # it is B: near the source's references
