"""The main job end to end on real clips: track both, train a tiny model briefly, retarget, synthesize."""
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from h2h_engine import Track
from h2h_engine.cli import main
from h2h_engine.io import open_frames
from h2h_engine.nodes import get_spec
from h2h_engine.nodes.reenact import default_work_dir


@pytest.fixture(scope="module")
def reenacted(tmp_path_factory, clip):
    out = tmp_path_factory.mktemp("reenact") / "out.mp4"
    src, tgt = clip("EDTalk__test_data_mouth_source"), clip("German_20s")
    result = get_spec("reenact")(source=str(src), source_frames="0-29", target=str(tgt), frames="0-35", epochs=1,
                                 device="cpu", output=str(out))
    args = ["--progress", "none", "--json", "reenact", "--source", str(src), "--source-frames", "0-29",
            "--target", str(tgt), "--frames", "0-35", "--epochs", "1", "-o", str(out)]
    return out, src, tgt, args, result


def test_output_is_the_target_plate_with_a_new_face(reenacted):
    out, src, tgt, _, result = reenacted
    got = [rgb for _, rgb in open_frames(out)]
    plate = [rgb for _, rgb in open_frames(tgt, (0, 29))]
    assert len(got) == 30  # the source (30 frames) drives the first 30 target frames, then stops
    work = default_work_dir(str(out))
    retargeted = Track.load(next((work / "cache").glob("retarget-*/output.h2h.npz")))
    assert list(retargeted.frames) == list(range(30))
    # outside the face crop the plate comes through (H.264 noise only); inside it the face is synthesized
    diff = np.abs(np.stack(got).astype(np.float32) - np.stack(plate).astype(np.float32)).mean(axis=-1)  # (T, H, W)
    x0, y0, x1, y1 = (int(round(v)) for v in result["synthesize"]["crop_box"])
    outside = np.ones(diff.shape[1:], bool)
    m = 24  # twice the default feather: the soft edge blends across the box boundary
    outside[max(y0 - m, 0):y1 + m, max(x0 - m, 0):x1 + m] = False
    assert outside.any() and diff[:, outside].mean() < 3.0   # the plate, up to H.264 noise
    cy, cx, r = (y0 + y1) // 2, (x0 + x1) // 2, (x1 - x0) // 6
    assert diff[:, cy - r:cy + r, cx - r:cx + r].mean() > 5.0  # the face: synthesized pixels


def test_device_reaches_training(reenacted):
    *_, result = reenacted
    run_config = yaml.safe_load((Path(result["checkpoint"]).parent / "config.yaml").read_text())
    assert run_config["device"] == "cpu"  # --device picks where the target's model trains, not only G's inference


def test_rerun_reuses_tracks_and_training(reenacted, capsys):
    out, _, _, args, _ = reenacted
    capsys.readouterr()
    work = default_work_dir(str(out))
    upstream = sorted(work.rglob("*.h2h.npz")) + sorted(work.glob("run-*/checkpoint.pt"))
    stamps = [p.stat().st_mtime_ns for p in upstream]
    before = out.stat().st_mtime_ns
    assert main(args) == 2  # the output exists: kept unless --force (nothing recomputed to find that out)
    assert "exists: pass --force" in capsys.readouterr().err and out.stat().st_mtime_ns == before
    assert main(args + ["--force"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["checkpoint"].endswith("checkpoint.pt")
    # with --force the output is rewritten; tracks, retarget and the trained model come from the cache
    assert out.stat().st_mtime_ns > before
    assert [p.stat().st_mtime_ns for p in upstream] == stamps and len(upstream) == 5  # 3 tracks, bank, model


def test_missing_run_dir_is_a_clear_error(reenacted, tmp_path, capsys):
    _, src, tgt, _, _ = reenacted
    assert main(["--progress", "none", "reenact", "--source", str(src), "--target", str(tgt), "--source-frames",
                 "0-9", "--frames", "0-9", "--run-dir", str(tmp_path / "nope"),
                 "-o", str(tmp_path / "o.mp4")]) == 2
    err = capsys.readouterr().err
    assert "--run-dir" in err and "no checkpoint" in err  # names the flag the user actually has
    assert not (tmp_path / "o.mp4").exists()
