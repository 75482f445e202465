"""Engines that run G (synthesis/engine.py): ONNX Runtime and bf16 equal eager torch within their stated
tolerances on real conditioning from a tracked clip; the zero state is exact; ONNX export for hosts."""
from __future__ import annotations

import json
import warnings
from dataclasses import replace

import numpy as np
import pytest
import torch

from h2h_engine.errors import ConfigError
from h2h_engine.nodes.track import track_shot
from h2h_engine.render.conditioning import render_conditioning
from h2h_engine.render.crop import crop_box_for_track
from h2h_engine.synthesis import Generator, ModelConfig
from h2h_engine.synthesis.engine import (BF16_TOLERANCE, ONNX_TOLERANCE, OnnxStep, export_onnx, has_native_bf16,
                                         onnx_bytes, resolve_engine)
from h2h_engine.synthesis.generator import make_generator
from h2h_engine.synthesis.inference import Schedule, Synthesizer, conditioning_stack, temporal_stack

pytest.importorskip("onnxruntime")
SIZE = 64
RECURRENT = ModelConfig(size=SIZE, ngf=8, n_downsample=2, n_blocks_encoder=1, n_blocks_decoder=1)
FEED_FORWARD = ModelConfig(size=SIZE, arch="unet", ngf=8, unet_levels=3, n_cond_frames=1, n_prev_frames=0)


@pytest.fixture(scope="module")
def cond(clip, model) -> np.ndarray:
    """(16, 6, 64, 64) NMFC + eye images of 16 tracked frames of a real talking-head clip."""
    track = track_shot(str(clip("OpenTalker__DPE__data_s")), frames=(0, 15))
    box = crop_box_for_track(model, track)
    c = render_conditioning(model, track, (SIZE, SIZE), crop=box, what=("nmfc", "eyes", "mask"))
    return conditioning_stack(c.nmfc, c.eyes)


def _generator(cfg: ModelConfig) -> torch.nn.Module:
    torch.manual_seed(3)
    g = make_generator(cfg).eval()
    with torch.no_grad():  # the U-Net's head starts at zero (G = its base image): give every layer weights
        for p in g.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return g


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # exported steps go to a fresh cache
    torch.set_num_threads(1)


def test_onnx_step_matches_eager(cond):
    """Each step of the recurrent G, fed the same inputs (eager torch's own previous outputs), within
    ONNX_TOLERANCE; the zero state (first frame) included. (Whole recurrent sequences are compared step by
    step: an untrained G amplifies any difference in its previous frames, ~1.5x a frame.)"""
    g = _generator(RECURRENT)
    step = OnnxStep(g)
    c = torch.from_numpy(cond)
    prev = torch.zeros(1, RECURRENT.prev_channels, SIZE, SIZE)
    worst = 0.0
    with torch.no_grad():
        for t in range(len(cond)):
            x = temporal_stack(c, torch.tensor([t]), RECURRENT.n_cond_frames)
            y = g(x, prev)
            worst = max(worst, float((step(x, prev) - y).abs().max()))
            prev = torch.cat([prev[:, 3:], y], dim=1)
    assert worst < ONNX_TOLERANCE, worst
    assert float(y.abs().max()) > 0.05  # G makes an image (tanh output not collapsed to 0)


@pytest.mark.parametrize("stride", [1, 2])
def test_onnx_feed_forward_sequence_matches_eager(cond, stride):
    """A feed-forward G (the preview preset's U-Net, here without appearance inputs; at the full size and, as
    the preset runs it, at half the size on the pixel-unshuffled input) through the whole Synthesizer: every
    frame within ONNX_TOLERANCE of eager torch (in [0, 1] units)."""
    g = _generator(replace(FEED_FORWARD, unet_stride=stride))
    runs = {}
    for engine in ("torch", "onnx"):
        synth = Synthesizer(g, device="cpu", engine=engine, schedule=Schedule(block=8))
        assert synth.engine == engine
        runs[engine] = dict(synth.run(cond, 0, 0, len(cond) - 1))
    assert sorted(runs["onnx"]) == list(range(len(cond)))
    diff = max(float(np.abs(runs["onnx"][i] - runs["torch"][i]).max()) for i in runs["torch"])
    assert diff < ONNX_TOLERANCE, diff
    assert np.abs(runs["torch"][0] - runs["torch"][15]).max() > 1e-2  # frames follow the conditioning


