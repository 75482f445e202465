"""Plate colour spaces <-> the networks' display sRGB through the active OCIO config ($OCIO or the built-in
studio config); the built-in sRGB/ACES reference agrees with OCIO."""
import numpy as np
import PyOpenColorIO as ocio
import pytest

from h2h_engine.errors import ConfigError
from h2h_engine.io import open_frames, read_image, write_image
from h2h_engine.io.colour import SHORTHANDS, convert, from_display, resolve, to_display, to_display_uint8
from h2h_engine.io.writer import FrameWriter


@pytest.fixture(scope="module")
def frame(clip):
    return next(iter(open_frames(clip("WDA_KatieHill"), (0, 0))))[1].astype(np.float32) / 255  # (H, W, 3)


@pytest.fixture
def show_config(tmp_path, monkeypatch):
    """A show's own OCIO config file on $OCIO: the studio config with scene_linear moved to Linear Rec.709
    and a colour space of its own, ``show_plate_lin`` (linear Rec.709 under a show name, alias ``plate``)."""
    config = ocio.Config.CreateFromBuiltinConfig("studio-config-latest")
    config.setRole("scene_linear", "Linear Rec.709 (sRGB)")
    cs = ocio.ColorSpace(ocio.REFERENCE_SPACE_SCENE, "show_plate_lin")
    cs.addAlias("plate")
    cs.setTransform(ocio.ColorSpaceTransform("Linear Rec.709 (sRGB)", "ACES2065-1"),
                    ocio.COLORSPACE_DIR_TO_REFERENCE)
    config.addColorSpace(cs)
    path = tmp_path / "show.ocio"
    path.write_text(config.serialize())
    monkeypatch.setenv("OCIO", str(path))
    return path


@pytest.mark.parametrize("space", ["linear", "acescg", "aces2065"])
def test_builtin_matches_ocio(frame, space):
    a = convert(frame, "srgb", space, "ocio")
    b = convert(frame, "srgb", space, "builtin")
    assert np.abs(a - b).max() < 2e-4
    assert np.abs(convert(a, space, "srgb", "ocio") - convert(a, space, "srgb", "builtin")).max() < 2e-4


@pytest.mark.parametrize("space", [*SHORTHANDS, "lin_ap1", "ACES - ACEScct", "compositing_log"])
def test_round_trip(frame, space):
    plate = from_display(frame, space)
    if resolve(space) != resolve("srgb"):
        assert np.abs(plate - frame).mean() > 1e-3  # the conversion really does something
    assert np.abs(to_display(plate, space) - frame).max() < 2e-3


def test_names_aliases_roles_resolve():
    assert resolve("acescg") == resolve("lin_ap1") == resolve("ACES - ACEScg") == resolve("scene_linear") == "ACEScg"
    assert resolve("auto") == "ACEScg" and resolve("auto", is_float=False) == "sRGB Encoded Rec.709 (sRGB)"
    assert resolve("color_picking") == resolve("srgb")


def test_known_values():
    grey = np.full((1, 3), 0.18, np.float32)
    assert np.allclose(to_display(grey, "linear", "builtin"), 0.46135, atol=1e-4)  # 18% grey in sRGB
    assert np.allclose(to_display(grey, "Linear Rec.709 (sRGB)"), 0.46135, atol=2e-4)
    red = np.array([[1.0, 0.0, 0.0]], np.float32)  # ACEScg red is outside Rec.709: negative G, B
    lin = convert(red, "acescg", "linear", "builtin")
    assert np.allclose(lin, [[1.70505, -0.13026, -0.02400]], atol=1e-4)
    assert np.allclose(convert(red, "ACEScg", "lin_rec709_srgb"), lin, atol=2e-4)  # OCIO by alias
    assert np.allclose(convert(to_display(red, "acescg", "builtin"), "srgb", "acescg", "builtin"), red, atol=1e-5)


def test_exr_plate_in_acescg(tmp_path, frame):
    """An ACEScg EXR plate reads as the same display image, and writes back into ACEScg."""
    write_image(tmp_path / "p.1001.exr", from_display(frame, "acescg"), dtype="float")
    _, rgb = next(iter(open_frames(tmp_path / "p.####.exr", colourspace="acescg", fps=24)))
    assert np.abs(rgb.astype(np.float32) / 255 - frame).max() <= 1 / 255 + 1e-6
    with FrameWriter(tmp_path / "o.####.exr", dtype="float", colourspace="acescg") as w:
        w.write(1001, frame)
    assert np.abs(read_image(tmp_path / "o.1001.exr") - from_display(frame, "acescg")).max() < 1e-5


def test_show_config_from_env(show_config, frame, tmp_path):
    """$OCIO's config decides: its own colour-space names and aliases work, and "auto" follows its
    scene_linear role (here Linear Rec.709, not the studio config's ACEScg)."""
    assert resolve("auto") == "Linear Rec.709 (sRGB)"
    assert resolve("plate") == "show_plate_lin"
    plate = from_display(frame, "show_plate_lin")
    assert np.abs(plate - convert(frame, "srgb", "linear", "builtin")).max() < 2e-4
    write_image(tmp_path / "p.0001.exr", plate, dtype="float")
    auto = to_display_uint8(read_image(tmp_path / "p.0001.exr"))  # float EXR, "auto": the show's scene_linear
    assert np.abs(auto.astype(np.float32) / 255 - frame).max() <= 1 / 255 + 1e-6
    by_name = next(iter(open_frames(tmp_path / "p.####.exr", colourspace="plate", fps=24)))[1]
    assert np.array_equal(by_name, auto)
    with pytest.raises(ConfigError, match="show.ocio"):
        resolve("acescg_typo")


def test_bad_space_lists_near_matches():
    with pytest.raises(ConfigError, match=r"not in the OCIO config .*did you mean .*'ACEScg'"):
        to_display(np.zeros((1, 3), np.float32), "ACEScgg")
    with pytest.raises(ConfigError, match="'bogus' is not in the OCIO config"):
        open_frames("x.####.exr", colourspace="bogus")
    with pytest.raises(ConfigError, match="not in the OCIO config"):
        FrameWriter("o.####.exr", colourspace="rec2020pq_nonsense")


def test_bad_config(monkeypatch, tmp_path):
    (tmp_path / "broken.ocio").write_text("ocio_profile_version: 2\nroles: [\n")
    monkeypatch.setenv("OCIO", str(tmp_path / "broken.ocio"))
    with pytest.raises(ConfigError, match=r"cannot load the OCIO config .*broken.ocio"):
        resolve("acescg")
