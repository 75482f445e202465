"""Retrieval, 3DMM warp and face matte on a real tracked clip."""
import cv2
import numpy as np
import pytest

from h2h_engine.io import open_frames
from h2h_engine.render.appearance import PlateKeep, Warper, face_matte, keep_prior, retrieve
from h2h_engine.render.crop import crop_box_for_track, crop_frames
from h2h_engine.render.nmfc import project_track, render_mesh
from h2h_engine.render.raster import rasterize
from h2h_engine.track import Track


@pytest.fixture(scope="module")
def shot(tmp_path_factory, clip, model):
    from h2h_engine.cli import main

    video = clip("EDTalk__test_data_pose_source2")
    out = tmp_path_factory.mktemp("appearance") / "t.h2h.npz"
    assert main(["--progress", "none", "track", str(video), "-o", str(out), "--frames", "0-47"]) == 0
    track = Track.load(out)
    box = crop_box_for_track(model, track)
    images = crop_frames(np.stack([rgb for _, rgb in open_frames(video, (0, 47))]), box, (128, 128))
    return track, box, images


def test_retrieve_excludes_neighbours_and_weights_sum_to_one():
    rng = np.random.default_rng(0)
    bank = rng.normal(size=(40, 8))
    r = retrieve(bank, bank, k=3, slots=4, temporal_sigma=0, exclude_radius=5, query_rows=np.arange(40))
    assert np.allclose(r.weight.sum(1), 1)
    used = r.weight > 0
    assert (np.abs(r.index - np.arange(40)[:, None])[used] > 5).all()
    same = retrieve(bank[:10], bank, k=1, slots=1, temporal_sigma=0)
    assert (same.index[:, 0] == np.arange(10)).all()  # without exclusion a bank frame finds itself
    smooth = retrieve(bank, bank, k=2, slots=6, temporal_sigma=1.5, exclude_radius=3, query_rows=np.arange(40))
    assert smooth.scale > 0 and (smooth.weight > 0).sum(1).mean() > (r.weight > 0).sum(1).mean()


def _yaw(degrees: np.ndarray) -> np.ndarray:
    t = np.radians(degrees)
    r = np.zeros((len(t), 3, 3))
    r[:, 0, 0] = r[:, 2, 2] = np.cos(t)
    r[:, 0, 2], r[:, 2, 0], r[:, 1, 1] = np.sin(t), -np.sin(t), 1
    return r


def test_retrieve_weighs_head_rotation_in_squared_degrees(shot):
    """One squared degree of rotation costs ``pose_weight`` of squared expression distance; on a real shot the
    frames retrieved with the pose term are nearer the driven frames' head rotation."""
    bank_exp = np.zeros((2, 4))
    bank_exp[1, 0] = 0.1  # the frame at the query's rotation (6 degrees) is 0.01 away in expression
    for w, nearest in ((0.0, 0), (0.0002, 0), (0.0004, 1)):  # frame 0 is 36 w away in rotation
        r = retrieve(np.zeros((1, 4)), bank_exp, k=1, slots=1, temporal_sigma=0,
                     query_rotation=_yaw(np.array([6.0])), bank_rotation=_yaw(np.array([0.0, 6.0])), pose_weight=w)
        assert r.index[0, 0] == nearest, w
    track = shot[0]
    bank, driven = track.slice(0, 23), track.slice(24, 47)

    def angle_to_top(pose_weight: float) -> float:
        r = retrieve(driven.expression, bank.expression, k=1, slots=1, temporal_sigma=0,
                     query_rotation=driven.rotation, bank_rotation=bank.rotation, pose_weight=pose_weight)
        rel = np.einsum("tji,tjk->tik", bank.rotation[r.index[:, 0]], driven.rotation)
        return float(np.degrees(np.arccos(np.clip((np.trace(rel, axis1=1, axis2=2) - 1) / 2, -1, 1))).mean())

    assert angle_to_top(0.015) < angle_to_top(0.0)


def test_warp_of_a_frame_onto_itself_reproduces_it(shot, model):
    track, box, images = shot
    warper = Warper(model, track, images, box)
    r = retrieve(track.expression[20:24], track.expression, k=1, slots=1, temporal_sigma=0)
    assert (r.index[:, 0] == np.arange(20, 24)).all()
    warp, cover = warper.warp(track.slice(20, 23), r)
    seen = cover > 0.99
    assert seen.mean() > 0.25  # the face, jaw, throat and mouth of a 128 px crop
    err = np.abs(warp.astype(int) - images[20:24].astype(int)).max(-1)
    assert np.median(err[seen]) <= 2 and (err[seen] > 20).mean() < 0.02


