"""Production plates: an ACEScg EXR sequence at 1001 tracks like the movie it was made from."""
import numpy as np

from h2h_engine import Track
from h2h_engine.cli import main
from h2h_engine.io import open_frames
from h2h_engine.io.colour import from_display
from h2h_engine.io.writer import FrameWriter


def test_track_acescg_exr_plate(tmp_path, clip, track_file):
    src = clip("W009_front_neutral")  # track_file: frames 0-11 of this clip
    with FrameWriter(tmp_path / "plate.####.exr", dtype="half") as w:
        for f, rgb in open_frames(src, (0, 5)):
            w.write(1001 + f, from_display(rgb.astype(np.float32) / 255, "acescg"))  # scene-linear AP1
    out = tmp_path / "plate.h2h.npz"
    assert main(["--progress", "none", "track", str(tmp_path / "plate.$F4.exr"), "-o", str(out),
                 "--colourspace", "acescg"]) == 0
    plate, movie = Track.load(out), Track.load(track_file)
    assert plate.frames.tolist() == list(range(1001, 1007)) and plate.meta["colourspace"] == "acescg"
    err = np.linalg.norm(plate.landmarks - movie.landmarks[:6], axis=-1)  # (6, 68) px
    assert np.median(err) < 0.5 and err.max() < 3.0
