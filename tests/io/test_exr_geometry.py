"""EXR data and display windows on read, write and pass-through: a bbox-cropped plate (data window smaller
than and offset from its display window, 24000/1001 fps and a timecode in its header, written with
OpenImageIO itself) and an overscan plate keep their geometry."""
from fractions import Fraction

import numpy as np
import pytest

oiio = pytest.importorskip("OpenImageIO")

from h2h_engine.errors import InputError
from h2h_engine.io import open_frames, read_image
from h2h_engine.io.image import place
from h2h_engine.io.timecode import from_smpte, to_smpte
from h2h_engine.io.writer import FrameWriter

W, H = 64, 48  # display window
BBOX = (10, 6, 30, 20)  # data window x, y, w, h inside it


def _write_plate(path, pixels, data_window, display=(0, 0, W, H), timecode="01:00:00:00"):
    """An RGBA + Z plate written directly with OpenImageIO (half RGBA, float Z)."""
    h, w, _ = pixels.shape
    spec = oiio.ImageSpec(w, h, 5, oiio.HALF)
    spec.channelnames = ("R", "G", "B", "A", "Z")
    spec.channelformats = (oiio.HALF,) * 4 + (oiio.FLOAT,)
    spec.x, spec.y = data_window[:2]
    spec.full_x, spec.full_y, spec.full_width, spec.full_height = display
    spec.attribute("framesPerSecond", oiio.TypeDesc("rational"), [24000, 1001])
    spec.attribute("smpte:TimeCode", oiio.TypeDesc("timecode"), list(to_smpte(timecode)))
    spec.attribute("show:shot", "sh010")
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), spec) and out.write_image(pixels.astype(np.float32))
    out.close()


@pytest.fixture
def bbox_plate(tmp_path):
    rng = np.random.default_rng(0)
    px = rng.uniform(0.05, 0.9, (BBOX[3], BBOX[2], 5)).astype(np.float16).astype(np.float32)
    for f in (1001, 1002):
        _write_plate(tmp_path / f"plate.{f}.exr", px, BBOX, timecode=f"01:00:00:{f - 1001:02d}")
    return tmp_path / "plate.####.exr", px


def test_read_display_window(bbox_plate):
    pattern, px = bbox_plate
    path = str(pattern).replace("####", "1001")
    stored, meta = read_image(path, with_meta=True)
    assert stored.shape == (BBOX[3], BBOX[2], 5) and meta.data_window == BBOX and meta.display_window == (0, 0, W, H)
    full = read_image(path, window="display")
    x, y, w, h = BBOX
    assert full.shape == (H, W, 5) and np.array_equal(full[y:y + h, x:x + w], px.astype(np.float16))
    assert not full[:y].any() and not full[:, :x].any() and not full[y + h:].any()
    src = open_frames(pattern, colourspace="linear")
    assert (src.width, src.height) == (W, H) and src.rate == Fraction(24000, 1001) and src.fps == 24000 / 1001
    assert src.timecode == "01:00:00:00" and src.timecode_of(1002) == "01:00:00:01"
    frames = list(src)
    assert frames[0][1].shape == (H, W, 3) and frames[0][1][y:y + h, x:x + w].min() > 0 and not frames[0][1][:y].any()


def test_passthrough_keeps_the_bbox(bbox_plate, tmp_path):
    """A display-window result written over the bbox plate keeps its data window, display window, header,
    rate, timecode and the channels it does not replace; what lies outside the bbox is cut."""
    pattern, px = bbox_plate
    result = np.full((H, W, 3), 0.5, np.float32)
    result[0, 0] = 7.0  # outside the data window: cut
    with FrameWriter(tmp_path / "comp.####.exr", fps=Fraction(24000, 1001), dtype="float",
                     passthrough=pattern) as w:
        w.write(1002, result)
    out, meta = read_image(tmp_path / "comp.1002.exr", with_meta=True)
    assert meta.data_window == BBOX and meta.display_window == (0, 0, W, H)
    assert meta.channels == ("R", "G", "B", "A", "Z") and meta.channel_formats == ("float",) * 3 + ("half", "float")
    assert np.array_equal(out[..., :3], np.full((BBOX[3], BBOX[2], 3), 0.5, np.float32))
    assert np.array_equal(out[..., 3:], px[..., 3:])  # alpha and depth as they were
    assert meta.attributes["show:shot"][1] == "sh010" and from_smpte(meta.attributes["smpte:TimeCode"][1]) == \
        "01:00:00:01" and meta.attributes["framesPerSecond"][1] == (24000, 1001)
    with pytest.raises(InputError, match="is 32x32 but the plate .* is 64x48"):
        with FrameWriter(tmp_path / "bad.####.exr", passthrough=pattern) as w:
            w.write(1001, np.zeros((32, 32, 3), np.float32))


def test_passthrough_keeps_overscan(tmp_path):
    """An overscan plate (data window larger than the display window): the result replaces the display
    window; the overscan keeps the plate's own pixels in the channels it has (a new layer is 0 there)."""
    over = (-8, -4, W + 16, H + 8)
    px = np.random.default_rng(1).uniform(0.1, 0.9, (over[3], over[2], 5)).astype(np.float16).astype(np.float32)
    _write_plate(tmp_path / "plate.0001.exr", px, over)
    result = np.concatenate([np.full((H, W, 3), 0.25, np.float32), np.ones((H, W, 1), np.float32)], axis=2)
    with FrameWriter(tmp_path / "comp.####.exr", dtype="float", passthrough=tmp_path / "plate.####.exr",
                     channels=("R", "G", "B", "mask.A")) as w:
        w.write(1, result)
    out, meta = read_image(tmp_path / "comp.0001.exr", with_meta=True)
    assert meta.data_window == over and meta.display_window == (0, 0, W, H)
    assert sorted(meta.channels) == sorted(("R", "G", "B", "mask.A", "A", "Z"))
    ch = {n: out[..., i] for i, n in enumerate(meta.channels)}
    rgb = np.stack([ch["R"], ch["G"], ch["B"]], -1)
    assert np.array_equal(rgb[4:4 + H, 8:8 + W], result[..., :3]) and (ch["mask.A"][4:4 + H, 8:8 + W] == 1).all()
    assert np.array_equal(rgb[:4], px[:4, :, :3]) and not ch["mask.A"][:4].any()  # overscan: plate RGB, mask 0
    assert np.array_equal(np.stack([ch["A"], ch["Z"]], -1), px[..., 3:])  # A, Z untouched everywhere


def test_place_crops_and_pads():
    px = np.arange(12, dtype=np.float32).reshape(3, 4, 1)
    out = place(px, (-1, 1, 4, 3), (0, 0, 3, 3))
    assert out[..., 0].tolist() == [[0, 0, 0], [1, 2, 3], [5, 6, 7]]
