"""Eye images: the eye openings (landmarks 36-41 and 42-47) filled white with the pupils drawn black, drawn by
the same rasterizer rules and pixel convention as the NMFC so both correspond pixel for pixel.

``impl="native"`` draws everything in one C++ pass per frame (csrc/common/eyes.h); ``impl="ref"`` is the numpy
reference: the eye fans through the numpy rasterizer, then the pupil discs frame by frame. Both give the same
images bit for bit."""
from __future__ import annotations

import numpy as np

from ..geometry import eye_polygons
from .raster import IMPLS, rasterize

PUPIL_RADIUS = 0.18  # pupil disc radius as a fraction of the eye's corner-to-corner width (iris ~ 0.2)
_FAN = np.array([[k, (k + 1) % 6, 6] for k in range(6)], np.int32)  # one eye: contour k, k+1 and the centre


def render_eyes(landmarks: np.ndarray, pupils: np.ndarray, size: tuple[int, int], impl: str = "native",
                pupil_radius: float = PUPIL_RADIUS, image: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Draw eye images.

    Args:
        landmarks: (T, 68, 2) landmarks in output pixels.
        pupils: (T, 2, 2) pupil centres in output pixels (subject's right eye first).
        size: (W, H).
        impl: "native" (one C++ pass) or "ref" (numpy reference).
        pupil_radius: pupil disc radius relative to each eye's width (corner to corner).
        image: a (T, H, W, 3) float32 array to draw into (reused memory), or None for a new one.
    Returns:
        image (T, H, W, 3) float32: 1 inside the eye openings, 0 elsewhere and on the pupils (pupils are drawn
        only inside the openings); eye (T, H, W) int8: 0 = right eye opening, 1 = left, -1 = neither.
    """
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {IMPLS}; got {impl!r}")
    w, h = (int(s) for s in size)
    poly = eye_polygons(np.asarray(landmarks, np.float32))  # (T, 2, 6, 2), subject's right eye first
    pupils = np.ascontiguousarray(pupils, np.float32)
    if pupils.shape != (len(poly), 2, 2):
        raise ValueError(f"pupils must have shape (T={len(poly)}, 2, 2); got {pupils.shape}")
    n = len(poly)
    centre = poly.mean(axis=2, keepdims=True)  # (T, 2, 1, 2): fan centre (eye contours are star-shaped)
    fans = np.concatenate([poly, centre], axis=2)  # (T, 2, 7, 2)
    # Rasterize only the window around the eyes of all frames (integer offset: same pixel centres, and the
    # shifted coordinates are exact).
    x0 = y0 = x1 = y1 = 0
    finite = fans.reshape(-1, 2)[np.isfinite(fans.reshape(-1, 2)).all(axis=-1)]
    if len(finite):
        x0, y0 = np.clip(np.floor(finite.min(axis=0)).astype(int), 0, (w, h))
        x1, y1 = np.clip(np.ceil(finite.max(axis=0)).astype(int) + 1, 0, (w, h))
        x1, y1 = max(x0, x1), max(y0, y1)
    fans = fans - np.array([x0, y0], np.float32)
    width = np.linalg.norm(poly[:, :, 3] - poly[:, :, 0], axis=-1)  # (T, 2) corner to corner
    radius = (pupil_radius * width).astype(np.float32)
    if impl == "native":
        from .. import _native  # noqa: PLC0415 - the extension is only needed for impl="native"

        return _native.render_eyes_fwd(np.ascontiguousarray(fans), pupils, radius, int(x0), int(y0), int(x1),
                                       int(y1), w, h, image=image)
    ref, eye = _render_eyes_ref(fans, pupils, radius, (int(x0), int(y0), int(x1), int(y1)), (w, h))
    if image is None:
        return ref, eye
    image[...] = ref
    return image, eye


def _render_eyes_ref(fans: np.ndarray, pupils: np.ndarray, radius: np.ndarray, window: tuple[int, int, int, int],
                     size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The numpy reference of the native pass: fans (T, 2, 7, 2) relative to the window, pupils (T, 2, 2),
    radii (T, 2)."""
    n = len(fans)
    x0, y0, x1, y1 = window
    eye = np.full((n, size[1], size[0]), -1, np.int8)
    if x1 > x0 and y1 > y0:
        pos = np.concatenate([fans.reshape(n, 14, 2), np.zeros((n, 14, 1), np.float32)], axis=2)
        tri = np.concatenate([_FAN, _FAN + 7])  # triangles 0-5: right eye, 6-11: left eye
        tri_id = rasterize(pos, tri, (x1 - x0, y1 - y0), cull_back=False, impl="ref").tri_id
        eye[:, y0:y1, x0:x1] = np.where(tri_id >= 0, tri_id // 6, -1)
    pupil = np.zeros(eye.shape, bool)
    for t in range(n):
        for k in range(2):  # a disc around each pupil, clipped to the raster and to its eye opening
            cx, cy, r = float(pupils[t, k, 0]), float(pupils[t, k, 1]), float(radius[t, k])
            if not np.isfinite([cx, cy, r]).all():
                continue
            i0, i1 = max(0, int(np.floor(cx - r))), min(size[0], int(np.ceil(cx + r)) + 1)
            j0, j1 = max(0, int(np.floor(cy - r))), min(size[1], int(np.ceil(cy + r)) + 1)
            if i0 >= i1 or j0 >= j1:
                continue
            jj, ii = np.mgrid[j0:j1, i0:i1].astype(np.float32) + 0.5
            disc = (ii - cx) ** 2 + (jj - cy) ** 2 <= r * r
            pupil[t, j0:j1, i0:i1] |= disc & (eye[t, j0:j1, i0:i1] == k)
    value = ((eye >= 0) & ~pupil).astype(np.float32)
    return np.repeat(value[..., None], 3, axis=-1), eye
