"""What nodes write for hosts: EXR comps keep the plate's channels, header and colour space; movies carry
the driving clip's sound from the retarget's offset."""
import numpy as np
import pytest

from h2h_engine.cli import main
from h2h_engine.io import open_frames, read_image, write_image
from h2h_engine.io.colour import from_display

av = pytest.importorskip("av")
pytest.importorskip("h2h_engine.synthesis", reason="the synthesis package (generator, checkpoints) is not merged")


def _h2h(*args):
    assert main(["--progress", "none", *map(str, args)]) == 0


@pytest.fixture(scope="module")
def exr_plate(tmp_path_factory, clip):
    """Frames 1001-1004: an ACEScg half RGBA EXR plate with a float depth layer and a timecode, and its track."""
    d = tmp_path_factory.mktemp("plate")
    src = open_frames(clip("W009_front_neutral"), (0, 3))
    for f, rgb in src:
        lin = from_display(rgb.astype(np.float32) / 255, "acescg")
        depth = np.full((256, 256, 1), 100.0 + f, np.float32)
        px = np.concatenate([lin, np.ones((256, 256, 1), np.float32), depth], axis=2)
        write_image(d / f"plate.{1001 + f}.exr", px, ["R", "G", "B", "A", "depth.Z"],
                    {"smpte:TimeCode": ("timecode", (0x10000000 + f, 0)), "h2h:shot": ("string", "sh010"),
                     "framesPerSecond": ("rational", (src.rate.numerator, src.rate.denominator))},
                    channel_formats=["half"] * 4 + ["float"])
    _h2h("track", d / "plate.####.exr", "-o", d / "plate.h2h.npz", "--colourspace", "acescg")
    return d


def test_exr_comp_keeps_the_plate(exr_plate, checkpoint, tmp_path):
    _h2h("synthesize", "--checkpoint", checkpoint, "--track", exr_plate / "plate.h2h.npz", "--plate",
         exr_plate / "plate.####.exr", "-o", tmp_path / "comp.####.exr", "--colourspace", "acescg",
         "--device", "cpu", "--feather", "2", "--mask", "face")
    for f in range(1001, 1005):
        src, smeta = read_image(exr_plate / f"plate.{f}.exr", with_meta=True)
        out, meta = read_image(tmp_path / f"comp.{f}.exr", with_meta=True)
        # the plate's channels and types, plus the composite's matte as a mask layer
        assert set(meta.channels) == set(smeta.channels) | {"mask.A"}
        fmt = dict(zip(meta.channels, meta.channel_formats))
        assert {c: fmt[c] for c in smeta.channels} == dict(zip(smeta.channels, smeta.channel_formats))
        assert meta.attributes["smpte:TimeCode"] == smeta.attributes["smpte:TimeCode"]
        assert meta.attributes["h2h:shot"] == ("string", "sh010")
        for name in ("A", "depth.Z"):  # alpha and depth untouched
            assert np.array_equal(out[..., meta.channels.index(name)], src[..., smeta.channels.index(name)])
        matte = out[..., meta.channels.index("mask.A")]
        assert 0 < (matte > 0).mean() < 0.8 and np.array_equal(out[matte == 0][:, :3], src[matte == 0][:, :3])
        # composited in ACEScg at full precision: a corner (far from the face) is the plate, bit for bit
        corner = (slice(0, 8), slice(0, 8))
        assert np.array_equal(out[corner][..., :3], src[corner][..., :3])
        assert np.abs(out[..., :3] - src[..., :3]).mean() > 0.01  # the head was replaced


def test_movie_carries_the_driving_audio(tmp_path, clip, exr_plate, checkpoint):
    src = clip("Audio_Source_00015")
    _h2h("track", src, "-o", tmp_path / "src.h2h.npz", "--frames", "0-9")
    _h2h("retarget", "--source", tmp_path / "src.h2h.npz", "--target", exr_plate / "plate.h2h.npz", "-o",
         tmp_path / "drv.h2h.npz", "--mode", "face", "--source-offset", "3")
    out = tmp_path / "dub.mp4"
    assert main(["--progress", "none", "--json", "synthesize", "--checkpoint", str(checkpoint), "--track",
                 str(tmp_path / "drv.h2h.npz"), "-o", str(out), "--device", "cpu"]) == 0
    with av.open(str(out)) as c:
        assert c.streams.video[0].frames == 4 and len(c.streams.audio) == 1
        seconds = sum(fr.samples for fr in c.decode(audio=0)) / c.streams.audio[0].rate
    assert abs(seconds - 4 / 25) < 0.1  # trimmed to the 4 frames (plus AAC padding)
