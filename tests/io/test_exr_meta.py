"""EXR metadata and untouched channels survive a read -> process -> write round trip."""
import numpy as np
import pytest

from h2h_engine.errors import InputError
from h2h_engine.io import open_frames, read_image, write_image
from h2h_engine.io.writer import FrameWriter

oiio = pytest.importorskip("OpenImageIO")

ATTRS = {
    "smpte:TimeCode": ("timecode", (0x10002400, 0)),  # 10:00:24:00
    "framesPerSecond": ("rational", (25, 1)),
    "PixelAspectRatio": ("float", 2.0),
    "nuke/input/frame": ("int", 1001),
    "h2h:shot": ("string", "sh010"),
    "worldToCamera": ("matrix", tuple(float(i) for i in range(16))),
}


def _plate(tmp_path, clip, first=1001, n=2):
    """A real-footage plate as a half RGBA EXR sequence with a float depth layer and production metadata."""
    pat = tmp_path / "plate.####.exr"
    for f, rgb in open_frames(clip("GRID_bbaf2n"), (0, n - 1)):
        h, w, _ = rgb.shape
        alpha = np.linspace(0, 1, w, dtype=np.float32)[None, :, None].repeat(h, 0)
        depth = np.random.default_rng(f).random((h, w, 1), dtype=np.float32) * 1000
        px = np.concatenate([rgb / 255.0, alpha, depth], axis=2).astype(np.float32)
        attrs = dict(ATTRS, **{"nuke/input/frame": ("int", first + f)})
        write_image(tmp_path / f"plate.{first + f:04d}.exr", px, ["R", "G", "B", "A", "depth.Z"], attrs,
                    channel_formats=["half"] * 4 + ["float"])
    return pat


def test_read_with_meta(tmp_path, clip):
    _plate(tmp_path, clip, n=1)
    px, meta = read_image(tmp_path / "plate.1001.exr", with_meta=True)
    assert meta.channels == ("R", "G", "B", "A", "depth.Z")
    assert meta.channel_formats == ("half",) * 4 + ("float",)
    for k, v in ATTRS.items():
        assert meta.attributes[k] == (v[0], v[1] if k != "nuke/input/frame" else 1001), k
    assert not any(k.startswith("oiio:") for k in meta.attributes)


def test_passthrough_keeps_header_and_channels(tmp_path, clip):
    plate = _plate(tmp_path, clip)
    out = tmp_path / "out" / "comp.%04d.exr"
    with FrameWriter(out, passthrough=plate, attributes={"h2h:node": "test"}) as w:
        for f in (1001, 1002):
            rgb = read_image(tmp_path / f"plate.{f}.exr")[:, :, :3].astype(np.float32)
            w.write(f, 1.0 - rgb)  # a real change to RGB; the rest must come through untouched
    for f in (1001, 1002):
        src, smeta = read_image(tmp_path / f"plate.{f}.exr", with_meta=True)
        got, meta = read_image(tmp_path / "out" / f"comp.{f}.exr", with_meta=True)
        assert meta.channels == smeta.channels and meta.channel_formats == smeta.channel_formats
        assert np.array_equal(got[:, :, 3:], src[:, :, 3:])  # alpha + float depth bit-exact
        assert np.abs(got[:, :, :3] - (1.0 - src[:, :, :3])).max() < 1e-3
        assert meta.attributes["nuke/input/frame"] == ("int", f)
        assert meta.attributes["h2h:node"] == ("string", "test")
        for k in ATTRS:
            if k != "nuke/input/frame":
                assert meta.attributes[k] == smeta.attributes[k], k
    # the header is a real EXR timecode (other tools read it)
    spec = oiio.ImageInput.open(str(tmp_path / "out" / "comp.1002.exr")).spec()
    assert spec.get_string_attribute("smpte:TimeCode") == "10:00:24:00"


def test_passthrough_size_mismatch(tmp_path, clip):
    plate = _plate(tmp_path, clip, n=1)
    with FrameWriter(tmp_path / "o.####.exr", passthrough=plate) as w:
        with pytest.raises(InputError, match="plate .* is 360x288"):
            w.write(1001, np.zeros((100, 100, 3), np.float32))
    with pytest.raises(InputError, match="image-sequence output"):
        FrameWriter(tmp_path / "o.mp4", passthrough=plate)
