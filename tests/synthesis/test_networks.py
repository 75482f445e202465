"""Generator, discriminators and losses: sizes, shapes, values on known inputs."""
from __future__ import annotations

import pytest
import torch

from h2h_engine.errors import ConfigError
from h2h_engine.synthesis import Generator, ModelConfig
from h2h_engine.synthesis.discriminators import (DynamicsDiscriminator, compose_flow, dynamics_window,
                                                 image_discriminator)
from h2h_engine.synthesis.generator import count_parameters
from h2h_engine.synthesis.losses import feature_matching, lsgan_d, lsgan_g

TINY = ModelConfig(size=32, ngf=8, n_downsample=2, n_blocks_encoder=1, n_blocks_decoder=1, ndf=8, n_layers_d=2)


def test_paper_generator_matches_authors_size():
    g = Generator(ModelConfig())
    assert count_parameters(g) == 70_806_531  # authors' network: 70.8 M
    assert len([m for m in g.cond_encoder if type(m).__name__ == "ResnetBlock"]) == 5
    assert len([m for m in g.decoder if type(m).__name__ == "ResnetBlock"]) == 4
    assert g.cond_encoder[1].in_channels == 18 and g.prev_encoder[1].in_channels == 6


def test_generator_shapes_and_range():
    torch.manual_seed(0)
    g = Generator(TINY)
    cond, prev = torch.rand(2, 18, 32, 32), torch.rand(2, 6, 32, 32) * 2 - 1
    y = g(cond, prev)
    assert y.shape == (2, 3, 32, 32)
    assert y.abs().max() <= 1
    # the recurrent input matters, and step(encode_cond) is the same computation as forward
    assert (g(cond, -prev) - y).abs().max() > 1e-4
    assert torch.equal(g.step(g.encode_cond(cond), prev), y)


def test_feed_forward_head2head_generator(tmp_path):
    """n_prev_frames 0 (the pix2pix-style ablation): no previous-frames encoder, the frame from its own
    conditioning; the Synthesizer runs it frame by frame and it exports as TorchScript."""
    import dataclasses

    import numpy as np

    from h2h_engine.synthesis.inference import Synthesizer, export_torchscript

    torch.manual_seed(0)
    cfg = dataclasses.replace(TINY, n_cond_frames=1, n_prev_frames=0)
    g = Generator(cfg).eval()
    assert g.prev_encoder is None and g.cond_encoder[1].in_channels == 6
    recurrent = Generator(dataclasses.replace(TINY, n_cond_frames=1))
    assert count_parameters(recurrent) - count_parameters(g) == count_parameters(recurrent.prev_encoder)
    cond = torch.rand(3, 6, 32, 32)
    with torch.no_grad():
        y = g(cond)
        assert y.shape == (3, 3, 32, 32) and torch.equal(g(cond, torch.zeros(3, 0, 32, 32)), y)
        frames = dict(Synthesizer(g, device="cpu").run(cond.numpy(), 0, 0, 2))
    assert all(np.abs(frames[i] - (y[i].permute(1, 2, 0).numpy() + 1) / 2).max() < 1e-5 for i in range(3))
    export_torchscript(g, tmp_path / "g.ts.pt")
    with torch.no_grad():
        assert torch.allclose(torch.jit.load(str(tmp_path / "g.ts.pt"))(cond, torch.zeros(3, 0, 32, 32)), y)
    with pytest.raises(ConfigError, match="n_prev_frames must be >= 0"):
        ModelConfig(n_prev_frames=-1)


