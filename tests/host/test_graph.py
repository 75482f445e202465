"""The Python graph: content fingerprints of inputs, cache keys, and re-running only what changed."""
import os
import shutil
from pathlib import Path

import pytest

from h2h_engine.errors import ConfigError
from h2h_engine.io import open_frames, read_image
from h2h_engine.io.writer import FrameWriter
from h2h_engine.nodes import graph as graph_module
from h2h_engine.nodes.cache import FileHashes
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
    g.run()  # a run stores the digests it knows in <cache>/hashes.json
    remembered = FileHashes()  # a new session reads the digest instead of hashing the file again
    remembered.read(tmp_path / "cache" / "hashes.json")
    assert remembered.memo[str(movie.resolve())][2] == key


@pytest.fixture(scope="module")
def shots(clip):
    return clip("W009_front_neutral"), clip("M030_front_neutral")


def test_graph_reruns_only_what_changed(tmp_path, shots):
    from h2h_engine import Track

    def build(cache, source):
        g = Graph(cache)
        a = g.add("track", input=source, frames="0-4")
        b = g.add("track", input=shots[1], frames="0-4")
        r = g.add("retarget", source=a, target=b, mode="face")
        n = g.add("render_nmfc", track=r, size="64x64", what="nmfc")
        return g, a, b, r, n

    g, a, b, r, n = build(tmp_path / "cache", shots[0])
    g.run(n)
    assert g.ran == [a, b, r, n]
    assert Track.load(r.path()).frames.tolist() == [0, 1, 2, 3, 4]
    assert len(list(Path(n.path()).parent.glob("output.*.exr"))) == 5
    mtimes = {k: Path(x.path()).stat().st_mtime_ns for k, x in zip("abr", (a, b, r))}

    # a new session over the same cache: nothing to do, outputs untouched
    g, a, b, r, n = build(tmp_path / "cache", shots[0])
    assert g.run(n)["outputs"]["output"] == n.path() and g.ran == []
    assert {k: Path(x.path()).stat().st_mtime_ns for k, x in zip("abr", (a, b, r))} == mtimes

    # the same content under another name and date is still cached (keys follow content)
    copy = tmp_path / "elsewhere" / "shot.mp4"
    copy.parent.mkdir()
    shutil.copy(shots[0], copy)
    g, a, b, r, n = build(tmp_path / "cache", copy)
    g.run(n)
    assert g.ran == []

    # a knob of the last node: only it runs; a knob upstream: that node and everything after it
    n.set(size="32x32")
    g.run(n)
    assert g.ran == [n] and read_image(Path(n.path().replace("####", "0000"))).shape[:2] == (32, 32)
    b.set(frames="0-5")
    g.run(n)
    assert g.ran == [b, r, n] and len(Track.load(b.path())) == 6
    with pytest.raises(ConfigError, match="has no knob"):
        n.set(colour="red")


def test_module_docstring_example_wires_real_ports_and_knobs(tmp_path, monkeypatch):
    """The example at the top of nodes/graph.py, without its runs (those need real shots): every port and
    knob it names exists, so copying it does not raise."""
    block = graph_module.__doc__.split("Example::\n")[1]
    lines = []
    for line in block.splitlines():
        if line and not line.startswith("    "):
            break
        lines.append(line[4:])
    code = "\n".join(ln for ln in lines if not ln.startswith(("g.run", "print")))
    assert "g.add(" in code and "video=" not in code
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(code, scope)  # noqa: S102 - the project's own docstring
    assert [n.spec.name for n in scope["g"].nodes] == ["track", "track", "retarget", "render_nmfc"]
    assert scope["nmfc"].values["size"] == "512x512" and scope["src"].values["input"] == "source.mp4"
