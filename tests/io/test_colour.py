"""Plate colour spaces <-> the networks' display sRGB: OpenColorIO and the built-in fallback agree."""
import numpy as np
import pytest

from h2h_engine.errors import ConfigError
from h2h_engine.io import open_frames, read_image, write_image
from h2h_engine.io.colour import COLOURSPACES, convert, from_display, has_ocio, to_display
from h2h_engine.io.writer import FrameWriter


@pytest.fixture(scope="module")
def frame(clip):
    return next(iter(open_frames(clip("WDA_KatieHill"), (0, 0))))[1].astype(np.float32) / 255  # (H, W, 3)


@pytest.mark.parametrize("space", ["linear", "acescg", "aces2065"])
def test_builtin_matches_ocio(frame, space):
    if not has_ocio():
        pytest.skip("opencolorio not installed")
    for impl_src in ("ocio", "builtin"):
        assert convert(frame, "srgb", space, impl_src).shape == frame.shape
    a = convert(frame, "srgb", space, "ocio")
    b = convert(frame, "srgb", space, "builtin")
    assert np.abs(a - b).max() < 2e-4
    assert np.abs(convert(a, space, "srgb", "ocio") - convert(a, space, "srgb", "builtin")).max() < 2e-4


@pytest.mark.parametrize("space", list(COLOURSPACES))
def test_round_trip(frame, space):
    if space not in ("srgb", "linear", "acescg", "aces2065") and not has_ocio():
        pytest.skip("needs opencolorio")
    plate = from_display(frame, space)
    if space != "srgb":
        assert np.abs(plate - frame).mean() > 1e-3  # the conversion really does something
    assert np.abs(to_display(plate, space) - frame).max() < 2e-3


def test_known_values():
    grey = np.full((1, 3), 0.18, np.float32)
    assert np.allclose(to_display(grey, "linear", "builtin"), 0.46135, atol=1e-4)  # 18% grey in sRGB
    red = np.array([[1.0, 0.0, 0.0]], np.float32)  # ACEScg red is outside Rec.709: negative G, B
    lin = convert(red, "acescg", "linear", "builtin")
    assert np.allclose(lin, [[1.70505, -0.13026, -0.02400]], atol=1e-4)
    assert np.allclose(convert(to_display(red, "acescg", "builtin"), "srgb", "acescg", "builtin"), red, atol=1e-5)


def test_exr_plate_in_acescg(tmp_path, frame):
    """An ACEScg EXR plate reads as the same display image, and writes back into ACEScg."""
    write_image(tmp_path / "p.1001.exr", from_display(frame, "acescg"), dtype="float")
    _, rgb = next(iter(open_frames(tmp_path / "p.####.exr", colourspace="acescg")))
    assert np.abs(rgb.astype(np.float32) / 255 - frame).max() <= 1 / 255 + 1e-6
    with FrameWriter(tmp_path / "o.####.exr", dtype="float", colourspace="acescg") as w:
        w.write(1001, frame)
    assert np.abs(read_image(tmp_path / "o.1001.exr") - from_display(frame, "acescg")).max() < 1e-5


def test_bad_space():
    with pytest.raises(ConfigError, match="not one of"):
        to_display(np.zeros((1, 3), np.float32), "rec2020pq")
    with pytest.raises(ConfigError, match="not one of"):
        open_frames("x.####.exr", colourspace="bogus")
