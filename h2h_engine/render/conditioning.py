"""Everything the generator is conditioned on, per frame: NMFC, eye image, face mask, mouth box, facial flow."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np

from ..errors import ConfigError, InputError
from ..geometry import MOUTH
from ..morphable.model import MorphableModel
from ..track import Track
from .crop import crop_box_for_track, crop_frames, to_output
from .eyes import render_eyes
from .flow import merge_flow, model_flow, optical_flow
from .mask import face_mask, mouth_boxes
from .nmfc import DEFAULT_REGIONS, project_track, render_mesh
from .raster import interpolate, rasterize, render

PRODUCTS = ("nmfc", "eyes", "mask", "flow")


@dataclass
class Conditioning:
    """Conditioning images of T frames at output size (W, H).

    Attributes:
        frames: (T,) frame numbers.
        nmfc: (T, H, W, 3) float32 in [0, 1]; 0 outside the face.
        eyes: (T, H, W, 3) float32 in [0, 1]; filled eye polygons + pupils.
        mask: (T, H, W) bool, rendered face.
        mouth_box: (T, 4) int32 x0, y0, x1, y1 in output pixels.
        flow: (T, H, W, 2) float32, flow[t] maps frame t to t+1 (last frame: zeros), or None.
        crop_box: (4,) source-pixel box, None = full frame.
        tri_id: (T, H, W) int32 triangle of the render mesh seen at each pixel (-1: none), or None.
    """

    frames: np.ndarray
    nmfc: np.ndarray
    eyes: np.ndarray
    mask: np.ndarray
    mouth_box: np.ndarray
    flow: np.ndarray | None
    crop_box: np.ndarray | None
    tri_id: np.ndarray | None = None

    def head(self, n: int) -> "Conditioning":
        """The first ``n`` frames."""
        return replace(self, frames=self.frames[:n], nmfc=self.nmfc[:n], eyes=self.eyes[:n], mask=self.mask[:n],
                       mouth_box=self.mouth_box[:n], flow=None if self.flow is None else self.flow[:n],
                       tri_id=None if self.tri_id is None else self.tri_id[:n])


def resolve_box(model: MorphableModel, track: Track, size: tuple[int, int],
                crop: str | np.ndarray) -> np.ndarray | None:
    """The crop box for ``crop`` = "auto" | "none" | an explicit (4,) box (None = the full frame)."""
    if isinstance(crop, str):
        if crop == "none":
            return None
        if crop == "auto":
            return crop_box_for_track(model, track, aspect=size[0] / size[1])
        raise ConfigError(f"crop must be 'auto', 'none' or a box (x0, y0, x1, y1); got {crop!r}")
    box = np.asarray(crop, np.float32).reshape(-1)
    if box.shape != (4,) or not (box[2] > box[0] and box[3] > box[1]):
        raise ConfigError(f"crop box must be (x0, y0, x1, y1) with x0 < x1, y0 < y1; got {list(box)}")
    return box


def render_conditioning(model: MorphableModel, track: Track, size: tuple[int, int],
                        crop: str | np.ndarray = "auto",
                        what: Sequence[str] = ("nmfc", "eyes", "mask"),
                        frames_rgb: np.ndarray | None = None,
                        impl: str = "native",
                        regions: Sequence[str] = DEFAULT_REGIONS,
                        out: Conditioning | None = None) -> Conditioning:
    """Render a track's conditioning images.

    Args:
        model: the morphable model the track was fitted with.
        track: T frames (a whole shot or a slice of one).
        size: (W, H) output size.
        crop: "auto" (a stable face box for the track), "none" (the full frame) or an explicit (4,) box.
        what: products wanted ("nmfc", "eyes", "mask", "flow"); NMFC and mask are always rendered, eyes not
            asked for are zeros and flow not asked for is None.
        frames_rgb: (T, H0, W0, 3) uint8 source frames, used only for the flow outside the face (0 without).
        impl: "native" (C++ kernels) | "ref" (the numpy references: shapes, projection, rasterizer, eye image).
        regions: model regions drawn into the NMFC and mask (see nmfc.REGION_CHOICES).
        out: a previous result of the same frame count and size whose NMFC, eye, mask and triangle-id arrays
            are overwritten instead of allocating new ones (a loop over chunks saves allocating them and the
            kernels' first touch of fresh pages); the flow is always new.
    """
    w, h = (int(s) for s in size)
    if w <= 0 or h <= 0:
        raise ConfigError(f"output size must be positive; got {w}x{h}")
    if len(track) == 0:
        raise InputError("the track has no frames")
    model.check_compatible(track.model_name, track.model_digest, "track")
    bad = [p for p in what if p not in PRODUCTS]
    if bad:
        raise ConfigError(f"unknown product(s) {bad}; choose from {', '.join(PRODUCTS)}")
    if frames_rgb is not None and len(frames_rgb) != len(track):
        raise InputError(f"frames_rgb has {len(frames_rgb)} frames, the track {len(track)}")
    n = len(track)
    if out is not None and (out.nmfc.shape != (n, h, w, 3) or out.tri_id is None):
        raise ValueError(f"out must be a result of {n} frames at {w}x{h}; got NMFC {out.nmfc.shape}")
    box = resolve_box(model, track, (w, h), crop)
    geom_box = box if box is not None else np.array([0, 0, *track.image_size], np.float32)
    mesh = render_mesh(model, regions)
    proj = project_track(model, track, geom_box, (w, h), mesh.vertices, impl=impl)  # (T, K, 3)
    want_flow = "flow" in what
    if want_flow:
        r = rasterize(proj, mesh.triangles, (w, h), impl=impl)
        tri_id = r.tri_id
        nmfc = interpolate(mesh.colours, mesh.triangles, r.tri_id, r.bary, impl=impl)
        face = model_flow(proj, mesh.triangles, r.tri_id, r.bary, impl=impl)
        other = optical_flow(crop_frames(frames_rgb, geom_box, (w, h))) if frames_rgb is not None else None
        flow = merge_flow(face, other, face_mask(tri_id))
        if out is not None:
            out.nmfc[...], out.tri_id[...] = nmfc, tri_id
            nmfc, tri_id = out.nmfc, out.tri_id
    else:
        nmfc, tri_id = render(proj, mesh.triangles, mesh.colours, (w, h), impl=impl,
                              out=None if out is None else (out.nmfc, out.tri_id))
        flow = None
    if "eyes" in what:
        eyes, _ = render_eyes(to_output(track.landmarks, geom_box, (w, h)), to_output(track.pupils, geom_box, (w, h)),
                              (w, h), impl=impl, image=None if out is None else out.eyes)
    elif out is not None:
        eyes = out.eyes
        eyes[...] = 0
    else:
        eyes = np.zeros((n, h, w, 3), np.float32)
    mask = face_mask(tri_id) if out is None else np.greater_equal(tri_id, 0, out=out.mask)
    mouth = project_track(model, track, geom_box, (w, h), model.landmarks[MOUTH], impl=impl)[..., :2]
    return Conditioning(frames=np.asarray(track.frames), nmfc=nmfc, eyes=eyes, mask=mask,
                        mouth_box=mouth_boxes(mouth, (w, h)), flow=flow, crop_box=box, tri_id=tri_id)


def last_rendered_row(n_rows: int, end: int, what: Sequence[str]) -> int:
    """The last track row :func:`render_rows` renders for rows ``..end - 1`` of a track of ``n_rows``: ``end``
    itself when flow is asked for and the track has that row (the frame the flow of row ``end - 1`` maps
    to), else ``end - 1``."""
    return min(end, n_rows - 1) if "flow" in what else end - 1


def render_rows(model: MorphableModel, track: Track, a: int, b: int, size: tuple[int, int],
                crop: str | np.ndarray = "auto", what: Sequence[str] = ("nmfc", "eyes", "mask"),
                frames_rgb: Callable[[np.ndarray], np.ndarray] | None = None, impl: str = "native",
                regions: Sequence[str] = DEFAULT_REGIONS, out: Conditioning | None = None) -> Conditioning:
    """The conditioning of rows ``a..b-1`` of ``track`` (``b - a`` frames) as part of the whole shot, the one
    way chunks of a shot are rendered: the flow of a frame maps it to the shot's next frame, so with
    ``flow`` the row past the chunk is rendered too (when there is one) and dropped; chunked renders then
    equal a render of the whole track. ``crop``: the shot's box (or "none"), not one made from the chunk.
    ``frames_rgb(frame numbers)`` -> (N, H0, W0, 3) uint8: the source frames of the rendered rows, for the
    flow outside the face (zero without). ``out``: the previous chunk's result at the same size, whose NMFC,
    eye, mask and triangle-id buffers this chunk overwrites (as :func:`render_conditioning`'s ``out``) when
    they have room for the rows rendered here, else new arrays; the previous result is not to be read afterwards."""
    if not 0 <= a < b <= len(track):
        raise ValueError(f"rows {a}..{b - 1} are not rows of a track of {len(track)} frames")
    part = track.slice(int(track.frames[a]), int(track.frames[last_rendered_row(len(track), b, what)]))
    rgb = frames_rgb(part.frames) if frames_rgb is not None else None
    return render_conditioning(model, part, size, crop=crop, what=what, frames_rgb=rgb, impl=impl, regions=regions,
                               out=None if out is None else _buffers(out, len(part))).head(b - a)


def _buffers(prev: Conditioning, n: int) -> Conditioning | None:
    """``prev``'s NMFC, eye, mask and triangle-id buffers cut to ``n`` frames, None where one is shorter. A
    :func:`render_rows` result holds the first rows of what it rendered (one row more with flow), so each
    array's buffer is its base when the array is the base's first rows."""
    arrays: dict[str, np.ndarray] = {}  # name -> (n, H, W[, 3]) first rows of its buffer
    for name in ("nmfc", "eyes", "mask", "tri_id"):
        x = getattr(prev, name)
        if x is None:
            return None
        base = x.base
        buf = (base if isinstance(base, np.ndarray) and base.dtype == x.dtype and base.shape[1:] == x.shape[1:]
               and base.flags.c_contiguous and base.flags.writeable and x.flags.c_contiguous
               and base.ctypes.data == x.ctypes.data else x)
        if len(buf) < n:
            return None
        arrays[name] = buf[:n]
    return replace(prev, **arrays)
