"""The target's own appearance for a driven frame: retrieval of training frames, their warp through the 3DMM,
and the face-mode composite matte.

- **Retrieval**: each driven frame takes the ``k`` training frames nearest in expression coefficients and head
  rotation (a frame seen at another angle is lit and foreshortened differently, and its warp stretches
  further), weighted by a Gaussian of the distance; the weights are then smoothed over neighbouring driven
  frames so a change of neighbour fades in over a few frames instead of popping.
- **Warp**: a training frame is carried to the driven frame's pose and expression through the shared 3DMM
  surface: the driven mesh is rasterized with, as its attribute, where each vertex lies in the training
  frame's crop, and the training crop is sampled there. Pixels whose surface point is hidden in the training
  frame (depth test against its own raster) or outside the mesh get no sample.
- **Matte** (face mode, dubbing): the union of the driven and the plate's own rendered face, dilated so the
  jaw's motion is covered, feathered; exactly 0 outside, so the plate is kept bit for bit there.
- **Plate keep** (face mode): where the driven expression barely moves the face (not on the lips, lids or
  eyes), the plate's own pixels carried to it through the 3DMM replace the synthesized ones.

Everything is a function of the whole driven track (not of a frame range), so farm chunks agree.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d

from ..geometry import EYES, MOUTH, OUTER_EYE_CORNERS
from ..morphable.model import MorphableModel
from ..track import Track
from .nmfc import project_track, render_mesh
from .raster import rasterize, render

WARP_REGIONS = ("face", "mouth", "eyeballs")  # surface carried from training frames (face incl. jaw/throat)
HEAD_WARP_REGIONS = ("face_narrow", "mouth", "eyeballs")  # ... in head mode (the rest: the retrieved crops)
MATTE_REGIONS = ("face_narrow",)               # what face mode regenerates (before dilation)
DEPTH_TOLERANCE = 0.02                         # of the crop side: a sample hidden by more is occluded
_RASTER_BATCH = 16                             # driven frames rasterized per call
BACKDROP_FEATHER = 0.006                       # head mode: the warp fades into its backdrop over this (of the side)
DETAIL_COVER = 0.999                           # detail is added where the retrieved frames saw the pixel at both sizes
RETRIEVAL = {"k": 8, "slots": 10, "temporal_sigma": 2.5}  # the presets' retrieval (DataConfig's defaults)
KEEP_REGIONS = ("face",)                       # face mode: surface whose plate pixels may be kept (no eyeballs/teeth)
KEEP_MOTION = (0.004, 0.012)                   # ... kept fully below this expression motion, not at all above (of the side)
KEEP_CLEAR = {"mouth": (0.30, 0.55), "eyes": (0.12, 0.25)}  # ... never near lips / lids (inter-ocular)


@dataclass(frozen=True)
class Retrieval:
    """Per driven frame, ``m`` training frames and their weights (rows sum to 1; unused slots weight 0)."""

    index: np.ndarray   # (T, m) int64 indices into the bank
    weight: np.ndarray  # (T, m) float32
    scale: float        # the squared-distance bandwidth used


def retrieve(query: np.ndarray, bank: np.ndarray, k: int = RETRIEVAL["k"], slots: int = RETRIEVAL["slots"],
             temporal_sigma: float = RETRIEVAL["temporal_sigma"],
             exclude_radius: int = 0, query_rows: np.ndarray | None = None, scale: float = 0.0,
             query_rotation: np.ndarray | None = None, bank_rotation: np.ndarray | None = None,
             pose_weight: float = 0.0) -> Retrieval:
    """Nearest training frames by expression (and head rotation).

    Args:
        query: (T, n_exp) driven expressions (consecutive frames of one shot).
        bank: (N, n_exp) training frames' expressions.
        k: neighbours per frame before temporal smoothing.
        slots: neighbours kept per frame after smoothing (the heaviest).
        temporal_sigma: Gaussian smoothing of the weights over driven frames (frames; 0 = none).
        exclude_radius: with ``query_rows``, bank rows within this many frames of the query's own row are
            never retrieved (training on the bank itself: the frame and its neighbours would be copies).
        query_rows: (T,) the query frames' rows in the bank, or None.
        scale: squared-distance bandwidth of the weights (0: the median squared distance to the nearest
            neighbour over these queries; pass :func:`retrieval_scale` of the training queries to use one
            bandwidth for training and inference).
        query_rotation, bank_rotation: (T, 3, 3) and (N, 3, 3) head rotations, with ``pose_weight`` > 0.
        pose_weight: what one squared degree of rotation between a driven and a training frame adds to their
            squared expression distance (0: expression only).
    """
    q, b = np.asarray(query, np.float64), np.asarray(bank, np.float64)
    if pose_weight > 0:  # ||Rq - Rb||_F^2 = 2 (3 - trace(Rq^T Rb)) ~ 2 theta^2 (radians) for small angles
        c = np.sqrt(pose_weight / 2) * np.degrees(1.0)
        q = np.concatenate([q, c * np.asarray(query_rotation, np.float64).reshape(len(q), 9)], 1)
        b = np.concatenate([b, c * np.asarray(bank_rotation, np.float64).reshape(len(b), 9)], 1)
    d2 = (q * q).sum(1)[:, None] + (b * b).sum(1)[None] - 2 * q @ b.T  # (T, N)
    np.maximum(d2, 0, out=d2)
    if query_rows is not None and exclude_radius > 0:
        near = np.abs(np.asarray(query_rows)[:, None] - np.arange(len(b))[None]) <= exclude_radius
        d2[near] = np.inf
    k = min(k, len(b))
    nn = np.argpartition(d2, k - 1, axis=1)[:, :k]                         # (T, k)
    dn = np.take_along_axis(d2, nn, 1)
    ok = np.isfinite(dn)  # a query whose whole bank is excluded (a short shot) retrieves nothing (weights 0)
    nearest = np.where(ok, dn, np.inf).min(1, keepdims=True)
    if scale <= 0:  # one bandwidth for the shot
        scale = max(float(np.median(nearest[np.isfinite(nearest)])) if np.isfinite(nearest).any() else 0.0, 1e-8)
    w = np.where(ok, np.exp(-(np.where(ok, dn, 0) - np.where(np.isfinite(nearest), nearest, 0)) / (2 * scale)), 0.0)
    dense = np.zeros(d2.shape, np.float64)
    np.put_along_axis(dense, nn, w / np.maximum(w.sum(1, keepdims=True), 1e-300), 1)
    if temporal_sigma > 0 and len(q) > 1:
        dense = gaussian_filter1d(dense, temporal_sigma, axis=0, mode="nearest", truncate=2.0)
    slots = min(slots, len(b))
    top = np.argsort(-dense, axis=1, kind="stable")[:, :slots]
    tw = np.take_along_axis(dense, top, 1)
    tw /= np.maximum(tw.sum(1, keepdims=True), 1e-12)
    return Retrieval(top.astype(np.int64), tw.astype(np.float32), float(scale))


@dataclass(frozen=True)
class AppearanceSettings:
    """The retrieval and matte settings of a run: set by the trainer's data config, stored in the checkpoint's
    ``appearance`` record, and repeated by inference from there (one place for both)."""

    retrieval_k: int              # nearest training frames per frame (see :func:`retrieve`)
    retrieval_slots: int          # ... kept per frame after smoothing the weights over time
    retrieval_sigma: float        # ... Gaussian smoothing of the weights over frames, frames
    matte_dilate: float           # face matte: dilation of the rendered face, fraction of the crop side
    matte_feather: float          # face matte: soft edge, fraction of the crop side
    retrieval_exclude: int = 0    # training frames never retrieve frames this close to themselves (copies)
    retrieval_scale: float = 0.0  # the bandwidth (0: measured on the queries; the trainer stores the training one)
    retrieval_pose: float = 0.0   # squared expression distance a squared degree of head rotation adds (0: none)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> "AppearanceSettings":
        """From a checkpoint's ``appearance`` record (other keys, such as the bank's paths, are ignored)."""
        return cls(**{f.name: record[f.name] for f in fields(cls) if f.name in record})

    def record(self) -> dict[str, Any]:
        return asdict(self)

    def retrieve(self, driven: Track, bank: Track, exclude: bool = False) -> Retrieval:
        """Retrieval of ``driven``'s frames from the training frames ``bank``; ``exclude``: ``driven`` is the
        bank itself (training frames skip their ``retrieval_exclude`` neighbours)."""
        return retrieve(driven.expression, bank.expression, k=self.retrieval_k, slots=self.retrieval_slots,
                        temporal_sigma=self.retrieval_sigma, exclude_radius=self.retrieval_exclude if exclude else 0,
                        query_rows=np.arange(len(driven)) if exclude else None, scale=self.retrieval_scale,
                        query_rotation=driven.rotation, bank_rotation=bank.rotation, pose_weight=self.retrieval_pose)

    def matte(self, model: MorphableModel, driven: Track, own: Track | None, box: np.ndarray,
              size: tuple[int, int]) -> np.ndarray:
        """(T, H, W) face-mode matte of ``driven`` (see :func:`face_matte`)."""
        return face_matte(model, driven, own, box, size, self.matte_dilate, self.matte_feather)


class Warper:
    """Warps training crops of a shot onto driven frames (see module docstring).

    Args:
        model: the 3DMM of both tracks.
        bank_track: the training frames' track (N frames).
        bank_images: (N, S, S, 3) uint8 training crops made with ``bank_box``.
        box: (4,) the crop box of the driven frames' output (source pixels of the driven shot).
        backdrop: head mode (the whole crop is regenerated): only the face proper is warped
            (:data:`HEAD_WARP_REGIONS`: stretching the throat over the collar looks worse than showing it), and
            pixels the warp does not cover show the retrieved crops themselves, unwarped and blended by the
            same weights (their hair, neck and background, seen from about the driven head's angle), the warp
            fading into them over a few pixels inside its edge.
        bank_box: (4,) the crop box the bank images were cut with (the training shot's; default ``box``). A
            driven shot's own box differs (another expression or head motion moves the face's extent), and the
            training frames' vertices must be located in the crops as those were cut.
        cubic: sample the crops bicubically (Keys, a = -0.75) instead of bilinearly: sharper (bilinear
            low-passes every sample at a fractional position), at the price of more frame-to-frame change where
            the fit jitters; the plate-resolution detail pass uses it, the networks' inputs do not.
    """

    def __init__(self, model: MorphableModel, bank_track: Track, bank_images: np.ndarray, box: np.ndarray,
                 backdrop: bool = False, bank_box: np.ndarray | None = None, cubic: bool = False) -> None:
        self.model, self.box, self.backdrop, self.cubic = model, np.asarray(box, np.float32), backdrop, cubic
        self.images = bank_images
        s = bank_images.shape[1]
        self.size = (int(bank_images.shape[2]), int(s))
        self.mesh = render_mesh(model, HEAD_WARP_REGIONS if backdrop else WARP_REGIONS)
        own = self.box if bank_box is None else np.asarray(bank_box, np.float32)
        self.bank_proj = project_track(model, bank_track, own, self.size, self.mesh.vertices)  # (N, K, 3)
        self._depth: dict[int, np.ndarray] = {}

    def _bank_depth(self, j: int) -> np.ndarray:
        """(S, S) depth raster of bank frame j (-inf where empty), cached."""
        if j not in self._depth:
            r = rasterize(self.bank_proj[j:j + 1], self.mesh.triangles, self.size)
            self._depth[j] = np.where(r.tri_id[0] >= 0, r.depth[0], -np.inf).astype(np.float32)
        return self._depth[j]

    def warp(self, driven: Track, retrieval: Retrieval, impl: str = "native") -> tuple[np.ndarray, np.ndarray]:
        """Blend of the retrieved training crops warped onto each driven frame: the native kernel
        (csrc/common/warp_blend.h), or ``impl="ref"`` its numpy/OpenCV reference, frame by frame and slot by slot.

        Returns:
            (T, S, S, 3) uint8 warp (0 where nothing was sampled; with ``backdrop`` the retrieved crops there)
            and (T, S, S) float32 coverage in [0, 1] (the weight of the retrieved frames that saw the pixel).
        """
        from .. import _native  # noqa: PLC0415 - the kernels are built with the package

        if impl not in ("native", "ref"):
            raise ValueError(f"impl must be native or ref; got {impl!r}")
        proj = project_track(self.model, driven, self.box, self.size, self.mesh.vertices)  # (T, K, 3)
        out, cover = [], []
        for a in range(0, len(driven), _RASTER_BATCH):
            r = rasterize(proj[a:a + _RASTER_BATCH], self.mesh.triangles, self.size)  # each frame drawn once
            index, weight = retrieval.index[a:a + len(r.tri_id)], retrieval.weight[a:a + len(r.tri_id)]
            if impl == "ref":
                o, c = self._warp_ref(r.tri_id, r.bary, index, weight)
            else:
                used, depth_of = np.unique(index, return_inverse=True)
                depths = np.stack([self._bank_depth(int(j)) for j in used])  # (U, S, S)
                o, c = _native.warp_blend_fwd(r.tri_id, r.bary, self.mesh.triangles, self.bank_proj, depths,
                                              self.images, index.astype(np.int32),
                                              depth_of.reshape(index.shape).astype(np.int32),
                                              weight.astype(np.float32), DEPTH_TOLERANCE * self.size[0], self.cubic)
            out.append(self._backdrop(o, c, index, weight) if self.backdrop else o)
            cover.append(c)
        return np.concatenate(out), np.concatenate(cover)

    def _backdrop(self, warp: np.ndarray, cover: np.ndarray, index: np.ndarray, weight: np.ndarray) -> np.ndarray:
        """(B, S, S, 3) uint8 ``warp`` over the weighted blend of its frames' retrieved crops (B, M slots)."""
        out = np.empty_like(warp)
        sigma = BACKDROP_FEATHER * self.size[0]
        for t in range(len(warp)):
            under = np.zeros(warp.shape[1:], np.float32)
            for j, wt in zip(index[t], weight[t]):
                if wt > 0:
                    under += wt * np.asarray(self.images[int(j)], np.float32)
            seen = (cover[t] > 0).astype(np.float32)
            alpha = np.minimum(seen, cv2.GaussianBlur(seen, (0, 0), sigma)) if sigma > 0 else seen  # inward only
            out[t] = np.clip(under + alpha[..., None] * (warp[t] - under) + 0.5, 0, 255).astype(np.uint8)
        return out

    def _warp_ref(self, tri_id: np.ndarray, bary: np.ndarray, index: np.ndarray, weight: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
        """The kernel's definition in numpy + OpenCV for a driven raster (B, S, S) and its slots (B, M)."""
        from .raster import interpolate  # noqa: PLC0415

        w, h = self.size
        out, cover = np.zeros((len(tri_id), h, w, 3), np.uint8), np.zeros((len(tri_id), h, w), np.float32)
        for t in range(len(tri_id)):
            acc, wsum = np.zeros((h, w, 3), np.float32), np.zeros((h, w), np.float32)
            for j, wt in zip(index[t], weight[t]):
                if wt <= 0:
                    continue
                src = interpolate(self.bank_proj[j], self.mesh.triangles, tri_id[t:t + 1], bary[t:t + 1])[0]
                x, y = src[..., 0] - 0.5, src[..., 1] - 0.5
                seen = cv2.remap(self._bank_depth(int(j)), x, y, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT,
                                 borderValue=-np.inf)
                ok = ((tri_id[t] >= 0) & (src[..., 2] >= seen - DEPTH_TOLERANCE * w)).astype(np.float32) * wt
                px = cv2.remap(np.asarray(self.images[int(j)], np.float32), x, y,
                               cv2.INTER_CUBIC if self.cubic else cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                acc += px * ok[..., None]
                wsum += ok
            have = wsum > 0
            out[t][have] = np.clip(acc[have] / wsum[have, None] + 0.5, 0, 255).astype(np.uint8)
            cover[t] = np.minimum(wsum, 1.0)
        return out, cover



def add_detail(image: np.ndarray, warp: np.ndarray, cover: np.ndarray, warp_hi: np.ndarray, cover_hi: np.ndarray,
               everywhere: bool = False) -> np.ndarray:
    """A synthesized crop at the plate's pixel density: ``image`` upsampled, plus the detail its model-size warp
    lost, ``warp_hi - up(warp)``, the same retrieval warped from the bank's plate-resolution crops.

    Args:
        image: (S, S, 3) float32 in [0, 1], the crop made at the model's size.
        warp, cover: (S, S, 3) uint8 and (S, S) its warp and coverage (:meth:`Warper.warp`).
        warp_hi, cover_hi: (D, D, 3) uint8 and (D, D) the same warp at the detail size D.
        everywhere: head mode (the warp has a backdrop everywhere): detail over the whole crop; else only where
            every retrieved frame saw the pixel at both sizes (a 1 px soft edge inside that).
    Returns:
        (D, D, 3) float32 in [0, 1].
    """
    d = warp_hi.shape[0]

    def up(x: np.ndarray) -> np.ndarray:  # same box, D / S pixels each (OpenCV's half-pixel centres agree)
        return cv2.resize(np.asarray(x, np.float32), (d, d), interpolation=cv2.INTER_LINEAR)

    lost = (warp_hi.astype(np.float32) - up(warp)) / np.float32(255)
    if everywhere:
        return np.clip(up(image) + lost, 0, 1)
    seen = ((np.asarray(cover_hi, np.float32) >= DETAIL_COVER) & (up(cover) >= DETAIL_COVER)).astype(np.float32)
    alpha = np.minimum(seen, cv2.GaussianBlur(cv2.erode(seen, np.ones((3, 3), np.uint8)), (0, 0), 1.0))
    return np.clip(up(image) + alpha[..., None] * lost, 0, 1)


def _smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """0 below ``lo``, 1 above ``hi``, C1-smooth between."""
    u = np.clip((x - lo) / max(hi - lo, 1e-9), 0, 1)
    return u * u * (3 - 2 * u)


def keep_prior(model: MorphableModel) -> np.ndarray:
    """(V,) float32 where the plate may be kept at all: 0 on and around the lips and the eyelids (the performance
    a dub replaces: mouth shapes, blinks; :data:`KEEP_CLEAR`, distances on the mean face in inter-ocular
    units), 1 elsewhere, smooth between (made once per model)."""
    def make() -> np.ndarray:
        mean = np.asarray(model.mean, np.float64)
        lm = mean[np.asarray(model.landmarks)]
        iod = float(np.linalg.norm(lm[OUTER_EYE_CORNERS[0]] - lm[OUTER_EYE_CORNERS[1]]))
        prior = np.ones(len(mean))
        for points, (lo, hi) in ((lm[MOUTH], KEEP_CLEAR["mouth"]), (lm[EYES.ravel()], KEEP_CLEAR["eyes"])):
            near = np.min(np.linalg.norm(mean[:, None] - points[None], axis=2), axis=1) / iod  # (V,)
            prior *= _smoothstep(near, lo, hi)
        out = prior.astype(np.float32)
        out.flags.writeable = False
        return out

    return model.memo(("keep_prior",), make)


class PlateKeep:
    """Face mode (dubbing): the plate's own pixels carried to the driven expression, and where to keep them.

    The driven frame has the plate's identity and pose, only another expression. Where that expression barely
    moves the face surface (forehead, nose, cheeks away from the mouth) the plate's own pixels, warped through
    the 3DMM by that small motion, are the right answer: the plate's own texture, grain, lighting and
    frame-to-frame behaviour, at its full resolution. The weight is 1 where a surface point moves less than
    ``motion[0]`` of the crop side between the plate's and the driven expression, 0 beyond ``motion[1]``
    (smoothstep between), and 0 where the point is not face skin (eyeballs and the mouth's interior: gaze and
    teeth come from the source) or lies on or around the lips and lids
    (:func:`keep_prior`: the fitted motion there is too coarse to trust the plate's own mouth shapes and blinks).

    Args:
        driven: (T frames) the driven track; ``own``: the plate's track over the same frames.
        box: (4,) the crop box; ``size``: the side of the crops it is applied to.
    """

    def __init__(self, model: MorphableModel, driven: Track, own: Track, box: np.ndarray, size: int,
                 motion: tuple[float, float] = KEEP_MOTION) -> None:
        if len(driven) != len(own):
            raise ValueError(f"driven ({len(driven)}) and own ({len(own)}) frames must agree")
        self.mesh, self.size = render_mesh(model, KEEP_REGIONS), (int(size), int(size))
        self.driven = project_track(model, driven, box, self.size, self.mesh.vertices)  # (T, K, 3)
        self.own = project_track(model, own, box, self.size, self.mesh.vertices)
        move = np.linalg.norm(self.driven[..., :2] - self.own[..., :2], axis=-1) / size  # (T, K), of the side
        self.vertex_weight = ((1 - _smoothstep(move, *motion)) * keep_prior(model)[self.mesh.vertices]
                              ).astype(np.float32)[..., None]  # (T, K, 1)

    def __call__(self, i: int, plate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Frame i from ``plate``, (S, S, C) float32 the crop of its plate frame (any colour space: sampled as is).

        Returns:
            (S, S, C) float32 the plate warped to the driven expression (0 where the weight is 0) and (S, S) float32
            the weight in [0, 1].
        """
        if plate.shape[:2] != self.size[::-1]:
            raise ValueError(f"plate crop must be {self.size[0]}x{self.size[1]}; got {plate.shape[1]}x{plate.shape[0]}")
        out = np.zeros(plate.shape, np.float32)
        weight = np.zeros(plate.shape[:2], np.float32)
        used = self.vertex_weight[i, :, 0] > 0
        if not used.any():
            return out, weight
        lo = np.clip(np.floor(self.driven[i, used, :2].min(0)).astype(int) - 4, 0, self.size[0])  # the kept window
        hi = np.clip(np.ceil(self.driven[i, used, :2].max(0)).astype(int) + 5, 0, self.size[0])
        if (hi <= lo).any():
            return out, weight
        win = np.s_[lo[1]:hi[1], lo[0]:hi[0]]
        attr = np.concatenate([self.own[i, :, :2], self.vertex_weight[i]], axis=1)[None]  # (1, K, 3)
        shift = np.array([lo[0], lo[1], 0], np.float32)  # whole pixels: the window's raster is the full one's
        image, tri_id = render(self.driven[i:i + 1] - shift, self.mesh.triangles, attr, (int(hi[0] - lo[0]),
                                                                                         int(hi[1] - lo[1])))
        x, y = image[0, ..., 0] - 0.5, image[0, ..., 1] - 0.5  # where each pixel lies in the plate frame
        # no depth test against the plate frame: where anything is kept the pose is the same and the surface has
        # moved by a pixel or two, so what the driven frame sees there the plate frame saw too
        ok = (tri_id[0] >= 0).astype(np.float32)
        ok = np.minimum(ok, cv2.GaussianBlur(cv2.erode(ok, np.ones((3, 3), np.uint8)), (0, 0), 1.0))  # soft inside
        weight[win] = ok * image[0, ..., 2]
        out[win] = cv2.remap(np.asarray(plate, np.float32), x, y, cv2.INTER_CUBIC,
                             borderMode=cv2.BORDER_REPLICATE).reshape(out[win].shape)
        return out, weight


def face_matte(model: MorphableModel, driven: Track, own: Track | None, box: np.ndarray, size: tuple[int, int],
               dilate: float = 0.025, feather: float = 0.02) -> np.ndarray:
    """Face-mode composite matte per frame: the driven face united with the plate's own (``own``, the same
    frames of the plate's track; None: the driven face alone), dilated by ``dilate`` and feathered by
    ``feather`` (fractions of the crop width), exactly 0 beyond the feathered edge.

    Returns:
        (T, H, W) float32 in [0, 1].
    """
    w, h = size
    mesh = render_mesh(model, MATTE_REGIONS)
    covered = rasterize(project_track(model, driven, box, size, mesh.vertices), mesh.triangles, size).tri_id >= 0
    if own is not None:
        covered |= rasterize(project_track(model, own, box, size, mesh.vertices), mesh.triangles, size).tri_id >= 0
    r = max(1, int(round(dilate * w)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    sigma = max(0.5, feather * w / 2)
    out = np.empty((len(covered), h, w), np.float32)
    for t, m in enumerate(covered):
        grown = cv2.dilate(m.astype(np.uint8), kernel).astype(np.float32)
        soft = cv2.GaussianBlur(grown, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_CONSTANT)
        out[t] = np.where(soft < 1.0 / 255, 0.0, np.clip(2 * soft, 0, 1))  # 1 up to the dilated silhouette
    return out
