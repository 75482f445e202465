"""VGG19 feature extractor: torchvision layout, weight loading, loss values, errors."""
from __future__ import annotations

import pytest
import torch

from h2h_engine.errors import CheckpointError, ConfigError
from h2h_engine.synthesis.vgg import WEIGHTS_FILE, VGG19Features, VGGLoss, find_vgg_weights

# torchvision's vgg19().features conv indices and widths up to relu5_1
TORCHVISION_CONVS = {0: 64, 2: 64, 5: 128, 7: 128, 10: 256, 12: 256, 14: 256, 16: 256, 19: 512, 21: 512, 23: 512,
                     25: 512, 28: 512}


def test_layout_matches_torchvision_keys():
    keys = VGG19Features().features.state_dict()
    assert set(keys) == {f"{i}.{p}" for i in TORCHVISION_CONVS for p in ("weight", "bias")}
    for i, c in TORCHVISION_CONVS.items():
        assert keys[f"{i}.weight"].shape[0] == c


def test_load_torchvision_format_and_loss(tmp_path):
    torch.manual_seed(0)
    src = VGG19Features()
    state = {f"features.{k}": v for k, v in src.features.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(4, 4)  # full torchvision files carry the classifier too
    path = tmp_path / WEIGHTS_FILE
    torch.save(state, path)
    dst = VGG19Features()
    dst.load_weights(path)
    x = torch.rand(1, 3, 32, 32)
    for a, b in zip(src(x), dst(x)):
        assert torch.equal(a, b)
    loss = VGGLoss(dst)
    img = torch.rand(2, 3, 32, 32) * 2 - 1
    assert loss(img, img).item() == 0
    assert loss(img, img.flip(-1)).item() > 0


def test_bad_weights(tmp_path, monkeypatch):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="cannot read VGG19"):
        VGG19Features().load_weights(bad)
    torch.save({"features.0.weight": torch.zeros(3)}, bad)
    with pytest.raises(CheckpointError, match="not torchvision VGG19"):
        VGG19Features().load_weights(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        find_vgg_weights(str(tmp_path / "missing.pth"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert find_vgg_weights(None) is None
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    (tmp_path / "hub" / "checkpoints" / WEIGHTS_FILE).write_bytes(b"x")
    assert find_vgg_weights(None) == tmp_path / "hub" / "checkpoints" / WEIGHTS_FILE
