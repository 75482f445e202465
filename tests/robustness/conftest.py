"""Fixtures of the robustness suite: one short real track, and ``h2h`` run in-process or as a process, with
the checks every case makes (exit status, one line on stderr, no traceback, files untouched)."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

from h2h_engine.cli import main

REPO = Path(__file__).resolve().parents[2]
CLIP = "W009_front_neutral"  # 256 px frontal talking head


@pytest.fixture(scope="session")
def shot(tmp_path_factory, clip) -> tuple[Path, Path]:
    """(clip, its track file): frames 0-5 of a real 256 px clip, tracked by the Track node."""
    out = tmp_path_factory.mktemp("shot") / "shot.h2h.npz"
    assert main(["--progress", "none", "track", str(clip(CLIP)), "-o", str(out), "--frames", "0-5"]) == 0
    return clip(CLIP), out


def _fingerprint(*paths: Path) -> dict[str, str]:
    """SHA-256 of every file at ``paths`` (folders: every file below), to show they were left untouched."""
    files = [f for p in paths for f in ([p] if not p.is_dir() else sorted(p.rglob("*"))) if f.is_file()]
    return {str(f): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


def _one_line(err: str) -> str:
    """The single line a failing command prints (asserting there is exactly one and no traceback)."""
    lines = err.strip().splitlines()
    assert "Traceback" not in err and len(lines) == 1, err[-2000:]
    return lines[0]


@pytest.fixture
def h2h(capsys) -> Callable[..., tuple[int, str]]:
    """``h2h(*args)`` -> (exit status, stderr): the CLI in this process, progress off."""
    def run(*args: object) -> tuple[int, str]:
        capsys.readouterr()
        status = main(["--progress", "none", *map(str, args)])
        return status, capsys.readouterr().err

    return run


def _h2h_process(*args: object, stdout: int | None = subprocess.DEVNULL, preexec: Callable[[], None] | None = None,
                **kw: object) -> subprocess.Popen:
    """``h2h ARGS`` as its own process (one thread), for signals, pipes, locks and resource limits."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-m", "h2h_engine.cli", *map(str, args)], env=env, stdout=stdout,
                            stderr=subprocess.PIPE, text=True, preexec_fn=preexec, **kw)


@pytest.fixture(scope="session")
def fingerprint() -> Callable[..., dict[str, str]]:
    """``fingerprint(*paths)``: SHA-256 of every file there (to show that nothing was touched)."""
    return _fingerprint


@pytest.fixture(scope="session")
def one_line() -> Callable[[str], str]:
    """``one_line(stderr)``: its only line, asserting one line and no traceback."""
    return _one_line


@pytest.fixture(scope="session")
def h2h_process() -> Callable[..., subprocess.Popen]:
    """``h2h_process(*args, stdout=, preexec=)``: ``h2h`` as its own process (see :func:`_h2h_process`)."""
    return _h2h_process
