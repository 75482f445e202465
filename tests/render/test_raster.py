"""Rasterizer: native vs the numpy reference, fill rule, depth order, clipping, interpolation, bad input."""
from __future__ import annotations

import numpy as np
import pytest

from h2h_engine.render import raster


def _random_mesh(rng: np.random.Generator, n: int, v: int, f: int, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    xy = rng.uniform(-0.3, 1.3, (n, v, 2)) * np.array([w, h])
    z = rng.uniform(-5, 5, (n, v, 1))
    return np.concatenate([xy, z], -1).astype(np.float32), rng.integers(0, v, (f, 3)).astype(np.int32)


def _icosphere(level: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit sphere, faces counter-clockwise seen from outside."""
    t = (1 + 5 ** 0.5) / 2
    verts = [(-1, t, 0), (1, t, 0), (-1, -t, 0), (1, -t, 0), (0, -1, t), (0, 1, t), (0, -1, -t), (0, 1, -t),
             (t, 0, -1), (t, 0, 1), (-t, 0, -1), (-t, 0, 1)]
    faces = [(0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11), (1, 5, 9), (5, 11, 4), (11, 10, 2),
             (10, 7, 6), (7, 1, 8), (3, 9, 4), (3, 4, 2), (3, 2, 6), (3, 6, 8), (3, 8, 9), (4, 9, 5), (2, 4, 11),
             (6, 2, 10), (8, 6, 7), (9, 8, 1)]
    v = [np.array(p, float) / np.linalg.norm(p) for p in verts]
    for _ in range(level):
        cache: dict[tuple[int, int], int] = {}

        def mid(a: int, b: int) -> int:
            key = (min(a, b), max(a, b))
            if key not in cache:
                m = v[a] + v[b]
                v.append(m / np.linalg.norm(m))
                cache[key] = len(v) - 1
            return cache[key]

        faces = [g for a, b, c in faces for g in
                 ((a, mid(a, b), mid(c, a)), (b, mid(b, c), mid(a, b)), (c, mid(c, a), mid(b, c)),
                  (mid(a, b), mid(b, c), mid(c, a)))]
    return np.array(v, np.float32), np.array(faces, np.int32)


def _coverage_count(pos: np.ndarray, tri: np.ndarray, size: tuple[int, int], cull_back: bool) -> np.ndarray:
    """(H, W) how many triangles cover each pixel, rasterizing each triangle on its own."""
    count = np.zeros(size[::-1], np.int32)
    for t in tri:
        count += raster.rasterize(pos, t[None], size, cull_back).tri_id[0] >= 0
    return count


@pytest.mark.parametrize("cull_back", [True, False])
def test_matches_ref(cull_back: bool) -> None:
    rng = np.random.default_rng(1)
    pos, tri = _random_mesh(rng, 2, 60, 50, 48, 40)
    nat = raster.rasterize(pos, tri, (48, 40), cull_back)
    ref = raster.rasterize(pos, tri, (48, 40), cull_back, impl="ref")
    assert 0.3 < nat.mask.mean() < 1.0
    same = nat.tri_id == ref.tri_id
    assert same.mean() > 0.999  # identical fixed-point rules; only float depth ties may differ
    np.testing.assert_allclose(nat.bary[same], ref.bary[same], atol=1e-6)
    np.testing.assert_allclose(nat.depth[same & nat.mask], ref.depth[same & nat.mask], rtol=1e-6, atol=1e-5)
    assert np.all(np.isneginf(nat.depth[~nat.mask]))


def test_nearest_surface_wins() -> None:
    # Two overlapping squares (two triangles each); whichever comes first, the nearer one is visible.
    def square(x0: float, y0: float, x1: float, y1: float, z: float) -> np.ndarray:
        return np.array([[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]], np.float32)

    near, far = square(4, 4, 20, 20, 2.0), square(10, 10, 28, 28, -1.0)
    quads = np.array([[0, 2, 1], [0, 3, 2]], np.int32)  # counter-clockwise in y-up = front facing
    for first, second in ((near, far), (far, near)):
        pos = np.concatenate([first, second])[None]
        tri = np.concatenate([quads, quads + 4])
        r = raster.rasterize(pos, tri, (32, 32))
        near_ids = {0, 1} if first is near else {2, 3}
        overlap = r.tri_id[0, 10:20, 10:20]
        assert set(np.unique(overlap)) <= near_ids
        np.testing.assert_allclose(r.depth[0, 10:20, 10:20], 2.0)
        assert (r.tri_id[0, 21:28, 21:28] >= 0).all() and not np.isin(r.tri_id[0, 21:28, 21:28], list(near_ids)).any()


def test_watertight_sphere() -> None:
    v, tri = _icosphere(3)
    rng = np.random.default_rng(2)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.linalg.det(q))
    cam = v @ q.T
    pos = np.stack([cam[:, 0] * 21.3 + 32.2, 40.1 - cam[:, 1] * 21.3, cam[:, 2] * 21.3], -1)[None].astype(np.float32)
    count = _coverage_count(pos, tri, (64, 80), cull_back=True)
    # Inside the silhouette every pixel centre is covered exactly once by the front faces, outside never.
    jj, ii = np.mgrid[0:80, 0:64] + 0.5
    r = np.hypot(ii - 32.2, jj - 40.1)
    assert count.max() == 1
    assert (count[r < 20.5] == 1).all()  # the inscribed polyhedron reaches radius >= 0.99 * 21.3
    assert (count[r > 21.4] == 0).all()
    both = _coverage_count(pos, tri, (64, 80), cull_back=False)
    assert (both == 2 * count).all()  # without culling the back faces cover the same pixels once more
    r_all = raster.rasterize(pos, tri, (64, 80))
    assert ((r_all.tri_id[0] >= 0) == (count == 1)).all()


def test_watertight_edges_through_pixel_centres() -> None:
    # A jittered grid whose vertices and edges pass exactly through pixel centres (the tie cases).
    rng = np.random.default_rng(3)
    gx, gy = np.meshgrid(np.arange(0, 33, 4) + 0.5, np.arange(0, 33, 4) + 0.5)
    xy = np.stack([gx, gy], -1).reshape(-1, 2)
    inner = (xy[:, 0] > 1) & (xy[:, 0] < 32) & (xy[:, 1] > 1) & (xy[:, 1] < 32)
    xy[inner] += rng.integers(-1, 2, (inner.sum(), 2))
    n = 9
    tri = []
    for r_ in range(n - 1):
        for c in range(n - 1):
            a, b, cc, d = r_ * n + c, r_ * n + c + 1, (r_ + 1) * n + c + 1, (r_ + 1) * n + c
            tri += [(a, b, cc), (a, cc, d)] if (r_ + c) % 2 else [(a, b, d), (b, cc, d)]
    tri = np.array(tri, np.int32)
    pos = np.concatenate([xy, np.zeros((len(xy), 1))], -1)[None].astype(np.float32)
    count = _coverage_count(pos, tri, (40, 40), cull_back=False)
    # Pixel centres strictly inside the grid's outline are covered exactly once, on edges and vertices too.
    assert count.max() == 1
    assert (count[1:32, 1:32] == 1).all()


def test_degenerate_triangles_ignored() -> None:
    pos = np.array([[[2, 2, 0], [30, 3, 0], [5, 28, 0], [16, 16, 0], [16, 16, 0], [40, 40, 0]]], np.float32)
    good = np.array([[0, 2, 1]], np.int32)
    bad = np.array([[3, 4, 5], [0, 0, 1], [1, 1, 1], [0, 3, 5]], np.int32)  # repeated / collinear vertices
    alone = raster.rasterize(pos, good, (32, 32), cull_back=False)
    mixed = raster.rasterize(pos, np.concatenate([bad, good]), (32, 32), cull_back=False)
    assert alone.mask.sum() > 100
    np.testing.assert_array_equal(mixed.tri_id, np.where(alone.mask, 4, -1))
    assert raster.rasterize(pos, bad, (32, 32), cull_back=False).mask.sum() == 0


def test_off_screen_and_sub_pixel() -> None:
    # A huge triangle around the screen: every pixel, barycentrics consistent with the plane.
    pos = np.array([[[-1e5, -1e5, 1.0], [3e5, -1e5, 1.0], [-1e5, 3e5, 1.0]]], np.float32)
    attr = pos[0, :, :2]  # interpolating the positions must give the pixel centres back
    img, tri_id = raster.render(pos, np.array([[0, 2, 1]], np.int32), attr, (20, 10))
    assert (tri_id == 0).all()
    jj, ii = np.mgrid[0:10, 0:20] + 0.5
    np.testing.assert_allclose(img[0, ..., 0], ii, atol=0.05)
    np.testing.assert_allclose(img[0, ..., 1], jj, atol=0.05)
    # Entirely off-screen triangles draw nothing; partially off-screen ones are clipped.
    off = np.array([[[-50, -50, 0], [-10, -50, 0], [-50, -10, 0], [-5, 5, 0], [5, -5, 0], [5, 5, 0]]], np.float32)
    r = raster.rasterize(off, np.array([[0, 1, 2], [3, 4, 5]], np.int32), (8, 8), cull_back=False)
    want = np.full((8, 8), -1)
    want[:5, :5] = 1  # the on-screen part of the second triangle is the square [0, 5) x [0, 5)
    np.testing.assert_array_equal(r.tri_id[0], want)
    # Sub-pixel triangles: one covering a pixel centre gives exactly that pixel; one between centres none.
    tiny = np.array([[[3.4, 5.4, 0], [3.7, 5.4, 0], [3.5, 5.7, 0], [3.6, 5.6, 0], [3.9, 5.6, 0], [3.7, 5.9, 0]]],
                    np.float32)
    r = raster.rasterize(tiny, np.array([[0, 1, 2], [3, 4, 5]], np.int32), (8, 8), cull_back=False)
    assert r.mask.sum() == 1 and r.tri_id[0, 5, 3] == 0
    for impl in ("native", "ref"):
        far = raster.rasterize(pos * np.float32([1e3, 1e3, 1]), np.array([[0, 2, 1]], np.int32), (4, 4), impl=impl)
        assert far.mask.sum() == 0  # vertices beyond the 2^22 px guard band: dropped (documented)


def test_back_faces_culled() -> None:
    pos = np.array([[[2, 2, 0], [30, 3, 0], [5, 28, 0]]], np.float32)
    front, back = np.array([[0, 2, 1]], np.int32), np.array([[0, 1, 2]], np.int32)
    assert raster.rasterize(pos, front, (32, 32)).mask.sum() > 100
    assert raster.rasterize(pos, back, (32, 32)).mask.sum() == 0
    assert raster.rasterize(pos, back, (32, 32), cull_back=False).mask.sum() > 100


def test_interpolate_matches_ref_and_render() -> None:
    rng = np.random.default_rng(4)
    pos, tri = _random_mesh(rng, 2, 40, 30, 32, 24)
    attr = rng.random((2, 40, 3)).astype(np.float32)
    r = raster.rasterize(pos, tri, (32, 24))
    nat = raster.interpolate(attr, tri, r.tri_id, r.bary)
    np.testing.assert_allclose(nat, raster.interpolate(attr, tri, r.tri_id, r.bary, impl="ref"), atol=1e-6)
    img, tri_id = raster.render(pos, tri, attr, (32, 24))
    np.testing.assert_array_equal(tri_id, r.tri_id)
    np.testing.assert_allclose(img, nat, atol=1e-6)
    assert (img[~r.mask] == 0).all()
    shared = raster.interpolate(attr[0], tri, r.tri_id, r.bary)
    np.testing.assert_allclose(shared[0], nat[0], atol=1e-6)


def test_torch_tensors_accepted() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    pos, tri = _random_mesh(rng, 1, 30, 20, 16, 16)
    tpos = torch.from_numpy(pos)
    a = raster.rasterize(tpos, torch.from_numpy(tri).long(), (16, 16))
    b = raster.rasterize(pos, tri, (16, 16))
    np.testing.assert_array_equal(a.tri_id, b.tri_id)
    assert np.shares_memory(raster._as_numpy(tpos, np.float32), pos)  # CPU tensors are read in place


def test_bad_input() -> None:
    pos = np.zeros((1, 3, 3), np.float32)
    tri = np.array([[0, 1, 2]], np.int32)
    with pytest.raises(ValueError, match="size"):
        raster.rasterize(pos, tri, (0, 16))
    with pytest.raises(ValueError, match=r"\(B, V, 3\)"):
        raster.rasterize(pos[0], tri, (16, 16))
    with pytest.raises(ValueError, match="outside"):
        raster.rasterize(pos, tri + 1, (16, 16))
    with pytest.raises(ValueError, match="impl"):
        raster.rasterize(pos, tri, (16, 16), impl="gl")
    with pytest.raises(ValueError, match="vertices"):
        raster.render(pos, tri, np.zeros((4, 3), np.float32), (16, 16))


@pytest.mark.cuda
def test_cuda_matches_cpu() -> None:
    rng = np.random.default_rng(6)
    pos, tri = _random_mesh(rng, 3, 200, 300, 96, 64)
    attr = rng.random((200, 3)).astype(np.float32)
    for cull in (True, False):
        cpu = raster.rasterize(pos, tri, (96, 64), cull)
        gpu = raster.rasterize(pos, tri, (96, 64), cull, device="cuda")
        assert (cpu.tri_id == gpu.tri_id).mean() > 0.999
        same = cpu.tri_id == gpu.tri_id
        np.testing.assert_allclose(gpu.bary[same], cpu.bary[same], atol=1e-6)
        img_c, _ = raster.render(pos, tri, attr, (96, 64), cull)
        img_g, _ = raster.render(pos, tri, attr, (96, 64), cull, device="cuda")
        np.testing.assert_allclose(img_g[same], img_c[same], atol=1e-5)
