"""The render-nmfc node through the CLI: EXR/PNG/movie layouts, sidecar, resume, flow, bad input."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from h2h_engine.cli import main
from h2h_engine.io import read_image
from h2h_engine.io.video import open_frames
from h2h_engine.nodes.render_nmfc import read_boxes
from h2h_engine.render.conditioning import render_conditioning
from h2h_engine.track import Track


@pytest.fixture(scope="module")
def synth_file(tmp_path_factory, model, make_synth_track):
    path = tmp_path_factory.mktemp("node") / "synth.h2h.npz"
    make_synth_track(model, 6).save(path)
    return path


def _cli(*args: str) -> int:
    return main(["--progress", "none", "render-nmfc", *args])


def test_exr_all_products(tmp_path, model, frontal_shot, clip) -> None:
    track = frontal_shot[0].slice(0, 4)
    track.save(tmp_path / "t.h2h.npz")
    out = str(tmp_path / "c.####.exr")
    assert _cli(str(tmp_path / "t.h2h.npz"), "-o", out, "--what", "nmfc,eyes,mask,flow", "--source",
                str(clip("German_20s"))) == 0
    side = read_boxes(tmp_path / "c.boxes.json")
    assert side["schema"] == "H2HBoxes.1" and side["frames"] == [0, 1, 2, 3, 4] and side["size"] == [256, 256]
    rgb = np.stack([f for _, f in open_frames(clip("German_20s"), (0, 5))])
    # flow of the last frame uses the shot's next frame, when the track has it (here it does not: 4 is last)
    want = render_conditioning(model, track, (256, 256), crop=np.array(side["crop_box"]),
                               what=("nmfc", "eyes", "mask", "flow"), frames_rgb=rgb[:5])
    assert side["mouth_boxes"] == want.mouth_box.tolist()
    import OpenImageIO as oiio

    spec = oiio.ImageInput.open(str(tmp_path / "c.0002.exr")).spec()
    names = list(spec.channelnames)
    assert set(names) == {"nmfc.R", "nmfc.G", "nmfc.B", "eyes.R", "eyes.G", "eyes.B", "mask.A", "forward.u",
                          "forward.v"}
    assert json.loads(spec.getattribute("h2h:mouth_box")) == want.mouth_box[2].tolist()
    px = read_image(tmp_path / "c.0002.exr").astype(np.float32)
    ch = {n: px[..., i] for i, n in enumerate(names)}
    nmfc = np.stack([ch["nmfc.R"], ch["nmfc.G"], ch["nmfc.B"]], -1)
    np.testing.assert_allclose(nmfc, want.nmfc[2], atol=1e-3)  # half precision
    np.testing.assert_array_equal(ch["mask.A"] > 0.5, want.mask[2])
    # Nuke's motion layer: u right, v up (image y down), pixels from this frame to the next
    np.testing.assert_allclose(np.stack([ch["forward.u"], -ch["forward.v"]], -1), want.flow[2], atol=0.02)
    assert np.abs(ch["forward.v"]).max() > 0.1  # there is motion to get the sign of


def test_crop_none_renders_at_the_plate_size(tmp_path, frontal_shot) -> None:
    """--crop none without --size renders a 512 px plate's own frame at its own size (not 256x256)."""
    track = tmp_path / "t.h2h.npz"
    frontal_shot[0].slice(3, 3).save(track)
    assert _cli(str(track), "-o", str(tmp_path / "full.####.exr"), "--crop", "none", "--what", "nmfc,mask") == 0
    w, h = frontal_shot[0].image_size
    full = read_image(tmp_path / "full.0003.exr")
    assert full.shape == (h, w, 4) and max(w, h) == 512 and full[..., 3].sum() > 0.05 * w * h  # the face is in it
    assert json.loads((tmp_path / "full.boxes.json").read_text())["size"] == [w, h]
    assert _cli(str(track), "-o", str(tmp_path / "half.####.exr"), "--crop", "none", "--what", "nmfc",
                "--size", f"{w // 2}x{h // 2}") == 0
    assert read_image(tmp_path / "half.0003.exr").shape == (h // 2, w // 2, 3)
    assert _cli(str(track), "-o", str(tmp_path / "crop.####.exr"), "--what", "nmfc") == 0  # crop auto: 256
    assert read_image(tmp_path / "crop.0003.exr").shape == (256, 256, 3)


def test_png_and_movie_layouts(tmp_path, synth_file) -> None:
    assert _cli(str(synth_file), "-o", str(tmp_path / "p.%04d.png"), "--bit-depth", "16", "--size", "128x96") == 0
    for prod, ch in (("nmfc", 3), ("eyes", 3), ("mask", 1)):
        img = read_image(tmp_path / f"p.{prod}.0012.png")
        assert img.shape == (96, 128, ch) and img.dtype == np.uint16
    assert _cli(str(synth_file), "-o", str(tmp_path / "one.####.png"), "--what", "nmfc") == 0
    assert (tmp_path / "one.0010.png").is_file()
    assert _cli(str(synth_file), "-o", str(tmp_path / "m.mp4"), "--what", "nmfc,mask") == 0
    assert (tmp_path / "m.nmfc.mp4").is_file() and (tmp_path / "m.mask.mp4").is_file()
    assert json.loads((tmp_path / "m.boxes.json").read_text())["outputs"][0].endswith("m.nmfc.mp4")
    assert len(list(open_frames(tmp_path / "m.nmfc.mp4"))) == 6


def test_rerun_keeps_existing_frames_unless_forced(tmp_path, synth_file) -> None:
    out = str(tmp_path / "r.####.exr")
    assert _cli(str(synth_file), "-o", out, "--frames", "10-12") == 0
    first = (tmp_path / "r.0011.exr").stat().st_mtime_ns
    (tmp_path / "r.0012.exr").unlink()
    assert _cli(str(synth_file), "-o", out) == 0  # frames on disk with the same stamp are kept
    assert (tmp_path / "r.0011.exr").stat().st_mtime_ns == first
    assert sorted(p.name for p in tmp_path.glob("r.*.exr")) == [f"r.00{f}.exr" for f in range(10, 16)]
    assert _cli(str(synth_file), "-o", out, "--frames", "11-11", "--force") == 0
    assert (tmp_path / "r.0011.exr").stat().st_mtime_ns != first
    # crop box and sidecar come from the whole shot, so a --frames chunk agrees with a full run
    part = json.loads((tmp_path / "r.boxes.json").read_text())
    assert _cli(str(synth_file), "-o", str(tmp_path / "f.####.exr"), "--frames", "13-14") == 0
    chunk = json.loads((tmp_path / "f.boxes.json").read_text())
    assert chunk["crop_box"] == part["crop_box"] and chunk["mouth_boxes"] == part["mouth_boxes"]
    assert chunk["frames"] == list(range(10, 16))


def test_bad_input(tmp_path, synth_file, model, capsys) -> None:
    out = tmp_path / "x.####.exr"
    assert _cli(str(tmp_path / "missing.h2h.npz"), "-o", str(out)) == 2
    assert "does not exist" in capsys.readouterr().err
    assert _cli(str(synth_file), "-o", str(out), "--size", "0x256") == 2
    assert "positive" in capsys.readouterr().err
    t = Track.load(synth_file)
    replace(t, model_digest="0123456789abcdef").save(tmp_path / "other.h2h.npz")
    assert _cli(str(tmp_path / "other.h2h.npz"), "-o", str(out)) == 2
    assert "re-track with the same model" in capsys.readouterr().err
    keep = np.zeros(len(t), bool)
    empty = replace(t, **{n: getattr(t, n)[keep] for n in (
        "frames", "landmarks", "pupils", "confidence", "flags", "expression", "rotation", "translation", "scale",
        "rmse")})
    empty.save(tmp_path / "empty.h2h.npz")
    assert _cli(str(tmp_path / "empty.h2h.npz"), "-o", str(out)) == 2
    assert "no frames" in capsys.readouterr().err
    assert _cli(str(synth_file), "-o", str(tmp_path / "x.####.png"), "--what", "nmfc,flow") == 2
    assert "EXR" in capsys.readouterr().err
    assert _cli(str(synth_file), "-o", str(tmp_path / "x.####.exr"), "--what", "flow") == 2
    assert "--source" in capsys.readouterr().err
    assert _cli(str(synth_file), "-o", str(tmp_path / "x.txt")) == 2
    assert list(tmp_path.glob("x*")) == []  # nothing half-written
