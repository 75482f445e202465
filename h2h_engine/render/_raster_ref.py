"""Slow, obviously-correct numpy reference of the native rasterizer (``csrc/common/rasterize.h`` rules).

One triangle at a time: snap the vertices to 1/256 px, evaluate the three edge functions exactly (int64) at
every pixel centre of the clipped bounding box, apply the top-left rule, interpolate depth with the
barycentrics and keep fragments nearer than the z-buffer (strictly, so equal depth keeps the lower index).
"""
from __future__ import annotations

import numpy as np

SUBPIXEL_BITS = 8
SUB = 1 << SUBPIXEL_BITS
GUARD_BAND = 4194304.0  # 2^22 px


def _snap(v: np.ndarray) -> np.ndarray:
    return np.rint(np.asarray(v, np.float32) * np.float32(SUB)).astype(np.int64)


def _edge(xa: int, ya: int, xb: int, yb: int, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    return (xb - xa) * (py - ya) - (yb - ya) * (px - xa)


def _top_left(xa: int, ya: int, xb: int, yb: int) -> bool:
    return yb - ya < 0 or (yb == ya and xb - xa > 0)


def rasterize_ref(pos: np.ndarray, tri: np.ndarray, width: int, height: int,
                  cull_back: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """pos (B, V, 3), tri (F, 3) -> tri_id (B, H, W) int32, bary (B, H, W, 2) float32, depth (B, H, W) float32."""
    pos = np.asarray(pos, np.float32)
    tri = np.asarray(tri, np.int64)
    n = pos.shape[0]
    tri_id = np.full((n, height, width), -1, np.int32)
    bary = np.zeros((n, height, width, 2), np.float32)
    depth = np.full((n, height, width), -np.inf, np.float32)
    for b in range(n):
        for f, (v0, v1, v2) in enumerate(tri):
            p = pos[b, [v0, v1, v2]]  # (3, 3)
            if not (np.all(np.abs(p[:, :2]) <= GUARD_BAND) and np.all(np.abs(p[:, 2]) <= 3.0e38)):
                continue
            x, y, z = [int(a) for a in _snap(p[:, 0])], [int(a) for a in _snap(p[:, 1])], p[:, 2].copy()
            area = (x[1] - x[0]) * (y[2] - y[0]) - (y[1] - y[0]) * (x[2] - x[0])
            if area == 0 or (cull_back and area > 0):
                continue
            flipped = area < 0
            if flipped:  # make the area positive: swap vertices 1 and 2
                x[1], x[2], y[1], y[2] = x[2], x[1], y[2], y[1]
                z[[1, 2]] = z[[2, 1]]
                area = -area
            # pixel centres (i + 0.5, j + 0.5) inside the bounding box, clipped to the raster
            i0 = max(0, int(np.ceil((min(x) - SUB / 2) / SUB)))
            i1 = min(width - 1, int(np.floor((max(x) - SUB / 2) / SUB)))
            j0 = max(0, int(np.ceil((min(y) - SUB / 2) / SUB)))
            j1 = min(height - 1, int(np.floor((max(y) - SUB / 2) / SUB)))
            if i0 > i1 or j0 > j1:
                continue
            jj, ii = np.mgrid[j0:j1 + 1, i0:i1 + 1].astype(np.int64)
            px, py = ii * SUB + SUB // 2, jj * SUB + SUB // 2
            e = [_edge(x[1], y[1], x[2], y[2], px, py),   # weight of vertex 0
                 _edge(x[2], y[2], x[0], y[0], px, py),   # weight of vertex 1
                 _edge(x[0], y[0], x[1], y[1], px, py)]   # weight of vertex 2
            tl = [_top_left(x[1], y[1], x[2], y[2]), _top_left(x[2], y[2], x[0], y[0]),
                  _top_left(x[0], y[0], x[1], y[1])]
            inside = np.ones(px.shape, bool)
            for ek, tk in zip(e, tl):
                inside &= (ek >= 0) if tk else (ek > 0)
            inv = np.float32(1.0) / np.float32(area)
            w = [ek.astype(np.float32) * inv for ek in e]
            zf = w[0] * z[0] + w[1] * z[1] + w[2] * z[2]
            zbuf = depth[b, j0:j1 + 1, i0:i1 + 1]
            win = inside & (zf > zbuf)
            zbuf[win] = zf[win]
            tri_id[b, j0:j1 + 1, i0:i1 + 1][win] = f
            w1 = w[2] if flipped else w[1]
            bary[b, j0:j1 + 1, i0:i1 + 1, 0][win] = w[0][win]
            bary[b, j0:j1 + 1, i0:i1 + 1, 1][win] = w1[win]
    return tri_id, bary, depth


def interpolate_ref(attr: np.ndarray, tri: np.ndarray, tri_id: np.ndarray, bary: np.ndarray) -> np.ndarray:
    """attr (V, C) or (B, V, C) at (tri_id (B, H, W), bary (B, H, W, 2)) -> (B, H, W, C), 0 where empty."""
    attr = np.asarray(attr, np.float32)
    n = tri_id.shape[0]
    per_frame = attr if attr.ndim == 3 else np.broadcast_to(attr, (n,) + attr.shape)
    out = np.zeros(tri_id.shape + (attr.shape[-1],), np.float32)
    for b in range(n):
        hit = tri_id[b] >= 0
        verts = np.asarray(tri)[tri_id[b][hit]]  # (N, 3)
        b0, b1 = bary[b][hit][:, 0:1], bary[b][hit][:, 1:2]
        a = per_frame[b]
        out[b][hit] = b0 * a[verts[:, 0]] + b1 * a[verts[:, 1]] + (1 - b0 - b1) * a[verts[:, 2]]
    return out
