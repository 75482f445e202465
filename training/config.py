"""Training configuration: nested dataclasses loaded from YAML presets (``configs/*.yaml``) and user files.

A user config overrides the chosen preset key by key; unknown keys and wrong types raise ConfigError.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Sequence

import yaml

from h2h_engine.errors import ConfigError
from h2h_engine.io.yaml_file import read_yaml_mapping
from h2h_engine.render.appearance import RETRIEVAL, AppearanceSettings
from h2h_engine.synthesis.config import ModelConfig

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
FLOW_SOURCES = ("model", "dis")  # data.flow
PRESETS = tuple(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))


@dataclass(frozen=True)
class DataConfig:
    """How training examples are made from the target video and its track."""

    crop_margin: float = 1.6      # crop box side / face size (render.crop_box_for_track)
    crop_smooth: int = 15         # temporal smoothing of the crop box detection, frames
    train_fraction: float = 2 / 3  # leading part of the shot used for training; the rest is held out
    max_frames: int = 0           # use only the first N frames of the track (0 = all)
    retrieval_k: int = RETRIEVAL["k"]  # appearance warp: nearest training frames per frame (render/appearance.py)
    retrieval_slots: int = RETRIEVAL["slots"]  # ... kept per frame after smoothing the weights over time
    retrieval_sigma: float = RETRIEVAL["temporal_sigma"]  # ... Gaussian smoothing of the weights over frames
    retrieval_exclude: int = 25   # training frames never retrieve frames this close to themselves (copies)
    retrieval_pose: float = 0.015  # ... one squared degree of head rotation costs this much squared expression
                                   # distance (0: expression only; 0.015: ~2.5 degrees = a typical neighbour)
    matte_dilate: float = 0.025   # face matte: dilation of the rendered face, fraction of the crop side
    matte_feather: float = 0.02   # face matte: soft edge, fraction of the crop side
    detail_max: int = 1024        # the bank also keeps the training crops at the plate's own pixel density, up to
                                  # this side, so synthesis composites at plate resolution (0: model size only)
    flow: str = "model"           # D_D's facial flow: "model" (3DMM motion inside the face) or "dis" (OpenCV DIS
                                  # optical flow of the real crop frames, the ablation of paper Table I)

    def appearance(self, retrieval_scale: float = 0.0) -> AppearanceSettings:
        """The retrieval and matte settings (render/appearance.py) these knobs make."""
        return AppearanceSettings(self.retrieval_k, self.retrieval_slots, self.retrieval_sigma, self.matte_dilate,
                                  self.matte_feather, self.retrieval_exclude, retrieval_scale, self.retrieval_pose)


@dataclass(frozen=True)
class TrainConfig:
    """Everything a run needs besides its inputs. Steps are optimizer updates of G and the Ds; each step
    generates ``frames_per_step`` frames of the current training sequence (state carried between steps)."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    seed: int = 0                 # weights init, sequence sampling
    epochs: int = 40              # epochs at the full learning rate (1 epoch ~ every training frame once;
                                  # 0: the rate decays from the first step)
    decay_epochs: int = 20        # further epochs with the learning rate decaying linearly to 0
    lr: float = 2e-4              # Adam, G and Ds
    beta1: float = 0.5
    beta2: float = 0.999
    batch: int = 1                # sequences per step per process
    frames_per_step: int = 3      # frames generated (and back-propagated through) per step
    seq_len_start: int = 3        # frames per training sequence at the start ...
    seq_len_max: int = 12         # ... doubling every grow_every_epochs up to this
    grow_every_epochs: int = 5
    lambda_gan: float = 1.0       # weight of D_I's adversarial term for G (the paper: 1)
    lambda_fm: float = 10.0       # discriminator feature matching
    lambda_vgg: float = 10.0      # VGG19 perceptual
    lambda_l1: float = 0.0        # L1 to the real frame (not in the paper; speeds up tiny previews)
    l1_fraction: float = 0.0      # share of all steps (epochs + decay) trained on the L1 term alone, no
                                  # discriminator runs, before the adversarial terms start (0: from the first
                                  # step, as the paper; 1: L1 throughout; > 0 needs lambda_l1 > 0)
    lambda_mouth: float = 1.0     # weight of D_M's adversarial + FM terms
    lambda_dynamics: float = 1.0  # weight of D_D's adversarial term
    vgg_weights: str = ""         # torchvision vgg19-dcbb9e9d.pth; empty = torch hub cache if present
    require_vgg: bool = False     # error instead of training without the VGG term when weights are missing
    random_vgg: bool = False      # use a randomly initialised VGG19 (tests only)
    checkpoint_every: int = 500   # steps between checkpoints (and one at the end)
    sample_every: int = 500       # steps between sample grids
    log_every: int = 10           # steps between JSON-lines loss records
    amp: bool = True              # bf16 autocast on CUDA (ignored on CPU)
    channels_last: bool = True    # channels-last tensors on CUDA (ignored on CPU)
    device: str = "auto"          # auto | cpu | cuda

    def __post_init__(self) -> None:
        for name in ("batch", "frames_per_step", "seq_len_start", "seq_len_max", "grow_every_epochs",
                     "checkpoint_every", "sample_every", "log_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1; got {getattr(self, name)}")
        if min(self.epochs, self.decay_epochs) < 0 or self.epochs + self.decay_epochs < 1:
            raise ConfigError(f"epochs and decay_epochs must be >= 0 and train at least one epoch together; got "
                              f"{self.epochs} + {self.decay_epochs}")
        if self.lr <= 0 or not 0 <= self.beta1 < 1 or not 0 <= self.beta2 < 1:
            raise ConfigError("lr must be > 0 and betas in [0, 1)")
        if self.seq_len_max < self.seq_len_start or self.seq_len_start < self.frames_per_step:
            raise ConfigError(f"need frames_per_step ({self.frames_per_step}) <= seq_len_start "
                              f"({self.seq_len_start}) <= seq_len_max ({self.seq_len_max})")
        if not 0 <= self.l1_fraction <= 1 or (self.l1_fraction > 0 and self.lambda_l1 <= 0):
            raise ConfigError(f"l1_fraction must be in [0, 1] and needs lambda_l1 > 0; got l1_fraction "
                              f"{self.l1_fraction}, lambda_l1 {self.lambda_l1}")
        if self.data.flow not in FLOW_SOURCES:
            raise ConfigError(f"data.flow must be one of {', '.join(FLOW_SOURCES)}; got {self.data.flow!r}")
        if self.data.detail_max < 0:
            raise ConfigError(f"data.detail_max must be >= 0 (0: no plate-resolution bank); got {self.data.detail_max}")
        if not 0 < self.data.train_fraction < 1:
            raise ConfigError(f"data.train_fraction must be in (0, 1); got {self.data.train_fraction}")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ConfigError(f"device must be auto, cpu or cuda[:N]; got {self.device!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_NESTED = {"model": ModelConfig, "data": DataConfig}


def _check_type(section: str, key: str, value: Any, default: Any) -> None:
    want = type(default)
    ok = isinstance(value, want) and not (want is int and isinstance(value, bool))
    ok = ok or (want is float and isinstance(value, int) and not isinstance(value, bool))
    if not ok:
        raise ConfigError(f"{section}{key} must be {want.__name__}; got {value!r}")
    if want is float and not math.isfinite(value):
        raise ConfigError(f"{section}{key} must be a finite number; got {value!r}")


def _build(cls: type, d: dict[str, Any], section: str = "") -> Any:
    if not isinstance(d, dict):
        raise ConfigError(f"config section {section or 'top level'} must be a mapping; got {d!r}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ConfigError(f"unknown config key(s) {', '.join(section + k for k in unknown)}; "
                          f"known: {', '.join(sorted(known))}")
    default = cls()
    out: dict[str, Any] = {}
    for k, v in d.items():
        if k in _NESTED and cls is TrainConfig:
            out[k] = _build(_NESTED[k], v, f"{k}.")
        else:
            _check_type(section, k, v, getattr(default, k))
            out[k] = float(v) if isinstance(getattr(default, k), float) else v
    return cls(**out)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_config(preset: str | None = "tiny", path: str | Path | None = None,
                overrides: dict[str, Any] | None = None) -> TrainConfig:
    """The preset (``tiny`` | ``paper`` | None = dataclass defaults), overridden by the YAML file ``path``
    and then by ``overrides`` (same nesting)."""
    d: dict[str, Any] = {}
    if preset is not None:
        if preset not in PRESETS:
            raise ConfigError(f"unknown preset {preset!r}; presets: {', '.join(PRESETS)}")
        d = read_yaml_mapping(CONFIG_DIR / f"{preset}.yaml")
    if path is not None:
        d = _merge(d, read_yaml_mapping(Path(path)))
    if overrides:
        d = _merge(d, overrides)
    return _build(TrainConfig, d)


def config_from_dict(d: dict[str, Any]) -> TrainConfig:
    """Rebuild a config saved by :meth:`TrainConfig.to_dict` (checkpoints, run dirs)."""
    return _build(TrainConfig, d)


def dump_config(cfg: TrainConfig) -> str:
    """YAML text of a config (what a run dir's ``config.yaml`` holds)."""
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)


