"""Sequential inference: chunked == whole, TorchScript export, checkpoint reading errors."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from h2h_engine.errors import CheckpointError, ConfigError, InputError
from h2h_engine.synthesis import Generator, ModelConfig
from h2h_engine.synthesis.checkpoint import SCHEMA, load_generator
from h2h_engine.synthesis.inference import (Schedule, Synthesizer, conditioning_stack, export_torchscript, pick_device,
                                           temporal_stack)

CFG = ModelConfig(size=32, ngf=8, n_downsample=2, n_blocks_encoder=1, n_blocks_decoder=1)


@pytest.fixture(scope="module")
def generator():
    torch.manual_seed(1)
    return Generator(CFG).eval()


def test_schedule_blocks():
    s = Schedule(block=10, warmup=3)
    assert s.blocks(5, 23) == [(0, 5, 9), (7, 10, 19), (17, 20, 23)]
    assert s.needed(12, 14) == (5, 14)  # block 1 starts at 7, minus 2 frames of conditioning context
    assert s.needed(0, 3) == (0, 3)


def test_stacks_equal_their_definitions():
    """The channel-first input stack and the one-frame view of temporal_stack equal concatenation and indexing."""
    rng = np.random.default_rng(3)
    parts = [rng.random((4, 5, 6, c), dtype=np.float32) for c in (3, 3, 3, 1)]
    np.testing.assert_array_equal(conditioning_stack(*parts), np.concatenate(parts, -1).transpose(0, 3, 1, 2))
    c = torch.from_numpy(rng.random((6, 2, 3, 3), dtype=np.float32))  # track indices 0..5
    for t in (0, 2, 5):
        for n in (1, 2, 3):  # frames t-n+1..t, oldest first, those before 0 repeating frame 0
            want = torch.cat([c[max(t - k, 0)][None] for k in range(n - 1, -1, -1)], 1)
            np.testing.assert_array_equal(temporal_stack(c, torch.tensor([t]), n), want)
    np.testing.assert_array_equal(temporal_stack(c[2:], torch.tensor([4]), 1, offset=2), c[4:5])


def test_chunks_equal_whole(generator):
    torch.set_num_threads(1)
    cond = np.random.default_rng(0).random((45, 6, 32, 32), dtype=np.float32)
    synth = Synthesizer(generator, device="cpu", schedule=Schedule(block=12, warmup=4, encoder_batch=5))
    whole = dict(synth.run(cond, 0, 0, 44))
    assert sorted(whole) == list(range(45))
    for a, b in [(0, 4), (7, 30), (13, 13), (25, 44)]:
        lo, hi = synth.schedule.needed(a, b)
        part = dict(synth.run(cond[lo:hi + 1], lo, a, b))
        assert sorted(part) == list(range(a, b + 1))
        for i in part:
            assert np.array_equal(part[i], whole[i]), (a, b, i)
    # consecutive frames differ (the state and conditioning are used), and outputs are in [0, 1]
    assert np.abs(whole[20] - whole[21]).max() > 1e-3
    assert min(v.min() for v in whole.values()) >= 0 and max(v.max() for v in whole.values()) <= 1
    with pytest.raises(ValueError, match="need"):
        list(synth.run(cond[10:], 10, 20, 30))


def test_torchscript_export_matches(generator, tmp_path):
    path = tmp_path / "g.ts.pt"
    export_torchscript(generator, path)
    extra = {"model_config.json": ""}
    ts = torch.jit.load(str(path), _extra_files=extra)
    assert json.loads(extra["model_config.json"])["ngf"] == 8
    cond, prev = torch.rand(1, 18, 32, 32), torch.rand(1, 6, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(ts(cond, prev), generator(cond, prev))
        torch.testing.assert_close(ts.step(ts.encode_cond(cond), prev), generator(cond, prev))


def _save(path, **entries):
    torch.save({"schema": SCHEMA, "data": {}, **entries}, path)


def test_checkpoint_errors(generator, tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_generator(tmp_path / "none.pt")
    bad = tmp_path / "corrupt.pt"
    bad.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_generator(bad)
    p = tmp_path / "c.pt"
    torch.save({"schema": "Other.1"}, p)
    with pytest.raises(CheckpointError, match="not a head2head checkpoint"):
        load_generator(p)
    other = ModelConfig(size=32, ngf=16, n_downsample=2, n_blocks_encoder=1, n_blocks_decoder=1)
    _save(p, model_config=other.to_dict(), generator=generator.state_dict())
    with pytest.raises(CheckpointError, match="do not match its model_config"):
        load_generator(p)
    _save(p, model_config={**CFG.to_dict(), "attention": True}, generator=generator.state_dict())
    with pytest.raises(CheckpointError, match="model_config is not one this engine knows"):
        load_generator(p)
    _save(p, model_config=CFG.to_dict(), generator=generator.state_dict())
    g, _ = load_generator(p)
    x = torch.rand(1, 18, 32, 32), torch.rand(1, 6, 32, 32)
    with torch.no_grad():
        assert torch.equal(g(*x), generator(*x))


def test_device_choice():
    assert pick_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA"):
            pick_device("cuda")


@pytest.mark.cuda
def test_cuda_fp16_matches_cpu(generator):
    cond = np.random.default_rng(2).random((20, 6, 32, 32), dtype=np.float32)
    cpu = dict(Synthesizer(generator, device="cpu").run(cond, 0, 0, 19))
    gpu_synth = Synthesizer(Generator(CFG).eval(), device="cuda")
    gpu_synth.g.load_state_dict(generator.state_dict())
    assert gpu_synth.half
    gpu = dict(gpu_synth.run(cond, 0, 0, 19))
    assert max(np.abs(cpu[i] - gpu[i]).max() for i in cpu) < 0.03


def test_feed_forward_generators_have_no_block_seams(tmp_path):
    """U-Net (preview) frames depend on their own inputs only: any block size and range give the same pixels,
    so there is no seam where blocks join."""
    from h2h_engine.synthesis.generator import make_generator
    from h2h_engine.synthesis.unet import base_image

    torch.set_num_threads(1)
    cfg = ModelConfig(size=32, arch="unet", region="face", appearance="context,warp", ngf=8, unet_levels=2,
                      n_cond_frames=1, n_prev_frames=0)
    torch.manual_seed(2)
    g = make_generator(cfg).eval()
    with torch.no_grad():
        for p in g.head.parameters():  # a trained-like head (the real one starts at zero)
            p.normal_(0, 0.1)
    cond = np.random.default_rng(3).random((30, cfg.frame_channels, 32, 32), dtype=np.float32)
    small = dict(Synthesizer(g, device="cpu", schedule=Schedule(block=4)).run(cond, 0, 0, 29))
    large = dict(Synthesizer(g, device="cpu").run(cond, 0, 0, 29))
    part = dict(Synthesizer(g, device="cpu").run(cond[7:20], 7, 7, 19))
    assert all(np.array_equal(small[i], large[i]) for i in range(30))
    assert all(np.array_equal(part[i], large[i]) for i in range(7, 20))
    # an untrained U-Net reproduces its full-size base image (zero-initialised residual), also when it runs at
    # half the size (unet_stride 2, the preview preset): the base's pixel detail is never resampled
    x = torch.from_numpy(cond[:2])
    for stride in (1, 2):
        half = replace(cfg, unet_stride=stride)
        fresh = make_generator(half).eval()
        with torch.no_grad():
            assert torch.equal(fresh(x), base_image(x, half).clamp(-1, 1))
    path = tmp_path / "g.ts.pt"
    export_torchscript(g, path)
    ts = torch.jit.load(str(path))
    with torch.no_grad():
        assert torch.allclose(ts(x, torch.zeros(2, 0, 32, 32)), g(x), atol=1e-6)
