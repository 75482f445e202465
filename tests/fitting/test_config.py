"""Fit config: documented defaults, strict keys and types."""
from __future__ import annotations

import dataclasses

import pytest
import yaml

from h2h_engine.errors import ConfigError
from h2h_engine.fitting.config import DEFAULT_PATH, FitConfig, load_fit_config


def test_defaults_match_dataclass_and_are_documented():
    cfg = load_fit_config()
    assert cfg == FitConfig()
    text = DEFAULT_PATH.read_text()
    for f in dataclasses.fields(FitConfig):
        line = next(ln for ln in text.splitlines() if ln.startswith(f"{f.name}:"))
        assert "#" in line, f"{f.name} has no comment in fit.yaml"


def test_override_file(tmp_path):
    p = tmp_path / "fit.yaml"
    p.write_text("smoothness: 0\nrounds: 3\nexp_bounds: [0, 0.8]\n")
    cfg = load_fit_config(p)
    assert (cfg.smoothness, cfg.rounds, cfg.exp_bounds) == (0.0, 3, (0.0, 0.8))
    assert cfg.id_prior == FitConfig().id_prior


@pytest.mark.parametrize("text,match", [
    ("smoothnes: 1\n", "unknown key"),
    ("rounds: 2.5\n", "integer"),
    ("id_prior: fast\n", "number"),
    ("exp_prior: 0\n", "> 0"),
    ("smoothness: -1\n", ">= 0"),
    ("exp_bounds: [1, 0]\n", "lo < hi"),
    ("- 1\n", "mapping"),
    ("rounds: [\n", "YAML"),
])
def test_exception(tmp_path, text, match):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_fit_config(p)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_fit_config(tmp_path / "nope.yaml")


def test_replace_validates():
    assert FitConfig().replace(smoothness=0).smoothness == 0.0
    with pytest.raises(ConfigError):
        FitConfig().replace(rounds=0)
    assert yaml.safe_load(DEFAULT_PATH.read_text())["id_bounds"] is None
