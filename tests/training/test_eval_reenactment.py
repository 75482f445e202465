"""``h2h eval reenactment`` on a real reenactment (see conftest.py): A driven by B keeps A and follows B; bad
input ends as one line. (test_eval_pairings.py: the self-driven result and a wrong pairing.)"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from h2h_engine.cli import main as h2h_main
from h2h_engine.io.writer import FrameWriter
from h2h_engine.track import Track
from h2h_engine.training.eval_reenactment import correlation, rotation_error_deg

IDENTITY_FRAMES = 6


def test_b_driving_a_keeps_a_and_follows_b(ab_report):
    s, _, _ = ab_report
    m = s["measures"]
    assert s["mode"] == "face" and s["n_frames"] == 30 and s["frames"] == [0, 29] and s["frames_without_face"] == []
    # identity: every described frame is nearer A than B, and A by dlib's threshold; the source is far
    assert s["identity"]["keeps_target"] and not s["identity"]["self_driven"]
    assert m["nearer_target_share"]["result"] == 1.0 and m["below_threshold_share"]["result"] == 1.0
    assert m["identity_to_target"]["result"] < 0.4 and m["identity_to_source"]["result"] > 0.7
    assert s["identity"]["frames_described"] == IDENTITY_FRAMES
    # the result opens its jaw when B does (B's jawOpen, retargeted, is the driving track's)
    assert m["jaw_open_corr"]["result"] > 0.8, m["jaw_open_corr"]
    assert m["expression_rmse"]["result"] < 0.15 and m["mouth_nme"]["result"] < 0.04
    # face mode keeps the plate's pose: within a couple of degrees / pixels of it
    assert s["pose_reference"].startswith("target plate")
    assert m["rotation_deg"]["result"] < 2.5 and m["translation_px"]["result"] < 2.0
    # the noise floor (the real plate re-encoded as the result is) is measured and lower than the transfer error
    assert 0 < m["expression_rmse"]["real"] < m["expression_rmse"]["result"]
    assert 0 < m["mouth_nme"]["real"] < m["mouth_nme"]["result"]
    assert m["identity_to_target"]["real"] < 0.3
    # flicker of the result against the real plate's, both measured
    f = s["flicker"]
    assert f["real"] > 0.5 and 0.3 < f["ratio"] < 2.0 and f["block_joins"] == []  # 30 rows: inside one block
    assert len(s["per_frame"]["result"]["flicker"]) == 30 and s["per_frame"]["result"]["flicker"][0] is None
    assert s["frames_per_second"] > 0


def test_measures_on_known_answers():
    t = np.linspace(0, 1, 50)
    assert correlation(np.sin(6 * t), 3 * np.sin(6 * t) + 1) == pytest.approx(1.0)
    assert np.isnan(correlation(np.ones(50), t))
    a = np.eye(3)[None].repeat(2, 0)
    c, s = np.cos(np.radians(10)), np.sin(np.radians(10))
    b = np.array([np.eye(3), [[c, -s, 0], [s, c, 0], [0, 0, 1]]])
    assert rotation_error_deg(a, b) == pytest.approx([0.0, 10.0], abs=1e-5)


def _fails(args: list[str], capsys) -> str:
    assert h2h_main(["--progress", "none", "eval", "reenactment", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("h2h: error: "), err
    return err


def test_bad_inputs_are_one_line_errors(reenactments, write_movie, tmp_path, capsys):
    drv, tgt = reenactments["ab_driving"], reenactments["target"]
    report = tmp_path / "report"
    # a result with no face: grey frames
    with FrameWriter(str(tmp_path / "grey.mp4"), fps=25) as w:
        for f in range(30):
            w.write(f, np.full((128, 128, 3), 128, np.uint8))
    err = _fails([str(tmp_path / "grey.mp4"), "--driving", drv, "--target", tgt, "--report", str(report)], capsys)
    assert "shows no face" in err and not report.exists()  # nothing half-written
    # mismatched frame counts: 20 frames for a 30-frame driving track
    short = write_movie(reenactments["b"], (0, 19), tmp_path / "short.mp4")
    err = _fails([short, "--driving", drv, "--target", tgt], capsys)
    assert "has 20 frames, the driving track 30" in err
    # tracks from another model
    other = Track.load(tgt)
    dataclasses.replace(other, model_name="other-model", model_digest="0" * 16).save(tmp_path / "other.h2h.npz")
    err = _fails([reenactments["ab"], "--driving", drv, "--target", str(tmp_path / "other.h2h.npz")], capsys)
    assert "fitted with model" in err and "one model" in err
    # a driving track made for another target (B's own track as the driving one)
    err = _fails([reenactments["ab"], "--driving", reenactments["source"], "--target", tgt], capsys)
    assert "identity" in err
    # the report is an output: an existing page is kept unless --force, an input is never written over
    report.mkdir()
    (report / "index.html").write_text("keep")
    err = _fails([reenactments["ab"], "--driving", drv, "--target", tgt, "--report", str(report)], capsys)
    assert "exists: pass --force" in err and (report / "index.html").read_text() == "keep"
