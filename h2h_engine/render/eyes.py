"""Eye images: the eye openings (landmarks 36-41 and 42-47) filled white with the pupils drawn black, drawn by
the same rasterizer and pixel convention as the NMFC so both correspond pixel for pixel."""
from __future__ import annotations

import numpy as np

from .raster import rasterize

RIGHT_EYE = slice(36, 42)  # the subject's right eye (image left), as Track.pupils[:, 0]
LEFT_EYE = slice(42, 48)
PUPIL_RADIUS = 0.18  # pupil disc radius as a fraction of the eye's corner-to-corner width (iris ~ 0.2)


def eye_polygons(landmarks: np.ndarray) -> np.ndarray:
    """(T, 68, 2) landmarks -> (T, 2, 6, 2) eye contours (subject's right eye first)."""
    lm = np.asarray(landmarks, np.float32)
    return np.stack([lm[:, RIGHT_EYE], lm[:, LEFT_EYE]], axis=1)


def render_eyes(landmarks: np.ndarray, pupils: np.ndarray, size: tuple[int, int], impl: str = "native",
                pupil_radius: float = PUPIL_RADIUS) -> tuple[np.ndarray, np.ndarray]:
    """Draw eye images.

    Args:
        landmarks: (T, 68, 2) landmarks in output pixels.
        pupils: (T, 2, 2) pupil centres in output pixels (subject's right eye first).
        size: (W, H).
        pupil_radius: pupil disc radius relative to each eye's width (corner to corner).
    Returns:
        image (T, H, W, 3) float32: 1 inside the eye openings, 0 elsewhere and on the pupils (pupils are drawn
        only inside the openings); eye (T, H, W) int8: 0 = right eye opening, 1 = left, -1 = neither.
    """
    poly = eye_polygons(landmarks)  # (T, 2, 6, 2)
    n = len(poly)
    centre = poly.mean(axis=2, keepdims=True)  # (T, 2, 1, 2): fan centre (eye contours are star-shaped)
    verts = np.concatenate([poly, centre], axis=2).reshape(n, 14, 2)
    pos = np.concatenate([verts, np.zeros((n, 14, 1), np.float32)], axis=2)
    fan = np.array([[k, (k + 1) % 6, 6] for k in range(6)], np.int32)
    tri = np.concatenate([fan, fan + 7])  # triangles 0-5: right eye, 6-11: left eye
    tri_id = rasterize(pos, tri, size, cull_back=False, impl=impl).tri_id
    eye = np.where(tri_id >= 0, tri_id // 6, -1).astype(np.int8)
    h, w = size[1], size[0]
    jj, ii = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5
    width = np.linalg.norm(poly[:, :, 3] - poly[:, :, 0], axis=-1)  # (T, 2) corner to corner
    radius = pupil_radius * width
    pupil = np.zeros((n, h, w), bool)
    for k in range(2):
        d2 = (ii[None] - pupils[:, k, 0, None, None]) ** 2 + (jj[None] - pupils[:, k, 1, None, None]) ** 2
        pupil |= (d2 <= (radius[:, k] ** 2)[:, None, None]) & (eye == k)
    value = ((eye >= 0) & ~pupil).astype(np.float32)
    return np.repeat(value[..., None], 3, axis=-1), eye
