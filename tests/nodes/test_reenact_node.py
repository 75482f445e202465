"""The main job end to end on real clips: one graph that tracks both shots, retargets, trains a small model
briefly and synthesizes; every stage cached by content, every track file loaded once."""
import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml

import h2h_engine.track
from h2h_engine import Track
from h2h_engine.cli import main
from h2h_engine.io import open_frames
from h2h_engine.nodes import get_spec
from h2h_engine.nodes.reenact import default_work_dir, reenact_graph, train_settings
from h2h_engine.synthesis.checkpoint import read_checkpoint

STAGES = ["track", "track", "retarget", "train", "synthesize"]


@pytest.fixture(scope="module")
def reenacted(tmp_path_factory, clip):
    """(output, source, target, CLI arguments, the first run's result, track files loaded by that run)."""
    out = tmp_path_factory.mktemp("reenact") / "out.mp4"
    src, tgt = clip("EDTalk__test_data_mouth_source"), clip("German_20s")
    loads: Counter = Counter()
    read = h2h_engine.track.load_npz

    def counted(path, *a, **kw):  # every track file a Track.load actually reads
        loads[str(Path(path).resolve())] += 1
        return read(path, *a, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(h2h_engine.track, "load_npz", counted)
        result = get_spec("reenact")(source=str(src), source_frames="0-29", target=str(tgt), frames="0-35",
                                     epochs=1, device="cpu", output=str(out))
    args = ["--progress", "none", "--json", "reenact", "--source", str(src), "--source-frames", "0-29",
            "--target", str(tgt), "--frames", "0-35", "--epochs", "1", "-o", str(out)]
    return out, src, tgt, args, result, loads


def test_one_graph_reads_every_track_once(reenacted):
    """The first run ran every stage, and the target's track, which retarget, train and synthesize all read,
    was loaded once (so were the source's and the retargeted track)."""
    *_, result, loads = reenacted
    assert sorted(result["ran"]) == sorted(STAGES)
    tracks = {result[k]: loads[str(Path(result[k]).resolve())] for k in ("target_track", "source_track",
                                                                      "retargeted_track")}
    assert list(tracks.values()) == [1, 1, 1], tracks


def test_output_is_the_target_plate_with_a_new_face(reenacted):
    out, src, tgt, _, result, _ = reenacted
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
    *_, result, _ = reenacted
    run_config = yaml.safe_load((Path(result["checkpoint"]).parent / "config.yaml").read_text())
    assert run_config["device"] == "cpu"  # --device picks where the target's model trains, not only G's inference


def test_epochs_split_into_full_rate_and_decay():
    """--epochs N: about 2/3 at the full learning rate, the rest (at least one epoch from 2 on) decaying to 0,
    which is what makes a short CPU run settle (docs/synthesis.md); the mode's model settings come first."""
    split = {n: train_settings("preview", "face", n)[-2:] for n in (1, 2, 3, 6)}
    assert split == {1: ("epochs=1", "decay_epochs=0"), 2: ("epochs=1", "decay_epochs=1"),
                     3: ("epochs=2", "decay_epochs=1"), 6: ("epochs=4", "decay_epochs=2")}
    assert train_settings("preview", "face", 0) == ("model.region=face", "model.appearance=context,warp")
    assert train_settings("paper", "head", 0) == ()  # the paper's inputs and schedule exactly


def test_rerun_reuses_tracks_and_training(reenacted, capsys):
    out, _, _, args, first, _ = reenacted
    capsys.readouterr()
    work = default_work_dir(str(out))
    upstream = sorted(work.rglob("*.h2h.npz")) + sorted(work.glob("cache/train-*/output/checkpoint.pt"))
    stamps = [p.stat().st_mtime_ns for p in upstream]
    before = out.stat().st_mtime_ns
    assert main(args) == 2  # the output exists: kept unless --force (nothing recomputed to find that out)
    assert "exists: pass --force" in capsys.readouterr().err and out.stat().st_mtime_ns == before
    assert main(args + ["--force"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["checkpoint"] == first["checkpoint"] and result["ran"] == ["synthesize"]
    # with --force the output is rewritten; tracks, retarget and the trained model come from the cache
    assert out.stat().st_mtime_ns > before
    assert [p.stat().st_mtime_ns for p in upstream] == stamps and len(upstream) == 5  # 3 tracks, bank, model
    # a synthesize knob changes only synthesize: the same checkpoint, nothing re-trained
    assert main(args + ["--force", "--feather", "4", "--mask", "box"]) == 0
    assert json.loads(capsys.readouterr().out)["ran"] == ["synthesize"]
    assert [p.stat().st_mtime_ns for p in upstream] == stamps


def test_interrupted_training_resumes(reenacted, tmp_path):
    """A training run stopped part-way in the graph's cache folder (a killed reenact) continues from its
    checkpoint when reenact runs again, to the schedule's end."""
    out, src, tgt, _, first, _ = reenacted
    values = get_spec("reenact").validate({"source": str(src), "source_frames": "0-29", "target": str(tgt),
                                           "frames": "0-35", "epochs": 1, "device": "cpu",
                                           "work_dir": str(tmp_path / "work"), "output": str(tmp_path / "o.mp4")})
    shutil.copytree(default_work_dir(str(out)) / "cache", tmp_path / "work" / "cache",
                    ignore=shutil.ignore_patterns("train-*", "synthesize-*"))  # tracks and retarget stay cached
    g = reenact_graph(**values)
    tgt_track, train = g.nodes[1], g.nodes[3]
    get_spec("train")(target=str(tgt), track=g.run(tgt_track)["outputs"]["output"], output=train.path(),
                      preset=train.values["preset"], set=train.values["set"], stop_after=2)
    assert read_checkpoint(Path(train.path()))["step"] == 2
    result = get_spec("reenact")(**values)
    assert result["ran"] == ["train", "synthesize"]  # without --resume the trainer would refuse the folder
    assert read_checkpoint(result["checkpoint"])["step"] == read_checkpoint(first["checkpoint"])["step"] > 2


def test_missing_run_dir_is_a_clear_error(reenacted, tmp_path, capsys):
    _, src, tgt, *_ = reenacted
    assert main(["--progress", "none", "reenact", "--source", str(src), "--target", str(tgt), "--source-frames",
                 "0-9", "--frames", "0-9", "--run-dir", str(tmp_path / "nope"),
                 "-o", str(tmp_path / "o.mp4")]) == 2
    err = capsys.readouterr().err
    assert "--run-dir" in err and "no checkpoint" in err  # names the flag the user actually has
    assert not (tmp_path / "o.mp4").exists()
