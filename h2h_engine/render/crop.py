"""Face crop boxes: one stable box per shot, cropping frames into it, and pasting results back.

Pixel conventions: boxes and output rasters are continuous (the rasterizer's): pixel ``(i, j)`` covers
``[i, i + 1) x [j, j + 1)`` with its centre at ``(i + 0.5, j + 0.5)``, so the full-frame box is
``(0, 0, W0, H0)``. Track coordinates (landmarks, pupils, SOP projections) have pixel centres at integers
(dlib's convention) and are shifted by ``TRACK_PIXEL_OFFSET`` on the way in. A box ``(x0, y0, x1, y1)`` maps
onto an output raster ``(W, H)`` by ``x' = (x - x0) * W / (x1 - x0)``, ``y' = (y - y0) * H / (y1 - y0)``.
"""
from __future__ import annotations

import cv2
import numpy as np
from scipy.ndimage import median_filter

from ..errors import InputError
from ..geometry import project
from ..morphable.model import MorphableModel
from ..track import FLAG_NO_FACE, Track

TRACK_PIXEL_OFFSET = 0.5  # track pixel coordinates -> continuous coordinates
# Every n-th vertex of the model's narrow face region (plus the landmarks) stands for the face's extent.
_FACE_SUBSAMPLE = 7


def box_scale(box: np.ndarray, size: tuple[int, int]) -> tuple[float, float]:
    """(sx, sy) output pixels per source pixel."""
    x0, y0, x1, y1 = (float(v) for v in box)
    if not (x1 > x0 and y1 > y0):
        raise InputError(f"crop box {list(box)} is empty (want x0 < x1, y0 < y1)")
    return size[0] / (x1 - x0), size[1] / (y1 - y0)


def to_output(points: np.ndarray, box: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Map (..., 2) or (..., 3) track-pixel points (x, y[, depth]) into the output raster (continuous
    coordinates); depth scales with x so the geometry stays isotropic for square boxes."""
    sx, sy = box_scale(box, size)
    out = np.array(points, np.float32, copy=True)
    out[..., 0] = (out[..., 0] + TRACK_PIXEL_OFFSET - box[0]) * sx
    out[..., 1] = (out[..., 1] + TRACK_PIXEL_OFFSET - box[1]) * sy
    if out.shape[-1] > 2:
        out[..., 2:] *= sx
    return out


def _affine(box: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(2, 3) matrix taking source pixel indices to output pixel indices (OpenCV: centres at integers)."""
    sx, sy = box_scale(box, size)
    return np.array([[sx, 0.0, (0.5 - box[0]) * sx - 0.5], [0.0, sy, (0.5 - box[1]) * sy - 0.5]], np.float64)


def crop_box_for_track(model: MorphableModel, track: Track, margin: float = 1.6, smooth: int = 15,
                       aspect: float = 1.0) -> np.ndarray:
    """One box, stable over the whole shot, around the fitted face in every frame.

    The face's extent per frame is the bounding box of the projected model face (a subset of its
    narrow-face vertices: forehead to chin); its centre and size are median-filtered over ``smooth`` frames (rejecting single bad fits),
    every frame's box is grown ``margin`` times about its centre, and the result is the union of those boxes
    made ``aspect`` (= W / H) wide about its centre.

    Returns:
        (4,) float32 x0, y0, x1, y1 in source pixels (may extend beyond the frame).
    """
    if len(track) == 0:
        raise InputError("the track has no frames")
    if margin <= 0 or aspect <= 0:
        raise ValueError(f"margin and aspect must be positive; got {margin}, {aspect}")
    face = np.unique(model.region_triangles("face_narrow"))
    verts = np.union1d(face[::_FACE_SUBSAMPLE], model.landmarks)
    pts = project(model.shape(track.identity, track.expression, vertices=verts), track.rotation,
                  track.translation, track.scale)[..., :2] + TRACK_PIXEL_OFFSET  # (T, K, 2) continuous
    good = (np.asarray(track.flags) & FLAG_NO_FACE) == 0
    if not good.any():
        good[:] = True
    lo, hi = pts.min(axis=1)[good], pts.max(axis=1)[good]  # (T', 2)
    centre, extent = (lo + hi) / 2, (hi - lo).max(axis=1)
    if smooth > 1 and len(centre) > 2:
        win = min(int(smooth), len(centre))
        centre = median_filter(centre, size=(win, 1), mode="nearest")
        extent = median_filter(extent, size=win, mode="nearest")
    half = margin * extent[:, None] / 2
    x0, y0 = (centre - half).min(axis=0)
    x1, y1 = (centre + half).max(axis=0)
    cx, cy, w, h = (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0
    w, h = max(w, h * aspect), max(h, w / aspect)
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], np.float32)


