"""Where model files live: a cache folder, filled once from the shared ICT archive when needed.

Lookup order for ``load_model(name_or_path)``:
1. an existing file path;
2. ``<dir>/<name>.h2hmm.npz`` for each folder in ``$H2H_MODEL_PATH`` (``:``-separated), then the user cache
   ``$XDG_CACHE_HOME/h2h/models`` (default ``~/.cache/h2h/models``);
3. for the built-in ``ict`` / ``ict-facekit-light``: import the ICT archive (or unpacked folder) named by
   ``$H2H_ICT_SOURCE``, and cache the result.

The installed package never looks at the source checkout: the archive comes from that variable or from
``h2h model import-ict PATH`` (which fills the cache once).
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError
from .ict import MODEL_NAME, import_ict
from .model import MorphableModel

if TYPE_CHECKING:
    from ..track import Track

SUFFIX = ".h2hmm.npz"
DEFAULT_MODEL = MODEL_NAME
_ALIASES = {"ict": MODEL_NAME, "default": MODEL_NAME}


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "h2h" / "models"


def search_dirs() -> list[Path]:
    dirs = [Path(d) for d in os.environ.get("H2H_MODEL_PATH", "").split(os.pathsep) if d]
    return dirs + [cache_dir()]


def ict_source() -> Path | None:
    """The ICT archive or folder to import the built-in model from: ``$H2H_ICT_SOURCE``, or None when unset."""
    env = os.environ.get("H2H_ICT_SOURCE")
    return Path(env) if env else None


def resolve_model_path(name_or_path: str | os.PathLike | None = None) -> Path:
    """The model file for a name or path, importing the built-in ICT model into the cache on first use."""
    key = str(name_or_path) if name_or_path else DEFAULT_MODEL
    if Path(key).is_file():
        return Path(key)
    name = _ALIASES.get(key, key)
    for d in search_dirs():
        p = d / f"{name}{SUFFIX}"
        if p.is_file():
            return p
    if name != MODEL_NAME:
        raise InputError(f"model {key!r} is neither a file nor in {', '.join(map(str, search_dirs()))}")
    src = ict_source()
    if src is None or not src.exists():
        where = "H2H_ICT_SOURCE is not set" if src is None else f"H2H_ICT_SOURCE={src} does not exist"
        raise InputError(f"the ICT model is not imported yet and {where}: run "
                         "`h2h model import-ict PATH/FaceXModel.tar.xz` or set H2H_ICT_SOURCE to that archive")
    out = cache_dir() / f"{MODEL_NAME}{SUFFIX}"
    import_ict(src).save(out)
    return out


@lru_cache(maxsize=4)
def _load_cached(path: str, mtime: float) -> MorphableModel:
    return MorphableModel.load(path)


def load_model(name_or_path: str | os.PathLike | None = None) -> MorphableModel:
    """Load a model by name (``"ict"``) or path; loaded models are memoised per file and mtime."""
    p = resolve_model_path(name_or_path)
    return _load_cached(str(p), p.stat().st_mtime)


def load_model_for(track: "Track", name_or_path: str | os.PathLike | None = None,
                   what: str = "this track") -> MorphableModel:
    """The model ``track`` was fitted with, checked by digest (ModelMismatchError when the file found is
    another model): ``name_or_path`` when given, else the model file the track records (``meta["model_file"]``,
    written by ``h2h track --model FILE``) while it exists, else the model named in the track."""
    recorded = track.meta.get("model_file")
    by_file = isinstance(recorded, str) and Path(recorded).is_file()
    model = load_model(name_or_path or (recorded if by_file else track.model_name))
    model.check_compatible(track.model_name, track.model_digest, what)
    return model
