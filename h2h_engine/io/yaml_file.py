"""Reading YAML config files safely (``yaml.safe_load``) into a mapping, with one-line errors."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError


def read_yaml_mapping(path: str | Path, what: str = "config file") -> dict[str, Any]:
    """The top-level mapping of a YAML file (empty file: ``{}``); ConfigError when it is missing, not
    valid YAML, or not a mapping. ``what`` names the file in messages ("fit config")."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{what} {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{what} {path} is not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path} must be a mapping of keys to values")
    return data
