"""The container of head2head's own files (models, tracks): an ``.npz`` of named arrays plus ``header``, a
UTF-8 JSON object carrying a versioned ``schema`` tag (:mod:`.schema`). Uncompressed by default (fast to
load); readers take both."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .atomic import atomic_path
from .schema import upgrade


def save_npz(path: str | Path, header: dict[str, Any], arrays: dict[str, np.ndarray],
             compress: bool = False) -> None:
    """Write ``header`` (must hold ``schema``) and ``arrays`` atomically; ``compress``: deflate them
    (e.g. a model file to carry: 50 -> 23 MB for ICT, at ~5 s more to write and ~1 s more to read)."""
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as f:
            (np.savez_compressed if compress else np.savez)(f, header=np.frombuffer(json.dumps(header).encode(), np.uint8), **arrays)


def load_npz(path: str | Path, names: tuple[str, ...], schema: str, what: str,
             missing_hint: str = "") -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read the header and the arrays ``names`` of a file written by :func:`save_npz`, upgraded to ``schema``.

    An older version of the schema is upgraded by the functions registered for it (:mod:`.schema`; they
    see the header with every array of the file under ``"arrays"``). Raises InputError when the file is
    missing (``missing_hint`` appended), not such a file, of another or a newer schema; ``what`` names the
    kind of file in messages ("track file", "model file").
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} {path} does not exist{missing_hint}")
    try:
        _check_declared_sizes(path)
        with np.load(path, allow_pickle=False) as z:
            header = json.loads(bytes(z["header"]).decode())
            if not isinstance(header, dict):
                raise ValueError("its header is not a JSON object")
            current = header.get("schema") == schema
            stored = {n: z[n] for n in (names if current else [f for f in z.files if f != "header"])}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        raise InputError(f"{path} is not a head2head {what} ({e})") from None
    if current:
        return header, stored
    doc = upgrade({**header, "arrays": stored}, schema, f"{what} {path}")
    arrays = doc.pop("arrays")
    missing = [n for n in names if n not in arrays]
    if missing:
        raise InputError(f"{what} {path} lacks {', '.join(missing)} after its upgrade to {schema}")
    return doc, {n: arrays[n] for n in names}


# Deflate never shrinks data more than ~1032:1, so a member declaring more is crafted or corrupt.
_MAX_DEFLATE_RATIO = 1100


def _check_declared_sizes(path: Path) -> None:
    """ValueError unless every array of the npz fits in the bytes the file really holds, checked from the
    zip directory and the ``.npy`` headers before anything is allocated (a crafted header can declare
    gigabytes in a few kilobytes)."""
    size = path.stat().st_size
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            stored = info.compress_type == zipfile.ZIP_STORED
            if (info.header_offset + info.compress_size > size
                    or (stored and info.file_size != info.compress_size)
                    or info.file_size > _MAX_DEFLATE_RATIO * max(info.compress_size, 1)):
                raise ValueError(f"member {info.filename} declares {info.file_size} bytes the file does not hold")
            with zf.open(info) as f:
                version = np.lib.format.read_magic(f)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, _, dtype = read_header(f)
            need = dtype.itemsize * int(np.prod(shape, dtype=object))
            if need > info.file_size:
                raise ValueError(f"array {info.filename} declares {shape} {dtype} ({need} bytes) in "
                                 f"{info.file_size} bytes")
