"""The Python graph: content fingerprints of inputs, cache keys, and re-running only what changed."""
import os
import shutil

import numpy as np
import pytest

from h2h_engine.errors import ConfigError
from h2h_engine.io import open_frames
from h2h_engine.io.writer import FrameWriter
from h2h_engine.nodes.graph import Graph


def _sequence(tmp_path, clip, n=3):
    with FrameWriter(tmp_path / "seq" / "plate.####.png") as w:
        for f, rgb in open_frames(clip("GRID_bbaf2n"), (0, n - 1)):
            w.write(1001 + f, rgb)
    return str(tmp_path / "seq" / "plate.####.png")


def test_fingerprints_follow_content(tmp_path, clip):
    g = Graph(tmp_path / "cache")
    movie = tmp_path / "clip.mpg"
    shutil.copy(clip("GRID_bbaf2n"), movie)
    a = g.fingerprint(movie)
    os.utime(movie, ns=(1, 1))  # touching a movie does not change its content key
    assert g.fingerprint(movie) == a
    with open(movie, "r+b") as f:  # one changed byte does
        f.seek(5000)
        b = f.read(1)
        f.seek(5000)
        f.write(bytes([b[0] ^ 1]))
    assert g.fingerprint(movie) != a
    seq = _sequence(tmp_path, clip)
    s1 = g.fingerprint(seq)
    assert g.fingerprint(seq.replace("####", "%04d")) == s1  # same files, other spelling
    os.utime(tmp_path / "seq" / "plate.1002.png", ns=(10**18, 10**18))  # re-rendered frame
    assert g.fingerprint(seq) != s1
    with pytest.raises(ConfigError, match="does not exist"):
        g.fingerprint(tmp_path / "nope.mp4")
    with pytest.raises(ConfigError, match="no frames on disk"):
        g.fingerprint(str(tmp_path / "none.####.exr"))


def test_file_hashes_are_remembered(tmp_path, clip):
    movie = tmp_path / "clip.mpg"
    shutil.copy(clip("GRID_bbaf2n"), movie)
    g = Graph(tmp_path / "cache")
    key = g.fingerprint(movie)
    g._save_hashes()
    g2 = Graph(tmp_path / "cache")  # a new session reads the digest instead of hashing the file again
    assert g2._hashes[str(movie.resolve())][2] == key
