"""The container of head2head's own files (models, tracks): an ``.npz`` of named arrays plus ``header``, a
UTF-8 JSON object carrying a ``schema`` tag. Uncompressed by default (fast to load); readers take both."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .atomic import atomic_path


def save_npz(path: str | Path, header: dict[str, Any], arrays: dict[str, np.ndarray],
             compress: bool = False) -> None:
    """Write ``header`` (must hold ``schema``) and ``arrays`` atomically; ``compress``: deflate them
    (e.g. a model file to carry: 50 -> 23 MB for ICT, at ~5 s more to write and ~1 s more to read)."""
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as f:
            (np.savez_compressed if compress else np.savez)(f, header=np.frombuffer(json.dumps(header).encode(), np.uint8), **arrays)


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
