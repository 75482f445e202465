"""Shared fixtures of the trainer's tests: the tracked training target (``target_shot``), and real
reenactments for the evaluation tests: the news anchor of German_20s (A, the target) driven by the speaker of
EDTalk mouth_source (B), and by himself, 30 frames each, with the no-network ``instant`` preset (seconds),
plus one ``h2h eval reenactment --report --json`` of the B-driven result shared by the tests."""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Callable

import pytest

from h2h_engine.io import open_frames
from h2h_engine.io.writer import FrameWriter

FRAMES = "0-29"
IDENTITY_FRAMES = "6"  # rows with a dlib descriptor (dlib's network is the slow part on 2 cores)
TARGET_CLIP = "OpenTalker__DPE__data_s"  # the training target: a frontal TV interview, talking


@pytest.fixture(scope="session")
def target_shot(tmp_path_factory, clip) -> Callable[[str], tuple[Path, Path]]:
    """``target_shot("A-B")``: (video, track file) of the training target over frames A-B, tracked once per
    range per session (test_train.py trains on 0-89, test_distributed.py on 0-17)."""
    from h2h_engine.cli import main

    made: dict[str, tuple[Path, Path]] = {}

    def make(frames: str) -> tuple[Path, Path]:
        if frames not in made:
            video = clip(TARGET_CLIP)
            track = tmp_path_factory.mktemp("track") / "target.h2h.npz"
            assert main(["--progress", "none", "track", str(video), "-o", str(track), "--frames", frames]) == 0
            made[frames] = (video, track)
        return made[frames]

    return make


def _reenact(source: str, target: str, output: Path, work: Path) -> dict:
    from h2h_engine.nodes import get_spec

    return get_spec("reenact")(source=source, source_frames=FRAMES, target=target, frames=FRAMES, preset="instant",
                               mode="face", output=str(output), work_dir=str(work))


@pytest.fixture(scope="session")
def reenactments(tmp_path_factory, clip) -> dict[str, str]:
    """Paths: ``a``/``b`` the clips, ``ab`` the result of A driven by B, ``ab_driving`` its driving track,
    ``target`` (A's track) and ``source`` (B's track), ``work`` the reenact work folder."""
    a, b = str(clip("German_20s")), str(clip("EDTalk__test_data_mouth_source"))
    root = tmp_path_factory.mktemp("reenact")
    r = _reenact(b, a, root / "ab.mp4", root / "work")
    return {"a": a, "b": b, "ab": r["output"], "ab_driving": r["retargeted_track"], "target": r["target_track"],
            "source": r["source_track"], "work": str(root / "work")}


@pytest.fixture(scope="session")
def self_reenactment(reenactments) -> tuple[str, str]:
    """(result, driving track) of A driven by himself (A's track comes from the shared work folder's cache)."""
    work = Path(reenactments["work"])
    r = _reenact(reenactments["a"], reenactments["a"], work.parent / "aa.mp4", work)
    assert r["target_track"] == reenactments["target"]
    return r["output"], r["retargeted_track"]


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
    from h2h_engine.training.cli import main_eval_reenactment

    folder = tmp_path_factory.mktemp("qc") / "report"
    args = [reenactments["ab"], "--driving", reenactments["ab_driving"], "--target", reenactments["target"],
            "--identity-frames", IDENTITY_FRAMES, "--report", str(folder), "--json"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main_eval_reenactment(args) == 0
    return json.loads(out.getvalue()), folder, args
