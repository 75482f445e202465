"""Claiming an output before a node does any work: refuse what would destroy data, lock it, clear stale temps.

The rules (README, "Safety"): an output never resolves to one of the node's inputs (same file, hard link,
same sequence); a FIFO, device, folder or symlink at an output path is never replaced; an existing file
output is kept unless ``force``; sequence frames keep their resume rule (see
:class:`~h2h_engine.io.writer.FrameWriter`); the output's folder must be writable; one run at a time holds
an output (an advisory ``flock`` on ``.<name>.lock`` beside it), and the holder removes the temporaries a
killed run left for it.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import re
import stat
from pathlib import Path
from typing import Iterable, Iterator

from ..errors import InputError
from .atomic import remove_stale_temps
from .frames import FramePattern, is_pattern

_HELD: dict[str, int] = {}  # lock files this process holds -> nesting depth (reenact claims what synthesize claims)


def _kind(mode: int) -> str:
    """A file type in words."""
    for test, word in ((stat.S_ISFIFO, "FIFO"), (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
                       (stat.S_ISSOCK, "socket"), (stat.S_ISDIR, "folder"), (stat.S_ISLNK, "symlink")):
        if test(mode):
            return word
    return "special file"


def _refuse_special(path: Path) -> None:
    """InputError when something other than a regular file (or nothing) sits at ``path``."""
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return
    if not stat.S_ISREG(mode):
        raise InputError(f"output {path} is a {_kind(mode)}, not a regular file: refusing to replace it")


def _split(seq: FramePattern) -> tuple[Path, str]:
    """(folder, the file names' text before the frame number) of a sequence."""
    folder, head = os.path.split(seq.prefix)
    return Path(folder or "."), head


def _canonical(pattern: str) -> tuple[str, str, int, str]:
    """A sequence pattern with its folder resolved, so ``a/./s.####.exr`` and ``a/s.%04d.exr`` compare equal."""
    seq = FramePattern.parse(pattern)
    folder, head = _split(seq)
    return os.path.realpath(folder), head, seq.padding, seq.suffix


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def resolves_to(output: str, source: str) -> bool:
    """True when writing ``output`` would write over ``source`` (same file or hard link, same sequence, or a
    sequence frame that is a hard link of the other's frame)."""
    if is_pattern(output) and is_pattern(source):
        if _canonical(output) == _canonical(source):
            return True
        out, src = FramePattern.parse(output), FramePattern.parse(source)
        return any(_same_file(out.path(f), src.path(f)) for f in out.existing_frames())
    if is_pattern(output) or is_pattern(source):
        return False
    return _same_file(Path(output), Path(source)) or os.path.realpath(output) == os.path.realpath(source)


def _writable_folder(folder: Path, output: str) -> None:
    """InputError unless ``folder`` is (or can be made as) a writable folder."""
    probe = folder.absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise InputError(f"cannot write {output}: {probe} is not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise InputError(f"cannot write {output}: folder {probe} is not writable")


def check_output(output: str, inputs: Iterable[str | None] = (), force: bool = False) -> None:
    """Refuse (InputError) an output that would destroy data or cannot be written; see the module docstring."""
    for source in inputs:
        if source is not None and resolves_to(output, str(source)):
            raise InputError(f"output {output} is the input {source}: refusing to write over it")
    if is_pattern(output):
        seq = FramePattern.parse(output)
        for f in seq.existing_frames():
            _refuse_special(seq.path(f))
        _writable_folder(_split(seq)[0], output)
        return
    path = Path(output)
    _refuse_special(path)
    if path.is_file() and not force:
        raise InputError(f"output {output} exists: pass --force to replace it")
    _writable_folder(path.parent, output)


def _lock_and_temps(output: str) -> tuple[Path, Path, str]:
    """(lock file, folder, file-name regex of the output's files) of an output path or sequence pattern."""
    if is_pattern(output):
        seq = FramePattern.parse(output)
        folder, head = _split(seq)
        name = f"{head}{'#' * max(seq.padding, 1)}{seq.suffix}"
        return folder / f".{name}.lock", folder, re.escape(head) + r"\d+" + re.escape(seq.suffix)
    path = Path(output)
    return path.parent / f".{path.name}.lock", path.parent, re.escape(path.name)


@contextlib.contextmanager
def output_lock(output: str) -> Iterator[None]:
    """Hold the advisory lock of ``output`` (re-entrant within a process); InputError when another run holds it."""
    lock, folder, _ = _lock_and_temps(output)
    key = os.path.realpath(lock)
    if key in _HELD:
        _HELD[key] += 1
        try:
            yield
        finally:
            _HELD[key] -= 1
        return
    made = [d for d in (folder.absolute(), *folder.absolute().parents) if not d.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(f"output {output} is being written by another run (lock {lock}); wait for it "
                             "or write elsewhere") from None
        if os.fstat(fd).st_ino != os.stat(lock).st_ino:  # the holder before us removed it as we opened it
            raise InputError(f"output {output} is being written by another run (lock {lock} changed)")
        _HELD[key] = 1
        try:
            yield
        finally:
            del _HELD[key]
            os.unlink(lock)
            for d in made:  # folders made for the lock alone (the run failed before writing) go again
                if any(d.iterdir()):
                    break
                d.rmdir()
    finally:
        os.close(fd)


@contextlib.contextmanager
def claim_output(output: str, inputs: Iterable[str | None] = (), force: bool = False) -> Iterator[None]:
    """Check ``output`` (:func:`check_output`), hold its lock while the block runs and remove the
    temporaries a killed run left for it first. Every node claims its outputs this way before any work."""
    check_output(output, inputs, force)
    with output_lock(output):
        remove_own_temps(output)
        yield


def remove_own_temps(output: str) -> list[Path]:
    """Remove the temporaries a killed run left for ``output`` (a file or a sequence's frames); call it only
    while holding the output's lock (or that of the output it belongs to, e.g. a render's product files)."""
    _, folder, names = _lock_and_temps(output)
    return remove_stale_temps(folder, names)