def test_model_config_rejects_bad_values():
    with pytest.raises(ConfigError, match="divisible"):
        ModelConfig(size=100, n_downsample=3)
    with pytest.raises(ConfigError, match="unknown model config key"):
        ModelConfig.from_dict({"ngf": 8, "nfg": 8})
    with pytest.raises(ConfigError, match="must be int"):
        ModelConfig.from_dict({"ngf": "wide"})
    with pytest.raises(ConfigError, match="unet_stride must be 1, 2 or 4"):
        ModelConfig(arch="unet", unet_stride=3)
    with pytest.raises(ConfigError, match="unet_levels \\* unet_stride"):
        ModelConfig(size=48, arch="unet", unet_levels=4, unet_stride=2)
    assert ModelConfig().mouth_crop == 72 and ModelConfig(size=64).mouth_crop == 18


def test_discriminator_outputs():
    d = image_discriminator(TINY)
    out = d(torch.rand(3, 9, 32, 32))
    assert len(out) == TINY.num_d
    assert [len(o) for o in out] == [TINY.n_layers_d + 2] * TINY.num_d
    assert out[0][-1].shape[:2] == (3, 1) and out[1][-1].shape[-1] < out[0][-1].shape[-1]


def test_compose_flow_is_exact_for_affine_flows():
    # f1 constant (2, 1); f2(p) = A p + c is affine, so bilinear sampling is exact away from the border:
    # f(p) = f1 + A (p + f1) + c
    h = w = 24
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    f1 = torch.stack([torch.full((h, w), 2.0), torch.full((h, w), 1.0)])[None]
    f2 = torch.stack([0.1 * xs - 0.05 * ys + 0.5, 0.02 * xs + 0.2 * ys - 1.0])[None]
    got = compose_flow(f1, f2)[0]
    px, py = xs + 2, ys + 1
    want = torch.stack([2 + 0.1 * px - 0.05 * py + 0.5, 1 + 0.02 * px + 0.2 * py - 1.0])
    inner = (slice(None), slice(2, h - 4), slice(2, w - 4))
    torch.testing.assert_close(got[inner], want[inner], atol=1e-4, rtol=0)


def test_dynamics_window_layout():
    cfg = ModelConfig(size=32, ngf=8, n_downsample=2, ndf=8, n_layers_d=2, dynamics_scales=2)
    d = DynamicsDiscriminator(cfg)
    assert (d.stride(1), d.span(0), d.span(1)) == (3, 3, 7)
    frames = torch.arange(7, dtype=torch.float32).view(1, 7, 1, 1, 1).expand(1, 7, 3, 32, 32)
    flows = torch.ones(1, 7, 2, 32, 32)  # one pixel right and down per frame
    x = dynamics_window(frames, flows, end=6, k=3, stride=3)
    assert x.shape == (1, 3 * 3 + 2 * 2, 32, 32)
    assert [x[0, 3 * i, 5, 5].item() for i in range(3)] == [0.0, 3.0, 6.0]  # frames 0, 3, 6, oldest first
    torch.testing.assert_close(x[0, 9:, 10, 10], torch.full((4,), 3 * 2.0 / 32))  # 3 composed steps
    assert len(d(x, 1)) == cfg.num_d
    with pytest.raises(ValueError, match="earlier frames"):
        dynamics_window(frames, flows, end=5, k=3, stride=3)


def test_lsgan_and_feature_matching_values():
    ones, zeros = [[torch.ones(1, 1, 4, 4)]], [[torch.zeros(1, 1, 4, 4)]]
    r, f = lsgan_d(ones, zeros)
    assert r.item() == 0 and f.item() == 0
    r, f = lsgan_d(zeros, ones)
    assert r.item() == 1 and f.item() == 1
    assert lsgan_g(zeros).item() == 1 and lsgan_g(ones).item() == 0
    real = [[torch.ones(1, 2, 4, 4), torch.ones(1, 1, 2, 2)] for _ in range(2)]
    fake = [[torch.zeros(1, 2, 4, 4, requires_grad=True), torch.zeros(1, 1, 2, 2)] for _ in range(2)]
    fm = feature_matching(real, fake)
    assert fm.item() == pytest.approx(4.0)  # 2 scales x (4 / 1 layer) / 2 scales x L1 1
    fm.backward()
    assert fake[0][0].grad is not None
