"""Conditioning images on real tracked frames: NMFC vs landmarks, eye image, facial flow, ref match."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from h2h_engine.errors import ConfigError, InputError, ModelMismatchError
from h2h_engine.render.conditioning import render_conditioning, render_rows
from h2h_engine.render.crop import to_output
from h2h_engine.render.eyes import render_eyes
from h2h_engine.render.nmfc import render_mesh

SIZE = (256, 256)


@pytest.fixture(scope="module")
def frontal(model, frontal_shot):
    track, rgb = frontal_shot
    return track, render_conditioning(model, track, SIZE, what=("nmfc", "eyes", "mask", "flow"), frames_rgb=rgb)


@pytest.fixture(scope="module")
def moving(model, moving_shot):
    track, rgb = moving_shot
    return track, render_conditioning(model, track, SIZE, what=("nmfc", "eyes", "mask", "flow"), frames_rgb=rgb)


def _hull_mask(points: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels whose centre lies in the convex hull of continuous-coordinate points."""
    hull = np.zeros(SIZE[::-1], np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.round(points - 0.5).astype(np.int32)), 1)
    return hull.astype(bool)


@pytest.mark.parametrize("shot", ["frontal", "moving"])
def test_nmfc_mask_overlaps_landmark_hull(shot, request) -> None:
    track, c = request.getfixturevalue(shot)
    lm = to_output(track.landmarks, c.crop_box, SIZE)  # (T, 68, 2) output pixels
    for k in range(len(track)):
        hull = _hull_mask(lm[k, :27])  # jawline + brows: the detected face outline
        inter = (hull & c.mask[k]).sum()
        # the narrow face reaches above the brows (forehead), so the hull sits inside the mask
        assert inter / hull.sum() > 0.9
        assert inter / (hull | c.mask[k]).sum() > 0.6


def test_nmfc_colours_at_landmarks(model, frontal) -> None:
    track, c = frontal
    assert c.nmfc.dtype == np.float32 and c.nmfc.shape == (len(track), 256, 256, 3)
    assert c.nmfc.min() >= 0 and c.nmfc.max() <= 1
    assert (c.nmfc[~c.mask] == 0).all() and (c.nmfc[c.mask].sum(-1) > 0.01).all()
    lm = to_output(track.landmarks, c.crop_box, SIZE)
    idx = list(range(27, 36)) + list(range(48, 60))  # nose and outer lips (the eyes are holes)
    err = [np.abs(c.nmfc[k, int(lm[k, i, 1]), int(lm[k, i, 0])] - model.nmfc[model.landmarks[i]]).max()
           for k in range(len(track)) for i in idx]
    # the fitted surface point under each detected landmark has that landmark vertex's colour
    assert np.median(err) < 0.01 and np.percentile(err, 90) < 0.02


@pytest.mark.parametrize("shot", ["frontal", "moving"])
def test_eye_image_pupils_and_correspondence(shot, request) -> None:
    track, c = request.getfixturevalue(shot)
    lm = to_output(track.landmarks, c.crop_box, SIZE)
    pupils = to_output(track.pupils, c.crop_box, SIZE)
    _, eye = render_eyes(lm, pupils, SIZE)
    for k in range(len(track)):
        for e in range(2):
            x, y = pupils[k, e].astype(int)
            assert eye[k, y, x] == e  # the pupil lies inside its eye polygon
            assert c.eyes[k, y, x].max() == 0  # and is drawn there
        assert c.eyes[k][eye[k] >= 0].max() == 1  # the rest of the opening is white
    assert (c.eyes[eye < 0] == 0).all()
    # the eye openings fall into the NMFC's eye holes (same pixel grid, same fit)
    assert (~c.mask[eye >= 0]).mean() > 0.75


@pytest.mark.parametrize("shot, bound", [("frontal", 0.2), ("moving", 0.1)])
def test_facial_flow_warps_next_nmfc(shot, bound, request) -> None:
    track, c = request.getfixturevalue(shot)
    jj, ii = np.mgrid[0:SIZE[1], 0:SIZE[0]].astype(np.float32)
    err_flow, err_zero = [], []
    for k in range(len(track) - 1):
        mx, my = ii + c.flow[k, ..., 0], jj + c.flow[k, ..., 1]
        warped = cv2.remap(c.nmfc[k + 1], mx, my, cv2.INTER_LINEAR)
        valid = cv2.remap(c.mask[k + 1].astype(np.float32), mx, my, cv2.INTER_LINEAR) > 0.999
        err_flow.append(np.abs(warped - c.nmfc[k])[c.mask[k] & valid].mean())
        err_zero.append(np.abs(c.nmfc[k + 1] - c.nmfc[k])[c.mask[k] & c.mask[k + 1]].mean())
    assert np.mean(err_flow) < bound * np.mean(err_zero)
    assert (c.flow[-1] == 0).all()


