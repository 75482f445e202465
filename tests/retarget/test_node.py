"""The retarget node: CLI and Python spec over track files."""
from dataclasses import replace

import numpy as np

from h2h_engine.cli import main
from h2h_engine.nodes import get_spec
from h2h_engine.track import FLAG_RETARGETED, Track


def test_cli_writes_a_retargeted_track(shots, model, tmp_path):
    a, b = shots
    a.save(tmp_path / "a.h2h.npz")
    b.save(tmp_path / "b.h2h.npz")
    out_path = tmp_path / "out.h2h.npz"
    lo, hi = int(b.frames[0]) + 3, int(b.frames[0]) + 12
    rc = main(["--progress", "none", "retarget", "--source", str(tmp_path / "a.h2h.npz"), "--target",
               str(tmp_path / "b.h2h.npz"), "-o", str(out_path), "--mode", "face", "--frames", f"{lo}-{hi}",
               "--source-offset", "2", "--past-end", "hold", "--no-neutral-offset"])
    assert rc == 0
    out = Track.load(out_path)
    assert np.array_equal(out.frames, np.arange(lo, hi + 1))
    assert np.all(out.flags & FLAG_RETARGETED)
    assert np.array_equal(out.rotation, b.rotation[3:13])
    assert np.array_equal(out.expression, np.clip(a.expression[2:12], *model.exp_bounds))
    rec = out.meta["retarget"]
    assert rec["mode"] == "face" and rec["model"]["digest"] == model.digest
    assert rec["source_path"] == str((tmp_path / "a.h2h.npz").resolve())
    assert rec["target_path"] == str((tmp_path / "b.h2h.npz").resolve())
    assert rec["knobs"] == {"frames": [lo, hi], "source_offset": 2, "past_end": "hold", "neutral_offset": False,
                            "neutral_percentile": 10.0, "within_target": False}
    assert rec["source_frame_of_output"] == (a.frames[2:12]).tolist()

    # the same node from Python gives the same track
    get_spec("retarget")(source=str(tmp_path / "a.h2h.npz"), target=str(tmp_path / "b.h2h.npz"),
                         output=str(tmp_path / "py.h2h.npz"), mode="face", frames=f"{lo}-{hi}", source_offset=2,
                         past_end="hold", neutral_offset=False)
    py = Track.load(tmp_path / "py.h2h.npz")
    for name in ("frames", "landmarks", "pupils", "expression", "rotation", "translation", "scale", "flags"):
        assert np.array_equal(getattr(py, name), getattr(out, name)), name


def test_cli_rejects_mismatched_models_in_one_line(shots, tmp_path, capsys):
    a, b = shots
    a.save(tmp_path / "a.h2h.npz")
    replace(b, model_digest="0123456789abcdef").save(tmp_path / "b.h2h.npz")
    rc = main(["--progress", "none", "retarget", "--source", str(tmp_path / "a.h2h.npz"), "--target",
               str(tmp_path / "b.h2h.npz"), "-o", str(tmp_path / "out.h2h.npz")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert "0123456789abcdef" in err and "re-track" in err
    assert not (tmp_path / "out.h2h.npz").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.h2h.npz", "b.h2h.npz"]  # nothing half-written
