import numpy as np
import pytest

from h2h_engine.errors import FrameRangeError, InputError
from h2h_engine.io import FramePattern, is_pattern, open_frames, parse_frame_range, read_image, write_image


def test_parse_frame_range():
    assert parse_frame_range("1001-1010") == (1001, 1010)
    assert parse_frame_range("7") == (7, 7)
    assert parse_frame_range(None) is None
    for bad in ("10-5", "a-b", "1-2-3"):
        with pytest.raises(FrameRangeError):
            parse_frame_range(bad)


@pytest.mark.parametrize("pattern", ["shot.%04d.exr", "shot.####.exr", "shot.$F4.exr"])
def test_patterns(tmp_path, pattern):
    p = FramePattern.parse(str(tmp_path / pattern))
    assert p.path(1001).name == "shot.1001.exr"


def test_only_the_file_names_last_field_is_a_pattern(tmp_path):
    p = FramePattern.parse(str(tmp_path / "100%done" / "a.%04d.####.exr"))
    assert p.path(7) == tmp_path / "100%done" / "a.%04d.0007.exr"
    assert not is_pattern(str(tmp_path / "100%done" / "$F4" / "clip.mp4"))
    take = tmp_path / "take#1.mp4"
    assert is_pattern(str(take))
    take.write_bytes(b"")
    assert not is_pattern(str(take))  # a path that exists as a file is that file
    with pytest.raises(FrameRangeError, match="no frame-number field"):
        FramePattern.parse(str(tmp_path / "####" / "clip.mp4"))


def test_video_frames(clip):
    src = open_frames(clip("GRID_bbaf2n"), (10, 14))
    frames = list(src)
    assert [f for f, _ in frames] == [10, 11, 12, 13, 14]
    assert frames[0][1].shape == (src.height, src.width, 3) and frames[0][1].dtype == np.uint8


def test_exr_sequence_roundtrip(tmp_path, clip):
    src = open_frames(clip("GRID_bbaf2n"), (0, 2))
    for f, rgb in src:
        lin = (rgb.astype(np.float32) / 255.0) ** 2.2
        write_image(tmp_path / f"plate.{1001 + f:04d}.exr", lin.astype(np.float16))
    seq = open_frames(str(tmp_path / "plate.####.exr"), colourspace="linear")
    got = list(seq)
    assert [f for f, _ in got] == [1001, 1002, 1003]
    ref = list(src)
    # linear half -> sRGB 8-bit differs from the original only by the gamma mismatch (2.2 vs sRGB curve)
    assert np.abs(got[0][1].astype(int) - ref[0][1].astype(int)).mean() < 6


def test_bad_inputs(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        open_frames(tmp_path / "missing.mp4")
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00" * 1000)
    with pytest.raises(InputError, match="corrupt"):
        open_frames(corrupt)
    nan = np.zeros((4, 4, 3), np.float32)
    nan[1, 1, 0] = np.nan
    write_image(tmp_path / "nan.exr", nan, dtype="float")
    with pytest.raises(InputError, match="NaN"):
        read_image(tmp_path / "nan.exr")
