"""Issue 14 B: inputs that used to give wrong output with exit 0 now fail with a message naming the problem."""
from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest
import torch

from h2h_engine.io import read_image
from h2h_engine.io.image import reads_completely
from h2h_engine.io.writer import FrameWriter
from h2h_engine.morphable import load_model, resolve_model_path
from h2h_engine.morphable.model import MorphableModel
from h2h_engine.track import Track


@pytest.mark.parametrize("field, row, value, message", [
    ("expression", 2, np.nan, "expression is NaN/Inf at frame 2"),
    ("scale", 4, np.inf, "scale is NaN/Inf at frame 4"),
    ("scale", 1, -3.0, "scale is out of range at frame 1"),
    ("confidence", 0, 7.0, "confidence is out of range at frame 0"),
    ("image_size", None, (0, 256), "image_size must be [width, height] in 1-8192"),
    ("fps", None, float("nan"), "fps must be in (0, 1000]"),
])
def test_track_values_are_validated_on_load(h2h, one_line, shot, tmp_path, field, row, value, message):
    _, track = shot
    bad = Track.load(track)
    if row is None:
        bad = dataclasses.replace(bad, **{field: value})
    else:
        getattr(bad, field)[row] = value
    path = tmp_path / "bad.h2h.npz"
    bad.save(path)  # saving does not validate: this is what a buggy tool or a hand edit would write
    for args in (("info", path), ("render-nmfc", path, "-o", tmp_path / "n.####.exr")):
        status, err = h2h(*args)
        assert status == 2 and message in one_line(err), args
    assert not list(tmp_path.glob("n.*"))


def _plate(path, size, frames=2):
    with FrameWriter(path, fps=25.0) as w:
        for f in range(frames):
            w.write(f, np.full((size, size, 3), 0.5, np.float32))




def test_synthesize_refuses_a_plate_of_another_size(h2h, one_line, fingerprint, shot, checkpoint, tmp_path):
    _, track = shot
    plate = tmp_path / "plate.mp4"
    _plate(plate, 128)
    before = fingerprint(tmp_path)
    status, err = h2h("synthesize", "--checkpoint", checkpoint, "--track", track, "--plate", plate,
                      "-o", tmp_path / "out.mp4", "--frames", "0-1", "--device", "cpu")
    assert status == 2 and "plate frame 0 is 128x128; track" in one_line(err) and "made on 256x256" in err
    assert fingerprint(tmp_path) == before  # no output, no temporary


def test_a_modified_model_is_refused(h2h, one_line, shot, tmp_path):
    video, _ = shot
    ict = load_model()
    arrays = {f.name: getattr(ict, f.name) for f in dataclasses.fields(MorphableModel)}
    moved = MorphableModel(**{**arrays, "mean": ict.mean + 0.5})  # new arrays, the ICT digest kept
    moved.digest = ict.digest
    moved.save(tmp_path / "moved.h2hmm.npz")
    # a file keeping both the digest and the checksum, with a change outside what the digest samples
    shutil.copyfile(resolve_model_path(), tmp_path / "copy.h2hmm.npz")
    ict.save(tmp_path / "signed.h2hmm.npz")
    with np.load(tmp_path / "signed.h2hmm.npz") as z:
        parts = {k: z[k] for k in z.files}
    parts["exp_basis"] = parts["exp_basis"].copy()
    parts["exp_basis"][:, 1000] += 0.1
    np.savez(tmp_path / "edited.h2hmm.npz", **parts)
    for name in ("moved", "edited"):
        status, err = h2h("track", video, "--frames", "0-1", "--model", tmp_path / f"{name}.h2hmm.npz",
                          "-o", tmp_path / "t.h2h.npz")
        assert status == 2 and "was modified" in one_line(err), name
    assert not (tmp_path / "t.h2h.npz").exists()


