"""Atomic file writes: write to a temporary file beside the target, then rename over it."""
from __future__ import annotations

import contextlib
import errno
import os
import re
import resource
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success rename it onto ``path``.

    On any exception the temporary file is removed and ``path`` is left untouched, so an interrupted
    run never leaves a half-written output. ``suffix`` defaults to the target's own suffix so writers that
    pick a format by extension (OpenImageIO, PyAV) still do.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path.name),
                               suffix=suffix if suffix is not None else "".join(path.suffixes[-1:]), dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        try:
            yield tmp_path
        except OSError as e:
            if e.filename != str(tmp_path):
                raise
            raise OSError(e.errno, e.strerror, str(path)) from e  # name the file the user asked for
        except Exception as e:
            full = _write_failure(tmp_path, path)
            if full is None:
                raise
            raise full from e
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _write_failure(tmp: Path, target: Path) -> OSError | None:
    """The OS error behind a writer's failure that hid it (``torch.save`` raises RuntimeError): the disk
    is full, or the temporary reached the file-size limit; None when neither."""
    st = os.statvfs(tmp.parent)
    if st.f_bavail == 0 or (st.f_files > 0 and st.f_favail == 0):
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if limit != resource.RLIM_INFINITY and tmp.exists() and tmp.stat().st_size >= limit:
        return OSError(errno.EFBIG, os.strerror(errno.EFBIG), str(target))
    return None


def _temp_prefix(name: str) -> str:
    return f".{name}."


# The random middle of a mkstemp() name: 8 of tempfile's lower-case letters, digits and "_".
_TEMP_TAIL = r"[a-z0-9_]{8}(\.[A-Za-z0-9]+)?"


def remove_stale_temps(folder: str | os.PathLike, name_regex: str) -> list[Path]:
    """Delete the temporaries :func:`atomic_path` left in ``folder`` for targets whose file name matches
    ``name_regex`` (a killed run never renames or removes them); returns what was removed.

    Only safe while the caller holds the output's lock (:func:`~h2h_engine.io.outputs.claim_output`):
    no other run is then writing those targets.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    rx = re.compile(rf"\.(?:{name_regex})\.{_TEMP_TAIL}$")  # what _temp_prefix + mkstemp make
    removed = []
    for p in folder.iterdir():
        if rx.match(p.name) and p.is_file() and not p.is_symlink():
            p.unlink()
            removed.append(p)
    return removed
