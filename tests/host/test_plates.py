"""Production plates: an ACEScg EXR sequence at 1001 tracks like the movie it was made from."""
import numpy as np
import pytest

from h2h_engine import Track
from h2h_engine.cli import main
from h2h_engine.io import open_frames, read_image
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


def test_movie_timecode_and_plate_numbers_flow_through(tmp_path, clip):
    """A movie with drop-frame timecode (made by the ffmpeg CLI) tracked with --first-frame 1001: the track
    has plate numbers, the exact rate and the timecode, and render-nmfc stamps each EXR frame with its own."""
    import shutil
    import subprocess
    from fractions import Fraction

    from h2h_engine.io.timecode import from_smpte

    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg CLI not installed")
    movie = tmp_path / "plate.mov"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(clip("W009_front_neutral")), "-frames:v", "4", "-r",
                    "30000/1001", "-timecode", "00:00:59;28", "-c:v", "mjpeg", "-q:v", "2", "-an", str(movie)],
                   check=True)
    out = tmp_path / "plate.h2h.npz"
    assert main(["--progress", "none", "track", str(movie), "-o", str(out), "--first-frame", "1001"]) == 0
    trk = Track.load(out)
    assert trk.frames.tolist() == [1001, 1002, 1003, 1004] and trk.meta["rate"] == "30000/1001"
    assert trk.meta["timecode"] == [1001, "00:00:59;28"] and trk.meta["first_frame"] == 1001
    assert main(["--progress", "none", "render-nmfc", str(out), "-o", str(tmp_path / "c.####.exr"), "--what",
                 "nmfc,flow", "--size", "64x64"]) == 0  # flow reads the movie by plate numbers
    for f, want in ((1001, "00:00:59;28"), (1003, "00:01:00;02")):
        _, meta = read_image(tmp_path / f"c.{f}.exr", with_meta=True)
        assert from_smpte(meta.attributes["smpte:TimeCode"][1]) == want
        assert Fraction(*meta.attributes["framesPerSecond"][1]) == Fraction(30000, 1001)
