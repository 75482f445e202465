"""DistributedDataParallel under torchrun (2 gloo processes on CPU) on a short real clip.

Two processes with one sequence each take the step one process takes with both sequences as one batch
(same sequences, same averaged gradients, same weights within float tolerance), and a stopped-and-resumed
2-process run (resumed as two one-process "nodes" meeting at a c10d rendezvous) equals the uninterrupted
one bit for bit.

The equivalence run uses the U-Net generator without fed-back frames: the paper's G feeds all-zero previous
frames through instance norms at every sequence start, which turns rounding noise into O(1) features, so
two runs that batch differently part ways within a step however the gradients are averaged.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from h2h_engine.cli import main as h2h_main
from h2h_engine.synthesis.checkpoint import read_checkpoint
from h2h_engine.training.config import config_from_dict
from h2h_engine.training.distributed import rank_share
from h2h_engine.training.train import build_networks

FRAMES = "0-17"  # 12 training frames
# tiny preset, narrower; sequences of 6 frames = 2 steps of 3; 12 frames / (3 x 2 sequences) = 2 steps per
# epoch, 2 epochs = 4 steps. D_D's second temporal scale (7 frames) never fits: its parameters stay unused.
SETTINGS = ["random_vgg=true", "model.ngf=8", "model.ndf=8", "seq_len_start=6", "seq_len_max=6", "epochs=1",
            "decay_epochs=1", "checkpoint_every=1000", "sample_every=1000", "log_every=1", "device=cpu"]
UNET = ["model.arch=unet", "model.n_prev_frames=0", "model.unet_levels=2"]
STEPS = 4
NOISE = 1e-5  # Adam first moments below this are rounding noise (biases an instance norm cancels: ~1e-8)


def _args(target: tuple[Path, Path], out: Path, extra: list[str], resume: bool = False) -> list[str]:
    video, track = target
    return ["--target", str(video), "--track", str(track), "-o", str(out), "--no-progress",
            *(["--resume"] if resume else ["--preset", "tiny"]),
            *[a for item in SETTINGS + extra for a in ("--set", item)]]


def _torchrun(launcher: list[str], args: list[str], nodes: int = 1) -> None:
    """``torchrun LAUNCHER -m h2h_engine train ARGS`` (the installed engine's train node in every process), once
    per node (concurrently); all must succeed."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", *launcher, "-m", "h2h_engine", "train", *args]
    procs = [subprocess.Popen(cmd, cwd=tempfile.gettempdir(), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(nodes)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    for p, out in zip(procs, outs):
        assert p.returncode == 0, out[-3000:]


STANDALONE = ["--standalone", "--nproc_per_node", "2"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _weights(ckpt: dict) -> dict[str, torch.Tensor]:
    out = {f"generator.{k}": v for k, v in ckpt["generator"].items()}
    for d, state in ckpt["discriminators"].items():
        out.update({f"{d}.{k}": v for k, v in state.items()})
    return out


def _first_moments(ckpt: dict) -> dict[str, torch.Tensor]:
    """Adam's exp_avg of every trained parameter by name (after one step: 0.1 x the step's gradient)."""
    nets = build_networks(config_from_dict(ckpt["config"]), torch.device("cpu"), say=lambda text: None)
    names = [f"generator.{n}" for n, _ in nets.g.named_parameters()]
    d_names = [f"{k}.{n}" for k, d in nets.discriminators().items() for n, _ in d.named_parameters()]
    out = {}
    for opt, keys in ((ckpt["optimizer_g"], names), (ckpt["optimizer_d"], d_names)):
        ids = opt["param_groups"][0]["params"]
        out.update({keys[i]: opt["state"][i]["exp_avg"] for i in ids if i in opt["state"]})
    return out


def _with_cache(src: Path, new: Path) -> Path:
    new.mkdir(parents=True)
    shutil.copytree(src / "cache", new / "cache")
    return new


@pytest.fixture(scope="module")
def target(target_shot):
    """(video, track file) of the target shot (conftest.py), frames FRAMES."""
    return target_shot(FRAMES)


@pytest.fixture(scope="module")
def single(tmp_path_factory, target):
    """One step of one process with both sequences in one batch (U-Net, no fed-back frames)."""
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("runs") / "single"
    assert h2h_main(["train", *_args(target, out, [*UNET, "batch=2"]), "--stop-after", "1"]) == 0
    return out


def test_rank_share():
    starts = np.arange(6)
    assert [rank_share(starts, r, 3).tolist() for r in range(3)] == [[0, 3], [1, 4], [2, 5]]
    with pytest.raises(ValueError, match="do not split evenly over 4"):
        rank_share(starts, 0, 4)


def test_two_processes_equal_one_with_the_combined_batch(single, target, tmp_path):
    out = _with_cache(single, tmp_path / "ddp")
    _torchrun(STANDALONE, _args(target, out, [*UNET, "batch=1"]) + ["--stop-after", "1"])
    a, b = read_checkpoint(single / "checkpoint.pt"), read_checkpoint(out / "checkpoint.pt")
    assert a["step"] == b["step"] == 1 and json.loads((out / "run.json").read_text())["world_size"] == 2
    # the ranks drew the combined batch's two (different) sequences, one each
    assert b["carry"]["world"] == 2 and torch.equal(a["carry"]["starts"], b["carry"]["starts"])
    assert len(set(b["carry"]["starts"].tolist())) == 2 and b["carry"]["fakes"].shape[:3] == (2, 1, 3)
    # the averaged gradients (Adam's first moments) are the combined batch's
    ma, mb = _first_moments(a), _first_moments(b)
    assert ma.keys() == mb.keys() and len(ma) > 50
    for net in ("generator.", "image.", "mouth.", "dynamics."):
        va = torch.cat([v.reshape(-1) for k, v in ma.items() if k.startswith(net)])
        vb = torch.cat([mb[k].reshape(-1) for k in ma if k.startswith(net)])
        assert (va - vb).norm() < 1e-5 * va.norm(), net
    # so are the weights, but where the gradient is rounding noise that Adam scales up to a full step
    wa, wb = _weights(a), _weights(b)
    noise = {k for k, m in ma.items() if 0 < m.norm() < NOISE}  # (U-Net layers behind its zero-initialised
    assert noise and all(k.endswith(".bias") for k in noise)    # output layer get exactly 0 at first)
    for k in wa.keys() - noise:
        torch.testing.assert_close(wb[k], wa[k], rtol=0, atol=1e-6, msg=lambda m, k=k: f"{k}: {m}")
    # D_D's 7-frame scale never ran: untouched (no Adam state), as in the single process
    unused = [k for k in wa if k.startswith("dynamics.temporal.1.")]
    assert unused and not any(k in ma or k in mb for k in unused)
    assert all(torch.equal(wa[k], wb[k]) for k in unused)


def test_resume_across_two_nodes_is_exact(single, target, tmp_path):
    """The paper's G (carrying its previous frames per rank) stopped mid-sequence and resumed."""
    whole = _with_cache(single, tmp_path / "whole")
    _torchrun(STANDALONE, _args(target, whole, ["batch=1"]))
    parts = _with_cache(single, tmp_path / "parts")
    _torchrun(STANDALONE, _args(target, parts, ["batch=1"]) + ["--stop-after", "3"])
    mid = read_checkpoint(parts / "checkpoint.pt")
    assert mid["step"] == 3 and mid["carry"]["pos"] == 3  # stopped inside the ranks' training sequences
    # resumed by two machines' worth of torchrun agents (one process each) meeting at a rendezvous
    rdzv = ["--nnodes", "2", "--nproc_per_node", "1", "--rdzv-backend", "c10d", "--rdzv-endpoint",
            f"127.0.0.1:{_free_port()}", "--rdzv-id", "h2h-test"]
    _torchrun(rdzv, _args(target, parts, ["batch=1"], resume=True), nodes=2)
    a, b = read_checkpoint(whole / "checkpoint.pt"), read_checkpoint(parts / "checkpoint.pt")
    assert a["step"] == b["step"] == STEPS and a["carry"]["world"] == b["carry"]["world"] == 2
    wa, wb = _weights(a), _weights(b)
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    assert torch.equal(a["carry"]["fakes"], b["carry"]["fakes"])
    assert not torch.equal(b["carry"]["fakes"][0], b["carry"]["fakes"][1])  # each rank its own sequence
    for opt in ("optimizer_g", "optimizer_d"):
        for i, s in a[opt]["state"].items():
            assert torch.equal(s["exp_avg_sq"], b[opt]["state"][i]["exp_avg_sq"]), (opt, i)
