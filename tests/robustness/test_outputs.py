"""Issue 14 A: no node ever destroys data at its output path (inputs, special files, existing outputs,
concurrent runs, temporaries of killed runs)."""
from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys

from pathlib import Path

import numpy as np
import pytest

from h2h_engine.io import write_image

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def plate(tmp_path):
    """A 3-frame EXR plate sequence, plate.1000-1002.exr."""
    for f in range(1000, 1003):
        write_image(tmp_path / f"plate.{f}.exr", np.full((32, 32, 3), f / 2000, np.float32))
    return tmp_path / "plate.####.exr"


def test_output_over_an_input_is_refused(h2h, one_line, fingerprint, shot, plate, tmp_path):
    video, track = shot
    movie = tmp_path / "x.mp4"
    shutil.copyfile(video, movie)
    os.link(movie, tmp_path / "link.mp4")
    target = tmp_path / "target.h2h.npz"
    shutil.copyfile(track, target)
    before = fingerprint(tmp_path)
    cases = [("track", movie, "-o", movie),                                  # the same file
             ("track", movie, "-o", tmp_path / "link.mp4"),                  # a hard link of it
             ("retarget", "--source", track, "--target", target, "-o", target),
             ("render-nmfc", track, "--source", plate, "-o", tmp_path / "plate.%04d.exr"),  # the same sequence
             ("synthesize", "--checkpoint", tmp_path / "none.pt", "--track", track, "--plate", movie, "-o", movie)]
    for args in cases:
        status, err = h2h(*args)
        assert status == 2 and "refusing to write over it" in one_line(err), args
    assert fingerprint(tmp_path) == before


def test_special_files_are_never_replaced(h2h, one_line, fingerprint, shot, tmp_path):
    _, track = shot
    fifo = tmp_path / "fifo.h2h.npz"
    os.mkfifo(fifo)
    kept = tmp_path / "kept.h2h.npz"
    kept.write_bytes(b"precious")
    (tmp_path / "link.h2h.npz").symlink_to(kept)
    (tmp_path / "dir.h2h.npz").mkdir()
    before = fingerprint(tmp_path)
    for out, kind in ((fifo, "FIFO"), ("/dev/full", "character device"), (tmp_path / "link.h2h.npz", "symlink"),
                      (tmp_path / "dir.h2h.npz", "folder")):
        status, err = h2h("retarget", "--source", track, "--target", track, "-o", out, "--force")
        assert status == 2 and f"is a {kind}, not a regular file" in one_line(err), out
    assert fifo.is_fifo() and (tmp_path / "link.h2h.npz").is_symlink() and fingerprint(tmp_path) == before


def test_existing_outputs_are_kept_unless_forced(h2h, one_line, fingerprint, shot, tmp_path):
    _, track = shot
    out = tmp_path / "out.h2h.npz"
    assert h2h("retarget", "--source", track, "--target", track, "-o", out)[0] == 0
    before = fingerprint(out)
    status, err = h2h("retarget", "--source", track, "--target", track, "-o", out, "--mode", "face")
    assert status == 2 and "exists: pass --force to replace it" in one_line(err)
    assert fingerprint(out) == before
    assert h2h("retarget", "--source", track, "--target", track, "-o", out, "--mode", "face", "--force")[0] == 0
    assert fingerprint(out) != before


def test_a_second_run_into_a_locked_output_fails(h2h, one_line, shot, tmp_path):
    _, track = shot
    out = tmp_path / "nmfc.####.exr"
    lock = tmp_path / ".nmfc.####.exr.lock"
    with open(lock, "w") as held:  # a first run holds the output (another open file: flock conflicts)
        fcntl.flock(held, fcntl.LOCK_EX)
        status, err = h2h("render-nmfc", track, "-o", out, "--size", "64x64")
        assert status == 2 and "is being written by another run" in one_line(err)
    assert not list(tmp_path.glob("nmfc.*.exr"))
    assert h2h("render-nmfc", track, "-o", out, "--size", "64x64")[0] == 0  # released: the run goes ahead
    assert len(list(tmp_path.glob("nmfc.*.exr"))) == 6 and not lock.exists()


def test_a_rerun_removes_temporaries_of_a_killed_run(h2h, shot, tmp_path):
    _, track = shot
    out = tmp_path / "t.h2h.npz"
    kill = ("import os, sys; from h2h_engine.io.atomic import atomic_path\n"
            "with atomic_path(sys.argv[1], suffix='.npz') as tmp:\n"
            "    tmp.write_bytes(b'half a track'); os.kill(os.getpid(), 9)")
    proc = subprocess.run([sys.executable, "-c", kill, str(out)], env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == -signal.SIGKILL
    orphans = list(tmp_path.glob(".t.h2h.npz.*"))
    assert len(orphans) == 1 and not out.exists()
    other = tmp_path / ".t2.h2h.npz.abcd1234.npz"  # another output's temporary: not ours to remove
    other.write_bytes(b"")
    assert h2h("retarget", "--source", track, "--target", track, "-o", out)[0] == 0
    assert not orphans[0].exists() and other.exists() and out.is_file()