def detail_size(box: np.ndarray, size: int, limit: int) -> int:
    """The side of a square crop of ``box`` at the source's own pixel density: the box's side in source pixels
    rounded up to a multiple of 8, at least ``size`` (the model's) and at most ``limit`` (0: ``size``)."""
    side = max(float(box[2] - box[0]), float(box[3] - box[1]))
    return int(min(max(size, int(np.ceil(side / 8)) * 8), max(limit, size)))


def crop_frames(frames: np.ndarray, box: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Crop (T, H0, W0, C) frames to ``box`` and resize to ``size`` = (W, H); edge pixels repeat where the box
    leaves the frame; downscaling is low-pass filtered first.

    Returns:
        (T, H, W, C) of the input dtype.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4:
        raise ValueError(f"frames must have shape (T, H0, W0, C); got {frames.shape}")
    m = _affine(np.asarray(box, np.float64), size)
    shrink = 1.0 / min(m[0, 0], m[1, 1])
    out = np.empty((len(frames), size[1], size[0], frames.shape[3]), frames.dtype)
    for t, f in enumerate(frames):
        if shrink > 1.5:
            f = cv2.GaussianBlur(f, (0, 0), sigmaX=0.45 * shrink)
        w = cv2.warpAffine(f, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        out[t] = w.reshape(out.shape[1:])
    return out


def paste_back(plate: np.ndarray, patch: np.ndarray, mask: np.ndarray, box: np.ndarray,
               feather: float) -> tuple[np.ndarray, np.ndarray]:
    """Composite a synthesized crop back into its plate.

    Args:
        plate: (H0, W0, C) source frame (uint8/uint16/float).
        patch: (H, W, C) crop in the plate's value range, made with ``box``.
        mask: (H, W) bool/float weight of the patch (e.g. the rendered face, dilated).
        box: (4,) the crop box.
        feather: Gaussian softening of the mask edge, in plate pixels (0 = hard edge).
    Returns:
        (H0, W0, C) composite of the plate's dtype, exactly the plate where the alpha is 0, and the (H0, W0)
        float32 alpha it was made with.
    """
    plate, patch = np.asarray(plate), np.asarray(patch)
    if plate.ndim != 3 or patch.ndim != 3 or plate.shape[2] != patch.shape[2]:
        raise ValueError(f"plate (H0, W0, C) and patch (H, W, C) must agree; got {plate.shape}, {patch.shape}")
    if np.shape(mask) != patch.shape[:2]:
        raise ValueError(f"mask must have shape {patch.shape[:2]}; got {np.shape(mask)}")
    size = (patch.shape[1], patch.shape[0])
    m = _affine(np.asarray(box, np.float64), size)
    dsize = (plate.shape[1], plate.shape[0])
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    warped = cv2.warpAffine(patch.astype(np.float32), m, dsize, flags=flags, borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.warpAffine(np.asarray(mask, np.float32), m, dsize, flags=flags, borderMode=cv2.BORDER_CONSTANT,
                           borderValue=0.0)
    if feather > 0:
        alpha = cv2.GaussianBlur(alpha, (0, 0), sigmaX=float(feather))
    alpha = np.clip(alpha, 0.0, 1.0).reshape(dsize[1], dsize[0], 1)
    alpha[alpha < 1.0 / 500] = 0.0  # the far tail: an 8-bit alpha would read 0 there, so keep the plate exactly
    out = plate.astype(np.float32) * (1.0 - alpha) + warped.reshape(alpha.shape[:2] + (-1,)) * alpha
    if np.issubdtype(plate.dtype, np.integer):
        info = np.iinfo(plate.dtype)
        out = np.clip(np.rint(out), info.min, info.max)
    return np.where(alpha > 0, out.astype(plate.dtype), plate), alpha[..., 0]
