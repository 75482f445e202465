"""Settings of the batch video fit, read from ``h2h_engine/configs/fit.yaml`` (documented defaults there)."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..io.yaml_file import read_yaml_mapping

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "configs" / "fit.yaml"


@dataclass(frozen=True)
class FitConfig:
    """Weights, bounds and iteration counts of :func:`~h2h_engine.fitting.fit_video` (see ``fit.yaml``)."""

    rounds: int = 4
    round_tolerance: float = 2e-3
    sop_iterations: int = 5
    solver_iterations: int = 60
    round_solver_iterations: int = 3
    solver_tolerance: float = 1e-10
    contour_weight: float = 0.5
    brow_weight: float = 1.0
    nose_weight: float = 1.0
    eye_weight: float = 1.0
    mouth_weight: float = 1.0
    id_prior: float = 0.02
    exp_prior: float = 0.1
    smoothness: float = 0.1
    id_bounds: tuple[float, float] | None = None
    exp_bounds: tuple[float, float] | None = None

    def replace(self, **changes: Any) -> "FitConfig":
        """A copy with some keys changed (validated like a file)."""
        return _from_dict({**dataclasses.asdict(self), **changes}, "FitConfig.replace")


_POSITIVE = {"rounds", "sop_iterations", "solver_iterations", "round_solver_iterations", "id_prior", "exp_prior"}


def _from_dict(raw: dict[str, Any], where: str) -> FitConfig:
    fields = {f.name: f for f in dataclasses.fields(FitConfig)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(fields)}")
    values: dict[str, Any] = {}
    for name, value in raw.items():
        default = fields[name].default
        if name in ("id_bounds", "exp_bounds"):
            if value is not None:
                ok = (isinstance(value, (list, tuple)) and len(value) == 2
                      and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                              for v in value)
                      and value[0] < value[1])
                if not ok:
                    raise ConfigError(f"{where}: {name} must be null or [lo, hi] with lo < hi; got {value!r}")
                value = (float(value[0]), float(value[1]))
        elif isinstance(default, bool) or isinstance(value, bool):
            raise ConfigError(f"{where}: {name} must be a number; got {value!r}")
        elif isinstance(default, int):
            if not isinstance(value, int):
                raise ConfigError(f"{where}: {name} must be an integer; got {value!r}")
        elif isinstance(default, float):
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ConfigError(f"{where}: {name} must be a finite number; got {value!r}")
            value = float(value)
        if name in _POSITIVE and not value > 0:
            raise ConfigError(f"{where}: {name} must be > 0; got {value!r}")
        if isinstance(value, (int, float)) and value < 0:
            raise ConfigError(f"{where}: {name} must be >= 0; got {value!r}")
        values[name] = value
    return FitConfig(**values)


def load_fit_config(path: str | Path | None = None) -> FitConfig:
    """The defaults of ``fit.yaml``, overridden by the keys of ``path`` (a YAML mapping) when given."""
    raw = read_yaml_mapping(DEFAULT_PATH, "fit config")
    if path is not None:
        raw.update(read_yaml_mapping(path, "fit config"))
    return _from_dict(raw, str(path or DEFAULT_PATH))

