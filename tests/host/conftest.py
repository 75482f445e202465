"""Fixtures for host tests: the Nuke plugin's pure-Python module, the h2h command, a real track file."""
from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def nuke_build():
    """``plugin/nuke/h2h_nuke/build.py`` imported the way Nuke imports it (the folder on sys.path)."""
    sys.path.insert(0, str(REPO / "plugin" / "nuke"))
    try:
        yield importlib.import_module("h2h_nuke.build")
    finally:
        sys.path.remove(str(REPO / "plugin" / "nuke"))


@pytest.fixture(scope="session")
def h2h_exe(tmp_path_factory) -> str:
    """An ``h2h`` executable running this checkout's engine (what H2H_EXECUTABLE points hosts at)."""
    exe = tmp_path_factory.mktemp("bin") / "h2h"
    env = f'PYTHONPATH="{REPO}${{PYTHONPATH:+:$PYTHONPATH}}"'
    exe.write_text(f'#!/bin/sh\n{env} exec "{sys.executable}" -m h2h_engine.cli "$@"\n')
    exe.chmod(0o755)
    return str(exe)


@pytest.fixture(scope="session")
def env_threads():
    """Environment for engine subprocesses: one thread each (the test machine has 2 cores)."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@pytest.fixture(scope="session")
def track_file(tmp_path_factory, clip) -> Path:
    """A real track: frames 0-11 of a 256 px talking-head clip (the Track node, as users run it)."""
    from h2h_engine.cli import main

    out = tmp_path_factory.mktemp("track") / "shot.h2h.npz"
    assert main(["--progress", "none", "track", str(clip("W009_front_neutral")), "-o", str(out),
                 "--frames", "0-11"]) == 0
    return out


