"""Cache keys: the one scheme by which the engine names what a result was made from.

:func:`content_key` is the SHA-256 of canonical JSON (sorted keys) of ``[tag, engine version, settings,
inputs]``: ``tag`` says what is keyed (a node's name, a cache and its version), ``settings`` the values that
decide the result, and each input is an upstream result's key (:class:`Upstream`) or a path described by
:func:`fingerprint`:

- a file by its content (SHA-256), remembered per resolved path, size and mtime in :data:`HASHES`, so an
  unchanged file is read once per process (and, through a graph's ``hashes.json``, once per cache);
  touching or copying a file does not change its key, one changed byte does;
- an image sequence (``shot.####.exr``, however spelled) or a folder by the name, size and mtime of each of
  its files (hashing every frame of a plate would cost more than the cache saves).

Its users: the Python graph's node keys (:mod:`.graph`, chaining upstream keys), the settings stamp of
sequence frames (:func:`.knobs.settings_stamp`: farm chunks of one job agree, a re-run with other settings
does not) and the trainer's conditioning cache (``RUN/cache/data-<key>/``, ``h2h_engine.training.data``).
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from .. import __version__
from ..errors import ConfigError
from ..io.atomic import atomic_path
from ..io.frames import FramePattern, is_pattern


@dataclass(frozen=True)
class Upstream:
    """An input that is another result: its key (and which of its outputs), never its bytes."""

    key: str
    port: str = ""


class FileHashes:
    """SHA-256 of files, remembered per resolved path as ``[size, mtime_ns, hex digest]``."""

    def __init__(self) -> None:
        self.memo: dict[str, list] = {}

    def digest(self, path: Path) -> str:
        """The file's SHA-256 (read only when its size or mtime differ from the remembered ones)."""
        st = path.stat()
        name = str(path.resolve())
        known = self.memo.get(name)
        if known and known[0] == st.st_size and known[1] == st.st_mtime_ns:
            return known[2]
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        self.memo[name] = [st.st_size, st.st_mtime_ns, h.hexdigest()]
        return h.hexdigest()

    def read(self, path: Path) -> None:
        """Add the digests a :meth:`write` left in ``path`` (nothing when it does not exist)."""
        if path.is_file():
            try:
                stored = json.loads(path.read_text())
            except (OSError, ValueError):
                return  # a damaged memo only costs re-hashing
            if isinstance(stored, dict):
                self.memo.update({k: v for k, v in stored.items() if isinstance(v, list) and len(v) == 3})

    def write(self, path: Path) -> None:
        """Store the remembered digests in ``path`` (atomically)."""
        if self.memo:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp:
                tmp.write_text(json.dumps(self.memo))


HASHES = FileHashes()  # this process's digests (the graph reads and writes its cache's hashes.json into it)


def fingerprint(value: str | os.PathLike, hashes: FileHashes | None = None) -> str:
    """Content fingerprint of an input file, image sequence or folder (see the module docstring);
    ConfigError when it does not exist."""
    text = str(value)
    if is_pattern(text):
        seq = FramePattern.parse(text)
        files = [seq.path(f) for f in seq.existing_frames()]
        if not files:
            raise ConfigError(f"input sequence {text} has no frames on disk")
        return digest([(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files])
    p = Path(text)
    if p.is_dir():
        return digest([(str(f.relative_to(p)), f.stat().st_size, f.stat().st_mtime_ns)
                       for f in sorted(p.rglob("*")) if f.is_file()])
    if p.is_file():
        return (hashes or HASHES).digest(p)
    raise ConfigError(f"input {text} does not exist")


def content_key(tag: str, settings: Any, inputs: Mapping[str, Any] | None = None, length: int = 20) -> str:
    """Hex key (``length`` characters) of a result: ``tag``, the engine version, ``settings`` (JSON-able)
    and ``inputs`` (name -> a path, an :class:`Upstream`, or None for an absent input)."""
    described = {name: (["node", v.key, v.port] if isinstance(v, Upstream) else ["file", fingerprint(v)])
                 for name, v in (inputs or {}).items() if v is not None}
    return digest({"tag": tag, "engine": __version__, "settings": settings, "inputs": described})[:length]


def digest(obj: Any) -> str:
    """SHA-256 hex of ``obj`` as canonical JSON (sorted keys; other objects by their ``str``)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()
