"""Real tracks for the retarget tests, made once per session with the Track node (about 25 s on 2 cores)."""
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
