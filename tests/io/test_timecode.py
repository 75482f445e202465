"""Exact frame rates and SMPTE timecode: known drop-frame values, the EXR smpte:TimeCode packing, and timecode
read from a real movie made by the ffmpeg CLI and carried to EXR and movie outputs."""
import shutil
import subprocess
from fractions import Fraction

import numpy as np
import pytest

from h2h_engine.errors import ConfigError, FrameRangeError, InputError
from h2h_engine.io import open_frames, read_image
from h2h_engine.io.timecode import (frames_between, from_smpte, offset_timecode, parse_rate, rate_text,
                                    to_smpte)
from h2h_engine.io.writer import FrameWriter

NTSC = Fraction(30000, 1001)


@pytest.mark.parametrize("text, want", [
    ("23.976", (24000, 1001)), ("23.98", (24000, 1001)), (23.976023976, (24000, 1001)), ("24000/1001", (24000, 1001)),
    ("29.97", (30000, 1001)), (59.94, (60000, 1001)), ("25", (25, 1)), (24.0, (24, 1)),
    ((30000, 1001), (30000, 1001)), ("12.5", (25, 2))])
def test_parse_rate_exact(text, want):
    rate = parse_rate(text)
    assert (rate.numerator, rate.denominator) == want
    assert rate != Fraction(2997, 125)


def test_parse_rate_errors():
    for bad in ("fast", "0", "-24", "24/0", "5000"):
        with pytest.raises(ConfigError, match="frame rate"):
            parse_rate(bad)
    assert rate_text(Fraction(24000, 1001)) == "24000/1001" and rate_text(Fraction(25)) == "25"


def test_drop_frame_known_values():
    # SMPTE drop frame: frame numbers 00 and 01 are skipped every minute except every tenth minute
    assert offset_timecode("00:00:59;29", NTSC, 1) == "00:01:00;02"
    assert offset_timecode("00:09:59;29", NTSC, 1) == "00:10:00;00"
    assert offset_timecode("00:01:00;02", NTSC, -1) == "00:00:59;29"
    assert frames_between("00:00:00;00", "00:10:00;00", NTSC) == 17982
    assert frames_between("00:00:00;00", "01:00:00;00", NTSC) == 107892
    # the same labels non-drop (':') count every frame
    assert frames_between("00:00:00:00", "00:10:00:00", NTSC) == 18000
    assert offset_timecode("00:59:59:23", Fraction(24000, 1001), 1) == "01:00:00:00"
    assert offset_timecode("01:00:00:00", Fraction(25), 25 * 3600 + 7) == "02:00:00:07"


def test_timecode_errors():
    with pytest.raises(InputError, match="HH:MM:SS:FF"):
        offset_timecode("1:00:00", Fraction(24), 1)
    with pytest.raises(InputError, match="drop-frame timecode .* 29.97"):
        offset_timecode("01:00:00;00", Fraction(25), 1)


def test_smpte_packing():
    assert to_smpte("01:02:03:04") == (0x01020304, 0)
    assert to_smpte("00:00:00;02") == (0x42, 0)  # drop-frame flag is bit 6
    for tc in ("23:59:59:23", "13:59:58;29", "00:00:00:00"):
        assert from_smpte(to_smpte(tc)) == tc
    assert from_smpte((0x01020304 | 1 << 7 | 1 << 15, 99)) == "01:02:03:04"  # colour-frame/field flags ignored


@pytest.fixture(scope="module")
def tc_movie(tmp_path_factory, clip):
    """12 frames of a real clip re-encoded by the ffmpeg CLI at 30000/1001 fps with drop-frame timecode."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg CLI not installed")
    out = tmp_path_factory.mktemp("tc") / "tc.mov"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(clip("GRID_bbaf2n")), "-frames:v", "12", "-r", "30000/1001",
                    "-timecode", "00:00:59;28", "-c:v", "mjpeg", "-an", str(out)], check=True)
    return out


def test_movie_timecode_and_first_frame(tc_movie):
    src = open_frames(tc_movie)
    assert src.rate == NTSC and src.timecode == "00:00:59;28" and src.frame_numbers()[0] == 0
    assert src.timecode_of(2) == "00:01:00;02"  # crosses a minute: ;00 and ;01 do not exist
    plate = open_frames(tc_movie, (1003, 1004), first_frame=1001)  # movie frames as plate numbers
    got = list(plate)
    ref = list(open_frames(tc_movie, (2, 3)))
    assert [f for f, _ in got] == [1003, 1004] and all(np.array_equal(a[1], b[1]) for a, b in zip(got, ref))
    assert plate.timecode_of(1003) == "00:01:00;02"
    with pytest.raises(FrameRangeError, match="before the movie's first frame 1001"):
        open_frames(tc_movie, (0, 3), first_frame=1001)


def test_timecode_carried_to_outputs(tc_movie, tmp_path):
    src = open_frames(tc_movie)
    frames = list(src)[:3]
    with FrameWriter(tmp_path / "o.####.exr", fps=src.rate, timecode=(0, src.timecode)) as w:
        for f, rgb in frames:
            w.write(f, rgb.astype(np.float32) / 255)
    for f, want in ((0, "00:00:59;28"), (2, "00:01:00;02")):
        _, meta = read_image(tmp_path / f"o.{f:04d}.exr", with_meta=True)
        assert from_smpte(meta.attributes["smpte:TimeCode"][1]) == want
        assert meta.attributes["framesPerSecond"][1] == (30000, 1001)
    seq = open_frames(tmp_path / "o.####.exr")  # the sequence says its own rate and timecode
    assert seq.rate == NTSC and seq.timecode_of(2) == "00:01:00;02"
    with FrameWriter(tmp_path / "o.mov", fps=src.rate, timecode=(0, src.timecode)) as w:
        for f, rgb in frames[1:]:  # the movie starts at frame 1
            w.write(f, rgb)
    back = open_frames(tmp_path / "o.mov")
    assert back.rate == NTSC and back.timecode == "00:00:59;29"
    if shutil.which("ffprobe"):
        probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream_tags=timecode", "-of", "csv=p=0",
                                str(tmp_path / "o.mov")], check=True, capture_output=True, text=True).stdout
        assert "00:00:59;29" in probe


def test_sequence_needs_a_rate(tmp_path, clip):
    """A sequence without framesPerSecond (PNG) never gets a silent 24: --fps or an error."""
    with FrameWriter(tmp_path / "p.####.png") as w:
        for f, rgb in open_frames(clip("GRID_bbaf2n"), (0, 1)):
            w.write(1001 + f, rgb)
    src = open_frames(tmp_path / "p.####.png")
    with pytest.raises(InputError, match=r"no frame rate in its header \(framesPerSecond\): pass --fps"):
        src.fps
    assert open_frames(tmp_path / "p.####.png", fps="23.976").rate == Fraction(24000, 1001)