def test_flow_outside_face_is_optical_flow(moving, moving_shot) -> None:
    from h2h_engine.render.crop import crop_frames
    from h2h_engine.render.flow import optical_flow

    track, c = moving
    of = optical_flow(crop_frames(moving_shot[1][:3], c.crop_box, SIZE))
    np.testing.assert_array_equal(c.flow[:2][~c.mask[:2]], of[:2][~c.mask[:2]])
    assert np.abs(of[0]).mean() > 0.1  # the handheld camera moves the background


def test_native_matches_ref_on_real_frame(model, frontal_shot) -> None:
    track = frontal_shot[0].slice(int(frontal_shot[0].frames[3]), int(frontal_shot[0].frames[3]))
    nat = render_conditioning(model, track, (128, 128))
    ref = render_conditioning(model, track, (128, 128), impl="ref")
    assert (nat.mask == ref.mask).mean() > 0.9995
    np.testing.assert_allclose(nat.nmfc[nat.mask & ref.mask], ref.nmfc[nat.mask & ref.mask], atol=1e-5)
    np.testing.assert_array_equal(nat.eyes, ref.eyes)


@pytest.mark.parametrize("shot", ["frontal_shot", "moving_shot"])
def test_fast_path_equals_the_reference_bit_for_bit(model, shot, request) -> None:
    """The native conditioning (shapes + projection in one C++ pass, the C++ rasterizer, the one-pass eye image)
    equals the numpy references (model.shape, geometry.project, crop.to_output, the numpy rasterizer and eye
    drawing) pixel for pixel on real tracked frames."""
    from h2h_engine.render.nmfc import project_track

    track = request.getfixturevalue(shot)[0]
    box = render_conditioning(model, track, SIZE, what=("mask",)).crop_box
    mesh = render_mesh(model)
    np.testing.assert_array_equal(project_track(model, track, box, SIZE, mesh.vertices),
                                  project_track(model, track, box, SIZE, mesh.vertices, impl="ref"))
    part = track.slice(int(track.frames[4]), int(track.frames[5]))
    nat = render_conditioning(model, part, (128, 128), crop=box)
    ref = render_conditioning(model, part, (128, 128), crop=box, impl="ref")
    for name in ("nmfc", "eyes", "mask", "tri_id", "mouth_box"):
        assert getattr(nat, name).tobytes() == getattr(ref, name).tobytes(), name
    assert nat.mask.mean() > 0.2


@pytest.mark.parametrize("shot", ["frontal_shot", "moving_shot"])
def test_native_eyes_equal_the_reference(model, shot, request) -> None:
    """The one-pass C++ eye image equals the numpy reference bit for bit on real tracks, also with eyes and
    pupils leaving the raster, a lost pupil and a non-finite landmark."""
    track = request.getfixturevalue(shot)[0]
    rng = np.random.default_rng(0)
    for size in ((256, 256), (160, 96)):
        box = render_conditioning(model, track.slice(int(track.frames[0]), int(track.frames[0])), size,
                                  what=("mask",)).crop_box
        lm, pupils = to_output(track.landmarks, box, size), to_output(track.pupils, box, size)
        shifted_lm, shifted_pupils = lm + rng.normal(0, 2, lm.shape), pupils + rng.normal(0, 2, pupils.shape)
        shifted_lm[..., 0] -= 0.35 * size[0]
        shifted_pupils[..., 0] -= 0.35 * size[0]
        shifted_pupils[1, 0] = np.nan
        shifted_lm[2, 37] = np.inf
        for a, b in ((lm, pupils), (shifted_lm.astype(np.float32), shifted_pupils.astype(np.float32))):
            image, eye = render_eyes(a, b, size)
            ref_image, ref_eye = render_eyes(a, b, size, impl="ref")
            assert image.dtype == np.float32 and image.shape == (len(track), size[1], size[0], 3)
            assert image.tobytes() == ref_image.tobytes() and eye.tobytes() == ref_eye.tobytes()
            assert (eye >= 0).sum() > 10 * len(track) and ((eye >= 0) & (image[..., 0] == 0)).any()


def test_reused_arrays_give_the_same_images(model, frontal_shot) -> None:
    """``out=`` (a chunk loop reusing the previous chunk's arrays) writes exactly what new arrays would hold."""
    track, rgb = frontal_shot
    first, second = track.slice(0, 9), track.slice(10, 19)
    for what, kw in ((("nmfc", "eyes", "mask"), {}), (("nmfc", "mask", "flow"), {"frames_rgb": rgb[:10]})):
        fresh = render_conditioning(model, first, SIZE, what=what, **kw)
        prev = render_conditioning(model, second, SIZE, what=("nmfc", "eyes", "mask"))
        again = render_conditioning(model, first, SIZE, what=what, out=prev, **kw)
        assert again.nmfc is prev.nmfc and again.eyes is prev.eyes and again.mask is prev.mask
        for name in ("nmfc", "eyes", "mask", "tri_id", "mouth_box", "flow"):
            a, b = getattr(fresh, name), getattr(again, name)
            assert (a is None and b is None) or a.tobytes() == b.tobytes(), name
    with pytest.raises(ValueError, match="out must be"):
        render_conditioning(model, track.slice(0, 3), SIZE, out=fresh)