def test_bf16_step_within_its_tolerance(cond):
    g = _generator(RECURRENT)
    with warnings.catch_warnings(record=True) as caught:  # emulated bf16 (no AVX512-BF16 / AMX) is said so
        warnings.simplefilter("always")
        synth = Synthesizer(g, device="cpu", engine="bf16")
    said = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning) and "bf16" in str(w.message)]
    assert len(said) == (0 if has_native_bf16() else 1) and all("--engine onnx" in m for m in said)
    c = torch.from_numpy(cond)
    x = temporal_stack(c, torch.tensor([5]), RECURRENT.n_cond_frames)
    prev = torch.rand(1, RECURRENT.prev_channels, SIZE, SIZE) * 2 - 1
    with torch.no_grad():
        diff = float((synth._whole_step(x, prev) - g(x, prev)).abs().max())
    assert 0 < diff < BF16_TOLERANCE, diff


def test_zero_state_is_exact():
    """prev all zeros adds exactly zero features (float32 used to give O(1..30) features of rounding noise)."""
    g = _generator(RECURRENT)
    cond = torch.rand(2, RECURRENT.cond_channels, SIZE, SIZE)
    zero = torch.zeros(2, RECURRENT.prev_channels, SIZE, SIZE)
    with torch.no_grad():
        feats = g.encode_cond(cond)
        assert torch.equal(g.step(feats, zero), g.decoder(feats))
        # per sample: a started sample in the same batch keeps its previous-frames features
        mixed = zero.clone()
        mixed[1] = torch.rand_like(mixed[1])
        y = g.step(feats, mixed)
        assert torch.equal(y[0], g.decoder(feats)[0])
        assert float((y[1] - g.decoder(feats)[1]).abs().max()) > 1e-3


def test_export_onnx_for_hosts(tmp_path, checkpoint):
    """``h2h export-generator CKPT -o G.onnx``: one per-frame graph (cond, prev) -> frame that ONNX Runtime runs
    as torch does, with the model config in its metadata."""
    import onnx
    import onnxruntime as ort

    from h2h_engine.cli import main
    from h2h_engine.synthesis.checkpoint import load_generator

    out = tmp_path / "G.onnx"
    assert main(["export-generator", str(checkpoint), "-o", str(out), "--json"]) == 0
    model = onnx.load(str(out))
    meta = {p.key: p.value for p in model.metadata_props}
    gen, _ = load_generator(checkpoint)
    assert json.loads(meta["model_config"]) == gen.cfg.to_dict()
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["cond", "prev"]
    s = gen.cfg.size
    cond, prev = torch.rand(2, gen.cfg.cond_channels, s, s), torch.rand(2, gen.cfg.prev_channels, s, s)
    with torch.no_grad():
        ref = gen(cond, prev).numpy()
    got = sess.run(None, {"cond": cond.numpy(), "prev": prev.numpy()})[0]  # batch 2: the batch axis is free
    assert got.shape == (2, 3, s, s)
    assert np.abs(got - ref).max() < ONNX_TOLERANCE
    # a feed-forward G exports with its conditioning input only
    path = tmp_path / "ff.onnx"
    export_onnx(_generator(FEED_FORWARD), path)
    assert [i.name for i in ort.InferenceSession(str(path)).get_inputs()] == ["cond"]
    assert onnx_bytes(_generator(FEED_FORWARD))[:2] == path.read_bytes()[:2]


def test_engine_choice_errors():
    g = Generator(RECURRENT)
    assert resolve_engine("auto", torch.device("cpu"), g) == "onnx"
    assert resolve_engine("auto", torch.device("cuda"), g) == "torch"
    assert resolve_engine("auto", torch.device("cpu"), make_generator(
        ModelConfig(size=SIZE, arch="none", appearance="warp", n_prev_frames=0, n_cond_frames=1))) == "torch"
    with pytest.raises(ConfigError, match="engine must be one of"):
        resolve_engine("tensorrt", torch.device("cpu"), g)
    with pytest.raises(ConfigError, match="CPU only"):
        resolve_engine("onnx", torch.device("cuda"), g)
    with pytest.raises(ConfigError, match="half"):
        Synthesizer(g, device="cpu", half=True, engine="onnx")