# Settings a resumed run may change with --set (they do not change what is trained); others must match.
RESUME_KEYS = ("device", "checkpoint_every", "sample_every", "log_every")


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``["epochs=2", "model.ngf=8"]`` (``--set`` items) -> nested dict; values parsed as YAML scalars."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set takes KEY=VALUE (e.g. model.ngf=32); got {item!r}")
        node = out
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {item!r}: {p} is set to a value above; it cannot also hold keys")
        try:
            node[leaf] = yaml.safe_load(value)
        except yaml.YAMLError as e:
            raise ConfigError(f"--set {item!r}: the value is not valid YAML ({str(e).splitlines()[0]})") from None
    return out


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"model": {"ngf": 8}}`` -> ``{"model.ngf": 8}``."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def run_config(run_dir: str | Path, preset: str | None, path: str | Path | None, items: Sequence[str],
               resume: bool) -> TrainConfig:
    """The settings a training run in ``run_dir`` uses: a new run's from ``preset`` (default tiny), ``path``
    and the ``--set`` items; a resumed run's own ``config.yaml`` (the new run's when it has none) with the
    items of RESUME_KEYS applied. ConfigError when a resume asks for other settings: a ``preset`` and ``path``
    (with the items) that do not make the run's config, or any other ``--set`` that differs."""
    saved = Path(run_dir) / "config.yaml"
    if not resume or not saved.is_file():
        return load_config(preset or "tiny", path, parse_overrides(items))
    own = _flat(load_config(None, saved).to_dict())

    def first_difference(cfg: TrainConfig) -> tuple[str, Any] | None:
        return next(((k, v) for k, v in _flat(cfg.to_dict()).items() if v != own[k] and k not in RESUME_KEYS), None)

    if preset is not None or path:  # they must reproduce the run (a host that always sends its preset)
        differ = first_difference(load_config(preset, path or None, parse_overrides(items)))
        if differ is not None:
            k, v = differ
            raise ConfigError(f"--resume continues with {saved}, whose {k} is {own[k]!r}, not {v!r}: drop "
                              "--preset/--config (or start a new run dir)")
    asked = load_config(None, saved, parse_overrides(items))
    differ = first_difference(asked)
    if differ is not None:
        k, v = differ
        raise ConfigError(f"--set {k}={v!r} differs from the run's config.yaml ({own[k]!r}): a resumed run keeps "
                          f"its settings (--set may change only {', '.join(RESUME_KEYS)}); start a new run dir "
                          "for other settings")
    return asked
