"""``h2h eval ablate``: the variants of a preset (which apply, and why the others are skipped) and one tiny-preset
table trained for a few steps on a short real clip."""
from __future__ import annotations

import contextlib
import io
import json
import math

import numpy as np
import pytest

from h2h_engine.cli import main as h2h_main
from h2h_engine.render.flow import optical_flow
from h2h_engine.training.ablate import format_ablation, variants
from h2h_engine.training.cli import main_eval_ablate
from h2h_engine.training.config import load_config

CLIP = "OpenTalker__DPE__data_s"  # frontal TV interview, talking
FRAMES = "0-44"  # 30 training frames, 15 held out
ORDER = ["full", "no_mouth_d", "no_dynamics_d", "pix2pix", "dis_flow", "appearance_context_warp",
         "appearance_warp", "appearance_context", "instant"]


def _skipped(preset: str) -> dict[str, str]:
    vs = variants(load_config(preset))
    assert [v.name for v in vs] == ORDER
    return {v.name: v.skip for v in vs if v.skip}


def test_variants_per_preset():
    tiny = _skipped("tiny")  # head2head, crop region, no appearance inputs
    assert set(tiny) == {"appearance_context_warp", "appearance_warp", "appearance_context"}
    assert "no appearance inputs" in tiny["appearance_warp"]
    preview = _skipped("preview")  # U-Net, face region, context,warp, single frame, no D_D
    assert set(preview) == {"no_dynamics_d", "pix2pix", "dis_flow", "appearance_context_warp"}
    assert "already single-frame" in preview["pix2pix"] and "use_dynamics_d false" in preview["no_dynamics_d"]
    assert "only D_D" in preview["dis_flow"]
    assert {v.name: v for v in variants(load_config("tiny"))}["dis_flow"].data == {"flow": "dis"}
    vs = {v.name: v for v in variants(load_config("preview"))}
    assert vs["appearance_warp"].model == {"appearance": "warp"}
    assert vs["instant"].model == {"arch": "none", "appearance": "context,warp", "n_cond_frames": 1, "n_prev_frames": 0}
    # pix2pix: a model with temporal inputs loses them
    over = {"model": {"n_cond_frames": 3, "n_prev_frames": 2}}
    p2p = {v.name: v for v in variants(load_config("preview", None, over))}["pix2pix"]
    assert not p2p.skip and p2p.model == {"n_cond_frames": 1, "n_prev_frames": 0}
    instant = _skipped("instant")  # nothing is trained: only its appearance options apply
    assert set(ORDER) - set(instant) == {"full", "appearance_warp", "appearance_context"}
    assert "only D_D" in instant["dis_flow"]


@pytest.fixture(scope="module")
def table(tmp_path_factory, clip):
    video = str(clip(CLIP))
    root = tmp_path_factory.mktemp("ablate")
    track = root / "shot.h2h.npz"
    assert h2h_main(["--progress", "none", "track", video, "-o", str(track), "--frames", FRAMES]) == 0
    args = [video, "--track", str(track), "--preset", "tiny", "--steps", "5", "-o", str(root / "out"),
            "--set", "lambda_vgg=0", "--set", "model.ngf=8", "--set", "model.ndf=8"]
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        assert main_eval_ablate([*args, "--json"]) == 0
    return json.loads(text.getvalue()), root, args


def test_table(table, capsys):
    s, root, args = table
    rows = {r["name"]: r for r in s["rows"]}
    assert [r["name"] for r in s["rows"]] == ORDER and s["test_frames"] == [30, 44]
    trained = ["full", "no_mouth_d", "no_dynamics_d", "pix2pix", "dis_flow", "instant"]
    assert [n for n in ORDER if "skipped" not in rows[n]] == trained
    for n in trained:
        assert all(math.isfinite(rows[n][k]) and rows[n][k] > 0 for k in ("apd", "mapd", "mouth_apd", "flicker")), n
        assert rows[n]["steps"] == (0 if n == "instant" else 5)
    # same frames and seed, different training: the discriminators change G's updates from the first step
    assert len({rows[n]["apd"] for n in trained}) == len(trained)
    assert rows["pix2pix"]["model"] == {"n_cond_frames": 1, "n_prev_frames": 0}
    assert rows["dis_flow"]["data"] == {"flow": "dis"} and rows["dis_flow"]["model"] == {}
    # 5 steps of an untrained G against the retrieved real frames of the instant composite
    assert rows["instant"]["mapd"] < rows["full"]["mapd"]
    assert json.loads((root / "out" / "ablation.json").read_text()) == s
    assert (root / "out" / "cache").is_dir() and (root / "out" / "full" / "eval" / "summary.json").is_file()
    # the table: one line per variant; the output folder is not reused
    out = format_ablation(s)
    for n in ORDER:
        assert any(line.startswith(n + " ") for line in out.splitlines()), n
    assert "skipped: the preset has no appearance inputs" in out
    assert main_eval_ablate(args) == 2
    assert "is not empty: ablate trains its variants there" in capsys.readouterr().err


def test_dis_flow_cache(table):
    """The DIS variant's cached flow is OpenCV DIS of the cached real crops over the whole crop; the 3DMM's is
    confined to the rendered face (zero elsewhere) and moves with the same head."""
    _, root, _ = table
    caches = {}
    for folder in (root / "out" / "cache").glob("data-*"):
        flow = np.load(folder / "flow.npy").astype(np.float32)  # (T, 2, S, S)
        caches["model" if (flow[:, :, ~np.load(folder / "mask.npy").any(0)] == 0).all() else "dis"] = folder
    assert set(caches) == {"model", "dis"}
    images = np.load(caches["dis"] / "images.npy")
    assert np.array_equal(images, np.load(caches["model"] / "images.npy"))  # the same frames
    dis = np.load(caches["dis"] / "flow.npy").astype(np.float32)
    ref = optical_flow(images[10:13]).transpose(0, 3, 1, 2)  # frames 10 -> 11 -> 12 of the shot
    assert np.abs(dis[10:12] - ref[:2]).max() < 0.02  # float16 storage
    assert (dis[-1] == 0).all() and np.abs(dis[:-1]).mean() > 0.01
    model = np.load(caches["model"] / "flow.npy").astype(np.float32)
    mask = np.load(caches["model"] / "mask.npy")[:-1, None].repeat(2, 1)
    # inside the face both see the same head motion: same mean direction and a comparable size
    a, b = model[:-1][mask], dis[:-1][mask]
    assert np.corrcoef(a, b)[0, 1] > 0.6, np.corrcoef(a, b)[0, 1]  # 0.83 on this clip
