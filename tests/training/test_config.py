"""Training config: presets, overrides, strict keys and types."""
from __future__ import annotations

import pytest

from h2h_engine.errors import ConfigError
from h2h_engine.nodes import train as train_node
from h2h_engine.training.config import PRESETS, config_from_dict, dump_config, load_config
from h2h_engine.training.train import lr_at, seq_len_at


def test_presets_load():
    assert {"tiny", "paper"} <= set(PRESETS)
    # the train node names the presets without importing the trainer: the same set as training/configs/
    assert set(train_node.PRESETS) == set(PRESETS) and len(train_node.PRESETS) == len(PRESETS)
    paper = load_config("paper")
    assert (paper.model.size, paper.model.ngf, paper.model.n_downsample) == (256, 64, 3)
    assert (paper.model.n_blocks_encoder, paper.model.n_blocks_decoder) == (5, 4)
    assert (paper.lr, paper.beta1, paper.lambda_vgg, paper.lambda_fm, paper.seq_len_max) == (2e-4, 0.5, 10, 10, 12)
    tiny = load_config("tiny")
    assert tiny.model.size == 64 and tiny.model.ngf < 64


def test_file_and_overrides(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("epochs: 3\nmodel:\n  ngf: 8\n")
    cfg = load_config("tiny", f, {"model": {"ndf": 4}, "lr": 1})
    assert (cfg.epochs, cfg.model.ngf, cfg.model.ndf, cfg.model.size, cfg.lr) == (3, 8, 4, 64, 1.0)
    assert config_from_dict(cfg.to_dict()) == cfg
    assert "ngf: 8" in dump_config(cfg)


@pytest.mark.parametrize("text, match", [
    ("epoch: 3\n", "unknown config key"),
    ("model:\n  nfg: 3\n", "unknown config key"),
    ("data:\n  margin: 1.2\n", "unknown config key"),
    ("epochs: three\n", "must be int"),
    ("require_vgg: 1\n", "must be bool"),
    ("model: 5\n", "must be a mapping"),
    ("epochs: -1\n", ">= 0"),
    ("epochs: 0\ndecay_epochs: 0\n", "at least one epoch"),
    ("seq_len_start: 2\n", "frames_per_step"),
    ("[1, 2\n", "not valid YAML"),
])
def test_bad_configs(tmp_path, text, match):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_config("tiny", f)


def test_unknown_preset_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="unknown preset"):
        load_config("huge")
    with pytest.raises(ConfigError, match="does not exist"):
        load_config("tiny", tmp_path / "none.yaml")


def test_schedules():
    cfg = load_config("paper")
    per_epoch = 100
    assert seq_len_at(cfg, 0, per_epoch, 1000) == 3
    assert seq_len_at(cfg, 5 * per_epoch, per_epoch, 1000) == 6
    assert seq_len_at(cfg, 10 * per_epoch, per_epoch, 1000) == 12
    assert seq_len_at(cfg, 50 * per_epoch, per_epoch, 1000) == 12
    assert seq_len_at(cfg, 50 * per_epoch, per_epoch, 8) == 6  # never longer than the training frames
    assert lr_at(cfg, 0, per_epoch) == lr_at(cfg, 40 * per_epoch - 1, per_epoch) == 2e-4
    assert lr_at(cfg, 50 * per_epoch, per_epoch) == pytest.approx(1e-4)
    assert lr_at(cfg, 60 * per_epoch, per_epoch) == 0
    decay_only = load_config("paper", overrides={"epochs": 0, "decay_epochs": 2})  # decays from the first step
    assert lr_at(decay_only, 0, per_epoch) == 2e-4 and lr_at(decay_only, per_epoch, per_epoch) == pytest.approx(1e-4)
