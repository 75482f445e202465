import json

import numpy as np
import pytest

from h2h_engine import Track
from h2h_engine.cli import main
from h2h_engine.io.writer import FrameWriter


@pytest.fixture(scope="module")
def tracked(tmp_path_factory, clip):
    out = tmp_path_factory.mktemp("track") / "shot.h2h.npz"
    assert main(["--progress", "none", "track", str(clip("W009_front_neutral")), "-o", str(out),
                 "--frames", "0-39"]) == 0
    return out


def test_track_cli_writes_a_good_track(tracked):
    t = Track.load(tracked)
    assert len(t) == 40 and t.frames[0] == 0 and t.frames[-1] == 39
    assert t.expression.shape == (40, 53) and t.identity.shape == (100,)
    assert np.isfinite(t.rmse).all()
    # the fit reprojects onto the detections within a few pixels on this 256 px clip
    assert float(np.median(t.rmse)) < 4.0


def test_info_json(tracked, capsys):
    assert main(["info", str(tracked), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["frames"] == 40 and info["frames_without_face"] == 0
    assert info["nme_mean"] < 0.05
    assert info["rmse_px_mean"] <= info["rmse_px_max"]


def test_slice_roundtrip(tracked, tmp_path):
    t = Track.load(tracked).slice(10, 19)
    assert list(t.frames) == list(range(10, 20))
    t.save(tmp_path / "s.h2h.npz")
    back = Track.load(tmp_path / "s.h2h.npz")
    np.testing.assert_array_equal(back.expression, t.expression)


def test_bad_inputs_leave_nothing(tmp_path, capsys):
    out = tmp_path / "x.h2h.npz"
    assert main(["--progress", "none", "track", str(tmp_path / "missing.mp4"), "-o", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x01" * 4000)
    assert main(["--progress", "none", "track", str(corrupt), "-o", str(out)]) == 2
    # a clip with no face at all: a clear error and no half-written track
    blank = tmp_path / "blank.mp4"
    with FrameWriter(blank, fps=25) as w:
        for f in range(5):
            w.write(f, np.full((128, 128, 3), 0.5, np.float32))
    assert main(["--progress", "none", "track", str(blank), "-o", str(out)]) == 2
    assert "no face" in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob(".x.h2h*"))
