"""Real reenactments for the evaluation tests: the news anchor of German_20s (A, the target) driven by the
speaker of EDTalk mouth_source (B) and by himself, 30 frames each, with the no-network ``instant`` preset
(seconds), plus one ``h2h eval reenactment --report --json`` of the B-driven result shared by the tests."""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from h2h_engine.io import open_frames
from h2h_engine.io.writer import FrameWriter

FRAMES = "0-29"
IDENTITY_FRAMES = "6"  # rows with a dlib descriptor (dlib's network is the slow part on 2 cores)


@pytest.fixture(scope="session")
def reenactments(tmp_path_factory, clip) -> dict[str, str]:
    """Paths: ``a``/``b`` the clips, ``ab``/``aa`` the results (A driven by B / by A), their ``*_driving``
    tracks, ``target`` (A's track) and ``source`` (B's track)."""
    from h2h_engine.nodes import get_spec

    a, b = str(clip("German_20s")), str(clip("EDTalk__test_data_mouth_source"))
    root = tmp_path_factory.mktemp("reenact")
    out = {"a": a, "b": b}
    for name, src in (("ab", b), ("aa", a)):
        r = get_spec("reenact")(source=src, source_frames=FRAMES, target=a, frames=FRAMES, preset="instant",
                                mode="face", output=str(root / f"{name}.mp4"), work_dir=str(root / "work"))
        out.update({name: r["output"], f"{name}_driving": r["retargeted_track"], "target": r["target_track"]})
        if name == "ab":
            out["source"] = r["source_track"]
    return out


def _write_movie(frames: str, frame_range: tuple[int, int], path: Path) -> str:
    src = open_frames(frames, frame_range)
    with FrameWriter(str(path), fps=src.fps) as w:
        for f, rgb in src:
            w.write(f, rgb)
    return str(path)


@pytest.fixture(scope="session")
def write_movie():
    """``write_movie(clip, (a, b), path)``: a real clip's frames a-b written as an H.264 movie (what a
    synthesized result is); returns the path."""
    return _write_movie


@pytest.fixture(scope="session")
def ab_report(reenactments, tmp_path_factory) -> tuple[dict, Path, list[str]]:
    """(the --json summary, the --report folder, the command's arguments) of the B-driven result."""
    from training.cli import main_eval_reenactment

    folder = tmp_path_factory.mktemp("qc") / "report"
    args = [reenactments["ab"], "--driving", reenactments["ab_driving"], "--target", reenactments["target"],
            "--identity-frames", IDENTITY_FRAMES, "--report", str(folder), "--json"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main_eval_reenactment(args) == 0
    return json.loads(out.getvalue()), folder, args
