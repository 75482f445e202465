"""The container of head2head's own files (models, tracks): an uncompressed ``.npz`` of named arrays plus
``header``, a UTF-8 JSON object carrying a ``schema`` tag."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .atomic import atomic_path


def save_npz(path: str | Path, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Write ``header`` (must hold ``schema``) and ``arrays`` atomically."""
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, header=np.frombuffer(json.dumps(header).encode(), np.uint8), **arrays)


def load_npz(path: str | Path, names: tuple[str, ...], schema: str, what: str,
             missing_hint: str = "") -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read the header and the arrays ``names`` of a file written by :func:`save_npz`.

    Raises InputError when the file is missing (``missing_hint`` appended), not such a file, or of
    another schema; ``what`` names the kind of file in messages ("track file", "model file").
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} {path} does not exist{missing_hint}")
    try:
        with np.load(path, allow_pickle=False) as z:
            header = json.loads(bytes(z["header"]).decode())
            arrays = {n: z[n] for n in names}
    except (OSError, ValueError, KeyError, EOFError) as e:
        raise InputError(f"{path} is not a head2head {what} ({e})") from None
    if header.get("schema") != schema:
        raise InputError(f"{path} has schema {header.get('schema')!r}; this engine reads {schema}")
    return header, arrays
