"""Production sequences: shots at 1001 with handles, the three pattern spellings, and clear errors."""
import numpy as np
import pytest

from h2h_engine.errors import FrameRangeError, InputError
from h2h_engine.io import open_frames, write_image
from h2h_engine.io.writer import FrameWriter


@pytest.fixture()
def plate(tmp_path, clip):
    """Frames 993-1012 of a real clip: a shot 1001-1004 with 8-frame handles."""
    frames = [rgb for _, rgb in open_frames(clip("GRID_bbaf2n"), (0, 19))]
    with FrameWriter(tmp_path / "plate.####.exr", dtype="float", colourspace="linear") as w:
        for i, rgb in enumerate(frames):
            w.write(993 + i, rgb.astype(np.float32) / 255)
    return tmp_path, frames


@pytest.mark.parametrize("spelling", ["plate.####.exr", "plate.%04d.exr", "plate.$F4.exr"])
def test_shot_with_handles(plate, spelling):
    folder, frames = plate
    src = open_frames(str(folder / spelling), (1001, 1004), colourspace="linear")
    got = list(src)
    assert [f for f, _ in got] == [1001, 1002, 1003, 1004] and src.frame_numbers() == [1001, 1002, 1003, 1004]
    for f, rgb in got:  # linear float EXR back to the same 8-bit picture
        assert np.abs(rgb.astype(int) - frames[f - 993].astype(int)).max() <= 1
    assert [f for f, _ in open_frames(str(folder / spelling))][:2] == [993, 994]  # handles are there too


def test_sequence_errors(plate, tmp_path):
    folder, frames = plate
    with pytest.raises(FrameRangeError, match="no frames of .* in range 2001-2010"):
        open_frames(str(folder / "plate.####.exr"), (2001, 2010))
    with pytest.raises(InputError, match="no files match the sequence"):
        open_frames(str(folder / "plate.####.png"))
    with pytest.raises(InputError, match=r"no files match the sequence .*plate\.####\.#\.exr"):
        open_frames(str(folder / "plate.####.%d.exr"))  # only the last field counts: 1001.exr would match
    (folder / "plate.1003.exr").unlink()  # a hole in the plate
    with pytest.raises(FrameRangeError, match=r"missing frame\(s\) 1003 between 1001 and 1004"):
        open_frames(str(folder / "plate.####.exr"), (1001, 1004))
    assert [f for f, _ in open_frames(str(folder / "plate.####.exr"), (1004, 1005))] == [1004, 1005]
    write_image(folder / "plate.1003.exr", np.zeros((100, 120, 3), np.float32))  # wrong size
    with pytest.raises(InputError, match="is 120x100, the sequence started at 360x288"):
        list(open_frames(str(folder / "plate.####.exr"), (1001, 1004)))