def test_chunks_reusing_the_previous_chunk_equal_new_arrays(model, frontal_shot) -> None:
    """``render_rows(out=previous chunk)``, as the node and the trainer loop: every product (flow included,
    one row past each chunk) has the bytes of chunks rendered into new arrays, the last, shorter chunk too."""
    track, rgb = frontal_shot  # 20 frames: chunks of 6, 6, 6, 2

    def fetch(frames: np.ndarray) -> np.ndarray:
        return rgb[np.searchsorted(track.frames, frames)]

    box = render_conditioning(model, track, SIZE, what=("mask",)).crop_box
    for what in (("nmfc", "eyes", "mask"), ("nmfc", "eyes", "mask", "flow"), ("nmfc", "mask", "flow")):
        prev = None
        for a in range(0, len(track), 6):
            b = min(a + 6, len(track))
            fresh = render_rows(model, track, a, b, SIZE, crop=box, what=what, frames_rgb=fetch)
            again = render_rows(model, track, a, b, SIZE, crop=box, what=what, frames_rgb=fetch, out=prev)
            if prev is not None:  # the previous chunk's buffers were written, not new ones
                assert all(np.shares_memory(getattr(again, n), getattr(prev, n)) for n in ("nmfc", "eyes", "mask"))
            assert len(again.frames) == b - a and again.frames.tolist() == track.frames[a:b].tolist()
            for name in ("nmfc", "eyes", "mask", "tri_id", "mouth_box", "flow"):
                x, y = getattr(fresh, name), getattr(again, name)
                assert (x is None and y is None) or (x.shape == y.shape and x.tobytes() == y.tobytes()), (what, a, name)
            prev = again
        # a result of new arrays for 2 rows is too short for a chunk of 6 (7 rows with flow): new arrays again
        short = render_rows(model, track, 18, 20, SIZE, crop=box, what=what, frames_rgb=fetch)
        again = render_rows(model, track, 0, 6, SIZE, crop=box, what=what, frames_rgb=fetch, out=short)
        first = render_rows(model, track, 0, 6, SIZE, crop=box, what=what, frames_rgb=fetch)
        assert not np.shares_memory(again.nmfc, short.nmfc) and again.nmfc.tobytes() == first.nmfc.tobytes()


def test_regions_and_products(model, frontal_shot) -> None:
    track = frontal_shot[0].slice(0, 1)
    face = render_conditioning(model, track, SIZE, what=("nmfc",))
    assert face.flow is None and (face.eyes == 0).all() and face.mouth_box.shape == (2, 4)
    wide = render_conditioning(model, track, SIZE, what=("nmfc",), crop=face.crop_box,
                               regions=("face_narrow", "face", "head"))
    assert wide.mask.sum() > 1.3 * face.mask.sum() and (wide.mask | ~face.mask).all()
    assert len(render_mesh(model, ("face_narrow",)).triangles) < len(render_mesh(model, ("face",)).triangles)
    full = render_conditioning(model, track, (320, 240), crop="none", what=("mask",))
    assert full.crop_box is None and full.mask.shape == (2, 240, 320)


def test_bad_input(model, synth_track) -> None:
    with pytest.raises(ConfigError, match="size"):
        render_conditioning(model, synth_track, (0, 256))
    with pytest.raises(InputError, match="no frames"):
        render_conditioning(model, _empty(synth_track), SIZE)
    other = _with(synth_track, model_digest="0123456789abcdef")
    with pytest.raises(ModelMismatchError, match="re-track"):
        render_conditioning(model, other, SIZE)
    with pytest.raises(ConfigError, match="product"):
        render_conditioning(model, synth_track, SIZE, what=("depth",))
    with pytest.raises(ConfigError, match="crop"):
        render_conditioning(model, synth_track, SIZE, crop="tight")
    with pytest.raises(ValueError, match="regions"):
        render_conditioning(model, synth_track, SIZE, regions=("hair",))


def _with(track, **changes):
    from dataclasses import replace

    return replace(track, **changes)


def _empty(track):
    keep = np.zeros(len(track), bool)
    per_frame = {n: getattr(track, n)[keep] for n in ("frames", "landmarks", "pupils", "confidence", "flags",
                                                       "expression", "rotation", "translation", "scale", "rmse")}
    return _with(track, **per_frame)