def test_resume_rewrites_a_frame_cut_short(h2h, shot, tmp_path):
    _, track = shot
    out = tmp_path / "r.####.exr"
    assert h2h("render-nmfc", track, "-o", out, "--size", "64x64")[0] == 0
    cut = tmp_path / "r.0003.exr"
    data, pixels = cut.read_bytes(), read_image(cut)
    cut.write_bytes(data[: len(data) // 2])  # the header (and its stamp) survive; the pixels do not
    assert not reads_completely(cut)
    kept = {p.name: p.read_bytes() for p in tmp_path.glob("r.*.exr") if p != cut}
    assert h2h("render-nmfc", track, "-o", out, "--size", "64x64")[0] == 0
    assert reads_completely(cut) and np.array_equal(read_image(cut), pixels)  # rendered again, whole
    assert {p.name: p.read_bytes() for p in tmp_path.glob("r.*.exr") if p != cut} == kept


def test_patterns_only_in_the_file_name_and_track_model_file_is_found_again(h2h, fingerprint, shot, tmp_path):
    video, _ = shot
    folder = tmp_path / "100%done"
    folder.mkdir()
    movie = folder / "take#1.mp4"  # an existing file is a file, '#' and all; '%d' in a folder is no pattern
    shutil.copyfile(video, movie)
    ict = load_model()
    custom = MorphableModel(**{**{f.name: getattr(ict, f.name) for f in dataclasses.fields(MorphableModel)},
                               "name": "my-custom-model"})
    custom.save(tmp_path / "custom.h2hmm.npz")
    before = fingerprint(tmp_path)
    out = folder / "t.h2h.npz"
    assert h2h("track", movie, "--frames", "0-1", "--model", tmp_path / "custom.h2hmm.npz", "-o", out)[0] == 0
    assert Track.load(out).model_name == "my-custom-model"
    assert h2h("info", out)[0] == 0  # later nodes find the model file the track was made with
    assert h2h("render-nmfc", out, "-o", folder / "n.%04d.exr", "--size", "64x64")[0] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["100%done", "custom.h2hmm.npz"]
    assert sorted(p.name for p in folder.glob("n.*.exr")) == ["n.0000.exr", "n.0001.exr"]
    assert {k: v for k, v in fingerprint(tmp_path).items() if k in before} == before


def _faststart(src, dst):
    """``src`` remuxed with its index first (``-movflags faststart``), as streaming encoders write it."""
    import av

    with av.open(str(src)) as i, av.open(str(dst), "w", options={"movflags": "faststart"}) as o:
        vi = i.streams.video[0]
        vo = o.add_stream_from_template(vi)
        for packet in i.demux(vi):
            if packet.dts is not None:
                packet.stream = vo
                o.mux(packet)


def test_a_truncated_movie_is_not_tracked_as_a_shorter_shot(h2h, one_line, shot, tmp_path):
    video, _ = shot
    whole = tmp_path / "whole.mp4"
    _faststart(video, whole)
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 4])  # the index (all 104 frames) survives; 3 pictures decode
    status, err = h2h("track", cut, "-o", tmp_path / "t.h2h.npz", "--frames", "0-9")
    assert status == 2 and "decoded only" in one_line(err) and "(truncated or corrupt?)" in err
    assert not (tmp_path / "t.h2h.npz").exists()


def test_filter_fails_when_no_piped_frame_is_the_tracks(h2h_process, one_line, shot, tmp_path):
    _, track = shot
    raw = tmp_path / "plate.rgb24"
    raw.write_bytes(bytes(2 * 256 * 256 * 3))  # two frames, numbered 1001-1002: the track has 0-5
    with open(raw, "rb") as stdin:
        proc = h2h_process("filter", "--checkpoint", tmp_path / "unused.pt", "--track", track, "--size", "256x256",
                           "--rate", "25", "--pix-fmt", "rgb24", "--start-number", "1001", stdin=stdin)
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "none of the track's 0-5: check --start-number" in one_line(err)


def test_a_checkpoint_with_nan_weights_is_refused(h2h, one_line, fingerprint, shot, checkpoint, tmp_path):
    _, track = shot
    ckpt = torch.load(checkpoint, weights_only=True)
    name = next(iter(ckpt["generator"]))
    ckpt["generator"][name] = torch.full_like(ckpt["generator"][name], float("nan"))
    torch.save(ckpt, tmp_path / "nan.pt")
    before = fingerprint(tmp_path)
    status, err = h2h("synthesize", "--checkpoint", tmp_path / "nan.pt", "--track", track, "-o",
                      tmp_path / "out.####.png", "--device", "cpu")
    assert status == 2 and f"generator weights {name} hold NaN/Inf" in one_line(err)
    assert fingerprint(tmp_path) == before


def test_a_checkpoint_whose_finite_weights_overflow_is_refused_before_writing(h2h, one_line, fingerprint, shot,
                                                                              checkpoint, tmp_path):
    """Finite weights pass the load check yet can overflow float32 (here the first conv, 3e38 each: its sums
    are Inf, instance norm makes NaN of them, a black face): G's first output is checked, nothing is written."""
    from h2h_engine.synthesis.checkpoint import load_generator

    video, track = shot
    ckpt = torch.load(checkpoint, weights_only=True)
    name = "cond_encoder.1.weight"  # the 7x7 conv reading the conditioning
    ckpt["generator"][name] = torch.full_like(ckpt["generator"][name], 3e38)
    torch.save(ckpt, tmp_path / "big.pt")
    load_generator(tmp_path / "big.pt")  # every weight is finite: the load check lets it through
    before = fingerprint(tmp_path)
    for out, extra in ((tmp_path / "out.####.png", ()), (tmp_path / "comp.mp4", ("--plate", video))):
        status, err = h2h("synthesize", "--checkpoint", tmp_path / "big.pt", "--track", track, "-o", out,
                          "--device", "cpu", *extra)
        assert status == 2, err
        assert f"checkpoint {tmp_path / 'big.pt'}: the generator's output is NaN/Inf at frame index 0 (its weights " \
               "overflow float32)" in one_line(err)
        assert fingerprint(tmp_path) == before and sorted(p.name for p in tmp_path.iterdir()) == ["big.pt"]
