"""Crop boxes, cropping, paste-back and mouth boxes."""
from __future__ import annotations

import numpy as np
import pytest

from h2h_engine.errors import InputError
from h2h_engine.render.crop import crop_box_for_track, crop_frames, paste_back, to_output
from h2h_engine.render.mask import mouth_boxes


def test_crop_box_is_stable_and_contains_the_face(model, frontal_shot) -> None:
    track = frontal_shot[0]
    box = crop_box_for_track(model, track)
    assert box.shape == (4,) and box.dtype == np.float32
    assert box[2] - box[0] == pytest.approx(box[3] - box[1], rel=1e-5)  # square
    lm = track.landmarks + 0.5  # continuous coordinates
    assert (lm[..., 0] > box[0]).all() and (lm[..., 0] < box[2]).all()
    assert (lm[..., 1] > box[1]).all() and (lm[..., 1] < box[3]).all()
    # the same shot split in halves gives nearly the same box (stable, smoothed)
    half = crop_box_for_track(model, track.slice(int(track.frames[0]), int(track.frames[9])))
    assert np.abs(half - box).max() < 0.05 * (box[2] - box[0])
    wide = crop_box_for_track(model, track, margin=2.0, aspect=2.0)
    assert (wide[2] - wide[0]) == pytest.approx(2 * (wide[3] - wide[1]), rel=1e-5)


def test_crop_box_ignores_an_outlier_frame(model, synth_track) -> None:
    box = crop_box_for_track(model, synth_track, smooth=5)
    bad = synth_track.slice(int(synth_track.frames[0]), int(synth_track.frames[-1]))
    bad.translation = bad.translation.copy()
    bad.translation[3] += 500  # one wild fit
    assert np.abs(crop_box_for_track(model, bad, smooth=5) - box).max() < 5
    with pytest.raises(InputError, match="no frames"):
        crop_box_for_track(model, _no_frames(bad))


def _no_frames(track):
    from dataclasses import replace

    keep = np.zeros(len(track), bool)
    return replace(track, **{n: getattr(track, n)[keep] for n in (
        "frames", "landmarks", "pupils", "confidence", "flags", "expression", "rotation", "translation", "scale",
        "rmse")})


def test_crop_frames_follows_to_output() -> None:
    # A bright pixel in the plate lands where to_output maps its (integer-centre) coordinates.
    plate = np.zeros((1, 90, 120, 1), np.float32)
    plate[0, 40, 70] = 1.0
    box = np.array([50.25, 25.5, 90.25, 65.5], np.float32)  # 40 px box -> 160 px: 4x upsampling
    crop = crop_frames(plate, box, (160, 160))
    assert crop.shape == (1, 160, 160, 1)
    peak = np.unravel_index(np.argmax(crop[0, ..., 0]), (160, 160))
    want = to_output(np.array([70.0, 40.0]), box, (160, 160)) - 0.5  # continuous -> pixel index
    assert abs(peak[1] - want[0]) <= 0.5 and abs(peak[0] - want[1]) <= 0.5
    # outside the frame the edge pixels repeat
    ramp = np.tile(np.arange(120, dtype=np.float32), (90, 1))[None, ..., None]
    out = crop_frames(ramp, np.array([-40, 0, 80, 120], np.float32), (120, 120))
    assert np.allclose(out[0, :, :30, 0], 0.0) and out[0, 60, 100, 0] == pytest.approx(60.5, abs=0.6)


def test_paste_back_round_trip() -> None:
    rng = np.random.default_rng(0)
    plate = rng.integers(0, 256, (100, 140, 3)).astype(np.uint8)
    box = np.array([30, 20, 94, 84], np.float32)  # 64 px box, 64 px patch: identity resampling
    patch = crop_frames(plate[None], box, (64, 64))[0]
    mask = np.ones((64, 64), bool)
    same, alpha = paste_back(plate, patch, mask, box, feather=0)
    assert alpha.shape == plate.shape[:2] and alpha.max() == 1.0
    assert same.dtype == np.uint8
    np.testing.assert_array_equal(same, plate)
    # a white patch composited through a hard mask only changes the pixels inside the box
    white = np.full_like(patch, 255)
    out, _ = paste_back(plate, white, mask, box, feather=0)
    assert (out[21:83, 31:93] == 255).all()
    np.testing.assert_array_equal(out[:19], plate[:19])
    np.testing.assert_array_equal(out[:, 96:], plate[:, 96:])
    soft, alpha = paste_back(plate, white, mask, box, feather=4.0)
    np.testing.assert_array_equal(soft[alpha == 0], plate[alpha == 0])  # bit-exact wherever the alpha is 0
    soft = soft.astype(int)
    edge = soft[50, 24:30, 0]
    assert (edge >= plate[50, 24:30, 0]).all() and soft[50, 60, 0] == 255
    with pytest.raises(ValueError, match="mask"):
        paste_back(plate, patch, np.ones((10, 10)), box, 0)


def test_mouth_boxes() -> None:
    pts = np.zeros((3, 20, 2), np.float32)
    pts[0] += [128, 180]
    pts[1] += [5, 250]  # near a corner: the box is kept inside the image
    pts[2] += [128, 180]
    pts[2, :3] = 1000  # a few wild points do not move the median
    b = mouth_boxes(pts, (256, 256))
    assert b.dtype == np.int32 and (b[:, 2] - b[:, 0] == 72).all() and (b[:, 3] - b[:, 1] == 72).all()
    assert tuple(b[0]) == (92, 144, 164, 216) and tuple(b[2]) == tuple(b[0])
    assert tuple(b[1]) == (0, 184, 72, 256)
    big = mouth_boxes(pts[:1] * 2, (512, 512))
    assert tuple(big[0]) == (184, 288, 328, 432)  # 144 px at 512 px


def test_paste_back_keeps_float_plates_bit_exact_outside_the_alpha() -> None:
    rng = np.random.default_rng(1)
    plate = rng.random((90, 120, 3), dtype=np.float32) * 4  # scene-linear values above 1
    box = np.array([20, 10, 84, 74], np.float32)
    mask = np.zeros((64, 64), np.float32)
    mask[20:44, 16:48] = 1
    out, alpha = paste_back(plate, np.zeros((64, 64, 3), np.float32), mask, box, feather=2.0)
    assert (alpha > 0).sum() > 24 * 32 and (alpha == 0).sum() > 0.6 * alpha.size
    assert np.array_equal(out[alpha == 0].view(np.uint32), plate[alpha == 0].view(np.uint32))
    assert (alpha > 0.99).any() and out[alpha > 0.99].max() < 0.05
