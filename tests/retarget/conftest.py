"""Real tracks for the retarget tests, made once per session with the Track node (about 25 s on 2 cores), and the
per-frame reference implementation beside them (``retarget_ref.py``)."""
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from h2h_engine.cli import main
from h2h_engine.track import Track


def _track(clip, tmp_path_factory, name: str, frames: str) -> Track:
    out = tmp_path_factory.mktemp("retarget_tracks") / f"{name}.h2h.npz"
    assert main(["--progress", "none", "track", str(clip(name)), "-o", str(out), "--frames", frames]) == 0
    return Track.load(out)


@pytest.fixture(scope="session")
def shots(clip, tmp_path_factory):
    """(A, B): two different people. A (50 frames, head turns) drives B (60 frames, talking)."""
    return (_track(clip, tmp_path_factory, "EDTalk__test_data_pose_source1", "0-49"),
            _track(clip, tmp_path_factory, "EDTalk__test_data_mouth_source", "0-59"))


@pytest.fixture(scope="session")
def gaze_shot(clip, tmp_path_factory):
    """A shot whose eyes look far sideways (LivePortrait d0, 512 px)."""
    return _track(clip, tmp_path_factory, "LivePortrait__assets_examples_driving_d0", "0-59")


def load_reference() -> ModuleType:
    """``tests/retarget/retarget_ref.py`` as a module (it is not part of the installed package)."""
    spec = importlib.util.spec_from_file_location("retarget_ref", Path(__file__).with_name("retarget_ref.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def reference() -> ModuleType:
    """The slow, obviously-correct reference of ``retarget`` (``retarget_ref``, ``source_row_ref``)."""
    return load_reference()