def test_head_mode_warp_shows_the_retrieved_frames_around_the_face(shot, model):
    """backdrop: where the (narrower) warp does not reach, the retrieved crops unwarped, blended by their
    weights; deep inside the face the warp itself, as without the backdrop but for the narrower mesh."""
    track, box, images = shot
    head = Warper(model, track.slice(0, 23), images[:24], box, backdrop=True)
    r = retrieve(track.expression[40:44], track.expression[:24], k=2, slots=2, temporal_sigma=0)
    warp, cover = head.warp(track.slice(40, 43), r)
    under = np.einsum("tm,tmhwc->thwc", r.weight, images[r.index].astype(np.float32))
    outside = cover == 0
    assert 0.2 < outside.mean() < 0.9
    assert np.abs(warp[outside].astype(np.float32) - under[outside]).max() <= 1
    head.backdrop = False  # the same surface, nothing under it
    bare, _ = head.warp(track.slice(40, 43), r)
    deep = np.stack([cv2.erode((c > 0).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0 for c in cover])
    assert deep.mean() > 0.1 and np.abs(warp[deep].astype(int) - bare[deep]).max() <= 1
    assert (bare[outside] == 0).all()


def test_warp_across_frames_beats_the_unwarped_frame(shot, model):
    """Frame 0 carried to frame 40's pose and expression is nearer frame 40 than frame 0 itself is."""
    track, box, images = shot
    warper = Warper(model, track.slice(0, 0), images[:1], box)
    r = retrieve(track.expression[40:41], track.expression[:1], k=1, slots=1, temporal_sigma=0)
    warp, cover = warper.warp(track.slice(40, 40), r)
    seen = cover[0] > 0.99
    warped = np.abs(warp[0].astype(int) - images[40].astype(int)).sum(-1)[seen].mean()
    still = np.abs(images[0].astype(int) - images[40].astype(int)).sum(-1)[seen].mean()
    assert warped < still


def test_warp_into_another_box_locates_the_bank_in_its_own_crops(shot, model, clip):
    """A driven shot's crop box differs from the training shot's (here 12 % larger and shifted): warping frame
    0 onto frame 40 into that box matches frame 40 cropped with it as well as the warp in the bank's own box
    matches its crop; taking the bank's vertices in the driven box instead (the bank crops were not cut with
    it) misregisters the texture."""
    track, box, images = shot
    video_frames = dict(open_frames(clip("EDTalk__test_data_pose_source2"), (40, 40)))
    c, half = (box[:2] + box[2:]) / 2 + np.array([9.0, -6.0]), (box[2:] - box[:2]) * 0.56
    other = np.concatenate([c - half, c + half]).astype(np.float32)
    target = crop_frames(video_frames[40][None], other, (128, 128))[0]
    r = retrieve(track.expression[40:41], track.expression[:1], k=1, slots=1, temporal_sigma=0)

    def err(warper: Warper, real: np.ndarray) -> float:
        warp, cover = warper.warp(track.slice(40, 40), r)
        seen = cv2.erode((cover[0] > 0.99).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        return float(np.abs(warp[0].astype(int) - real.astype(int)).sum(-1)[seen].mean())

    own = err(Warper(model, track.slice(0, 0), images[:1], box), images[40])
    moved = err(Warper(model, track.slice(0, 0), images[:1], other, bank_box=box), target)
    wrong = err(Warper(model, track.slice(0, 0), images[:1], other), target)
    assert moved < 1.1 * own and wrong > 2 * moved, (own, moved, wrong)  # 16.1 vs 16.3; 70 misregistered


def test_plate_keep_copies_an_unmoved_face_and_never_the_lips_or_lids(shot, model):
    """Driven by its own expression the plate frame is kept as it is (the weight is 1 on the forehead, nose and
    cheeks and the warp there is the plate itself), never on the lips, lids, eyeballs or mouth interior; raising
    the inner brows moves the skin between them, which is then no longer kept, while the cheek still is."""
    track, box, images = shot
    own = track.slice(20, 20)
    crop = images[20].astype(np.float32)
    kept, w = PlateKeep(model, own, own, box, 128)(0, crop)
    assert 0.1 < (w > 0.99).mean() < 0.4 and w.min() == 0 and w.max() <= 1  # 0.16 of the crop
    err = np.abs(kept - crop).max(-1)[w > 0.99]
    assert np.median(err) < 0.5 and np.percentile(err, 99) < 4, (np.median(err), np.percentile(err, 99))
    lm = own.landmarks[0]
    to_px = lambda p: np.round((p - box[:2]) / (box[2:] - box[:2]) * 128 - 0.5).astype(int)  # noqa: E731
    for i in (51, 57, 62, 66, 37, 40, 43, 46):  # lips (outer, inner), upper and lower lids
        x, y = to_px(lm[i])
        assert w[y, x] == 0, i
    prior = keep_prior(model)
    assert prior[model.landmarks[48:68]].max() == 0 and prior[model.landmarks[36:48]].max() == 0
    assert prior[model.landmarks[27]] == 1  # the top of the nose
    raised = own.copy()
    for name in ("browInnerUp_L", "browInnerUp_R"):
        raised.expression[0, model.expression_index(name)] = 1.0
    _, moved = PlateKeep(model, raised, own, box, 128)(0, crop)
    bx, by = to_px((lm[21] + lm[22]) / 2 + (lm[27] - lm[30]) * 0.1)  # between the brows, which now rise
    cx, cy = to_px(lm[1] + (lm[30] - lm[1]) * 0.3)  # the cheek, which does not move
    assert w[by, bx] > 0.99 and moved[by, bx] < 0.5  # 0.34
    assert w[cy, cx] > 0.99 and moved[cy, cx] > 0.99


def test_keeping_another_frame_of_the_plate_beats_the_warp_alone(shot, model):
    """The dubbing case in miniature: a frame whose expression comes from elsewhere, its face warped from
    training frames; keeping the plate of a frame with about the same head pose (>= 10 frames away, so not the
    answer) where the expression barely moves the face is nearer the real frame than the warp alone."""
    track, box, images = shot
    bank = Warper(model, track.slice(0, 23), images[:24], box)
    errs = {"warp": [0.0, 0], "keep": [0.0, 0]}
    for b in range(32, 48):
        rot = np.einsum("tji,jk->tik", track.rotation, track.rotation[b])
        ang = np.degrees(np.arccos(np.clip((np.trace(rot, axis1=1, axis2=2) - 1) / 2, -1, 1)))
        ang[max(0, b - 10):b + 11] = np.inf
        ang[:24] = np.inf  # the plate comes from the held-out frames too
        a = int(np.argmin(ang))
        frame = track.slice(b, b)
        r = retrieve(track.expression[b:b + 1], track.expression[:24], k=4, slots=4, temporal_sigma=0)
        warp, cover = bank.warp(frame, r)
        kept, weight = PlateKeep(model, frame, track.slice(a, a), box, 128)(0, images[a].astype(np.float32))
        x = warp[0].astype(np.float32)
        y = x + weight[..., None] * (kept - x)
        seen = cover[0] > 0.99
        for name, img in (("warp", x), ("keep", y)):
            errs[name][0] += np.linalg.norm(img - images[b], axis=-1)[seen].sum()
            errs[name][1] += seen.sum()
    warp_err, keep_err = (errs[k][0] / errs[k][1] for k in ("warp", "keep"))
    assert keep_err < 0.97 * warp_err, (keep_err, warp_err)  # 8.0 vs 11.1


def test_face_matte_covers_both_faces_and_is_zero_far_away(shot, model):
    track, box, _ = shot
    size = (128, 128)
    a, b = track.slice(5, 5), track.slice(30, 30)
    mesh = render_mesh(model, ("face_narrow",))
    face_a = rasterize(project_track(model, a, box, size, mesh.vertices), mesh.triangles, size).tri_id[0] >= 0
    face_b = rasterize(project_track(model, b, box, size, mesh.vertices), mesh.triangles, size).tri_id[0] >= 0
    m = face_matte(model, a, b, box, size)[0]
    assert (m[face_a | face_b] == 1).all()
    assert m.min() == 0 and (m > 0).mean() < 0.8
    grown = face_matte(model, a, None, box, size, dilate=0.08)[0]
    assert (grown > 0).sum() > (face_matte(model, a, None, box, size)[0] > 0).sum()


@pytest.mark.parametrize("cubic", [False, True])
def test_native_warp_equals_its_reference_and_does_not_depend_on_the_chunk(shot, model, cubic):
    track, box, images = shot
    bank = track.slice(0, 23)
    warper = Warper(model, bank, images[:24], box, cubic=cubic)
    driven = track.slice(24, 47)
    r = retrieve(driven.expression, bank.expression, k=3, slots=4, temporal_sigma=1.5)
    warp, cover = warper.warp(driven, r)
    ref_warp, ref_cover = warper.warp(driven, r, impl="ref")
    assert np.array_equal(cover > 0, ref_cover > 0) or (np.abs(cover - ref_cover) > 1e-3).mean() < 1e-3
    assert np.abs(cover - ref_cover).mean() < 1e-3
    both = (cover > 0) & (ref_cover > 0)
    err = np.abs(warp.astype(int) - ref_warp.astype(int)).max(-1)[both]
    assert both.mean() > 0.2 and err.mean() < 0.2 and np.percentile(err, 99.9) <= 2
    from h2h_engine.render.appearance import Retrieval

    part, part_cover = warper.warp(track.slice(30, 40), Retrieval(r.index[6:17], r.weight[6:17], r.scale))
    assert np.array_equal(part, warp[6:17]) and np.array_equal(part_cover, cover[6:17])
    if cubic:  # bicubic keeps more of the crops' finest texture than bilinear
        def texture(x: np.ndarray) -> float:
            return float(np.mean([np.abs(cv2.Laplacian(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), cv2.CV_32F))[c > 0.99].mean()
                                  for f, c in zip(x, cover)]))

        linear, _ = Warper(model, bank, images[:24], box).warp(driven, r)
        assert texture(warp) > 1.05 * texture(linear)
