"""Trainer on a real clip: losses fall, held-out APD beats the mean-frame baseline, exact resume, bad input.

One tiny-preset run is trained per module (tracking and rendering included); the resume runs reuse its
conditioning cache and train a narrower model for a few steps. Multi-process training: test_distributed.py.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml

from h2h_engine.cli import main as h2h_main
from h2h_engine.synthesis.checkpoint import read_checkpoint
from h2h_engine.training.cli import main_eval

FRAMES = "0-89"  # 60 training frames, 30 held out
# The convergence run: the tiny preset at 64 px, 32 + 8 epochs (800 steps); VGG off (a random VGG carries no
# perceptual signal; the resume runs below exercise the VGG term).
TRAIN_SETTINGS = ["lambda_vgg=0", "epochs=32", "decay_epochs=8", "log_every=1"]
# Narrow fast model for the resume runs (sequences of 6 frames = 2 steps, so a stop at an odd step
# interrupts a sequence mid-way); the first quarter (10 of 40 steps) trains on L1 alone, so a resume at step 7
# crosses into the adversarial phase.
SMALL = ["random_vgg=true", "model.ngf=8", "model.ndf=8", "seq_len_start=6", "seq_len_max=6", "epochs=1",
         "decay_epochs=1", "checkpoint_every=1000", "sample_every=1000", "log_every=1", "l1_fraction=0.25"]


def _sets(items: list[str]) -> list[str]:
    return [a for item in items for a in ("--set", item)]


@pytest.fixture(scope="module")
def target(target_shot):
    """(video, track file) of the target shot (conftest.py), frames FRAMES."""
    return target_shot(FRAMES)


@pytest.fixture(scope="module")
def run(tmp_path_factory, target):
    torch.set_num_threads(2)
    out = tmp_path_factory.mktemp("runs") / "tiny"
    video, track = target
    assert h2h_main(["train", "--target", str(video), "--track", str(track), "-o", str(out), "--preset", "tiny",
                     "--no-progress", *_sets(TRAIN_SETTINGS)]) == 0
    return out


def _with_cache(run: Path, new: Path) -> Path:
    new.mkdir(parents=True)
    shutil.copytree(run / "cache", new / "cache")
    return new


def _train_args(target, out: Path, extra: list[str]) -> list[str]:
    """``h2h train`` of ``target`` into ``out`` with the ``--set`` items ``extra``, progress off."""
    video, track = target
    return ["train", "--target", str(video), "--track", str(track), "-o", str(out), "--no-progress", *_sets(extra)]


def test_run_dir(run, target):
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["model"]["size"] == 64 and cfg["lambda_vgg"] == 0 and cfg["lambda_l1"] == 10
    inputs = json.loads((run / "run.json").read_text())
    assert inputs["target"] == str(target[0].resolve())
    assert list((run / "samples").glob("*.png"))
    ckpt = read_checkpoint(run / "checkpoint.pt")
    assert ckpt["model_config"] == cfg["model"] and ckpt["step"] == 40 * 20  # 40 epochs x 20 steps of 3 frames
    assert ckpt["data"]["n_train"] == 60 and ckpt["data"]["n_frames"] == 90


def test_losses_fall(run):
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(1, 801))
    first = sum(r["g_l1"] for r in log[:10]) / 10
    last = sum(r["g_l1"] for r in log[-10:]) / 10
    assert last < 0.4 * first
    assert sum(r["g_fm"] for r in log[-10:]) < 0.6 * sum(r["g_fm"] for r in log[:10])


def test_heldout_apd_beats_mean_frame(run, capsys):
    assert main_eval([str(run), "--json", "--device", "cpu"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["n_test"] == 30 and summary["test_frames"] == [60, 89]
    # G beats the mean training frame on the whole crop, and by far inside the face (where the
    # conditioning says what to draw; the static studio background favours the mean frame)
    assert summary["apd"]["ratio"] < 1.0, summary["apd"]
    assert summary["mapd"]["ratio"] < 0.8, summary["mapd"]
    assert summary["mouth_apd"]["ratio"] < 0.8, summary["mouth_apd"]
    assert summary["psnr"]["ratio"] > 1.05, summary["psnr"]
    assert json.loads((run / "eval" / "summary.json").read_text()) == summary
    assert len(list((run / "eval").glob("heat-*.png"))) == 4


def test_resume_equals_uninterrupted(run, target, tmp_path):
    torch.set_num_threads(1)
    whole = _with_cache(run, tmp_path / "whole")
    assert h2h_main(_train_args(target, whole, SMALL)) == 0
    parts = _with_cache(run, tmp_path / "parts")
    assert h2h_main(_train_args(target, parts, SMALL) + ["--stop-after", "7"]) == 0
    mid = read_checkpoint(parts / "checkpoint.pt")
    assert mid["step"] == 7 and mid["carry"]["pos"] == 3  # stopped inside a training sequence
    assert h2h_main(_train_args(target, parts, SMALL) + ["--resume"]) == 0
    a, b = read_checkpoint(whole / "checkpoint.pt"), read_checkpoint(parts / "checkpoint.pt")
    assert a["step"] == b["step"] == 40
    for key in ("generator", *[f"discriminators.{k}" for k in a["discriminators"]]):
        sa = a["generator"] if key == "generator" else a["discriminators"][key.split(".")[1]]
        sb = b["generator"] if key == "generator" else b["discriminators"][key.split(".")[1]]
        for name in sa:
            assert torch.equal(sa[name], sb[name]), (key, name)
    assert a["optimizer_g"]["state"][0]["exp_avg"].equal(b["optimizer_g"]["state"][0]["exp_avg"])
    # the loss log of the resumed run is the uninterrupted one, but for its wall-clock times
    records = lambda run_dir: [{k: v for k, v in json.loads(line).items() if k != "time_s"}  # noqa: E731
                               for line in (run_dir / "log.jsonl").read_text().splitlines()]
    assert records(whole) == records(parts)
    # steps 1-10: L1 alone, no discriminator ran; then the adversarial terms, VGG on (random VGG19 of the real
    # architecture)
    log = records(whole)
    assert all(r["g_l1"] > 0 and r["g_gan"] == r["g_fm"] == r["g_vgg"] == r["loss_d"] == 0
               and not any(k.startswith("d_") for k in r) for r in log[:10])
    assert all(r["g_gan"] > 0 and r["g_vgg"] > 0 and r["loss_d"] > 0 for r in log[10:])


def test_bad_inputs(run, target, tmp_path, capsys, monkeypatch):
    video, track = target
    # an existing run without --resume, and --resume of nothing
    assert h2h_main(_train_args(target, run, [])) == 2
    assert "--resume" in capsys.readouterr().err
    assert h2h_main(_train_args(target, tmp_path / "new", []) + ["--resume"]) == 2
    assert "nothing to resume" in capsys.readouterr().err
    # resuming with another model config
    assert h2h_main(_train_args(target, run, ["model.ngf=32"]) + ["--resume"]) == 2
    assert "model.ngf=32 differs from the run's config.yaml (16)" in capsys.readouterr().err
    # a corrupt checkpoint
    broken = _with_cache(run, tmp_path / "broken")
    (broken / "checkpoint.pt").write_bytes((run / "checkpoint.pt").read_bytes()[:5000])
    assert h2h_main(_train_args(target, broken, ["lambda_vgg=0", "lr=0.001"]) + ["--resume"]) == 2
    assert "corrupt" in capsys.readouterr().err
    # VGG weights required but absent
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_torch_home"))
    assert h2h_main(_train_args(target, tmp_path / "vgg", ["require_vgg=true"])) == 2
    assert "require_vgg" in capsys.readouterr().err
    # unknown config key, wrong type
    assert h2h_main(_train_args(target, tmp_path / "cfg", ["epoch=3"])) == 2
    assert "unknown config key" in capsys.readouterr().err
    assert h2h_main(_train_args(target, tmp_path / "cfg", ["l1_fraction=1.5"])) == 2
    assert "l1_fraction must be in [0, 1]" in capsys.readouterr().err
    # a missing track
    assert h2h_main(["--progress", "none", "train", "--target", str(video), "--track", str(tmp_path / "none.h2h.npz"),
                     "-o", str(tmp_path / "x")]) == 2
    assert "does not exist" in capsys.readouterr().err
    # the eval of a folder that is not a run
    assert main_eval([str(tmp_path)]) == 2
    assert "not a finished training run" in capsys.readouterr().err


def test_h2h_train_progress_lines_and_json(tmp_path, clip, capsys):
    """``h2h train`` takes the global ``--progress plain`` (one ``PROGRESS: N%`` line per step on stdout, for
    farm queues) and ``--json`` (the checkpoint as JSON), before or after the command."""
    video = clip("W009_front_neutral")
    track = tmp_path / "t.h2h.npz"
    assert h2h_main(["--progress", "none", "track", str(video), "-o", str(track), "--frames", "0-11"]) == 0
    small = ["random_vgg=true", "model.ngf=8", "model.ndf=8", "seq_len_start=3", "seq_len_max=3", "epochs=1",
             "decay_epochs=0", "checkpoint_every=1000", "sample_every=1000"]
    capsys.readouterr()
    assert h2h_main(["--json", "train", "--target", str(video), "--track", str(track), "-o", str(tmp_path / "run"),
                     *_sets(small), "--progress", "plain"]) == 0
    lines = capsys.readouterr().out.splitlines()
    steps = [line for line in lines if line.startswith("PROGRESS:")]
    assert lines[:len(steps)] == steps  # the progress lines, then the result
    assert json.loads("\n".join(lines[len(steps):])) == {"checkpoint": str(tmp_path / "run" / "checkpoint.pt")}
    total = read_checkpoint(tmp_path / "run" / "checkpoint.pt")["step"]  # the run's steps
    assert steps == [f"PROGRESS: {100 * k // total}%" for k in range(1, total + 1)] and total == 3
