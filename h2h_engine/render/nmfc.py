"""NMFC images (paper eq. 3): each visible pixel shows the normalised mean-face coordinates of the surface
point it sees, rendered from a track's 3DMM fit.

Regions (``REGION_CHOICES``): ``face_narrow`` (the facial area from forehead to chin and cheek to cheek: the
paper's face-only NMFC and the default), ``face`` (ICT's whole face region: that plus ears, jaw underside and
throat), ``head`` (back of the head and neck), ``mouth`` (socket, gums, tongue, teeth), ``eyeballs``,
``eye_sockets``. Why the narrow face by default: the 68 landmarks constrain only the facial area; the fitted
ears, throat and skull follow the head's rigid pose, not the real neck, hair and ears, so drawing them would
condition the generator on geometry that disagrees with the frames; the eyes come from the eye image and the
mouth interior is left to the generator and its mouth discriminator, as in the paper.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..geometry import project
from ..morphable.model import MorphableModel
from ..track import Track
from .crop import box_scale, to_output

REGION_CHOICES = ("face_narrow", "face", "head", "mouth", "eyeballs", "eye_sockets")
DEFAULT_REGIONS = ("face_narrow",)


@dataclass(frozen=True)
class RenderMesh:
    """The part of the model that is drawn, compacted to the vertices it uses.

    Attributes:
        vertices: (K,) int32 model vertex ids.
        triangles: (F, 3) int32 indices into ``vertices``.
        colours: (K, 3) float32 NMFC colour of each vertex, in [0, 1].
    """

    vertices: np.ndarray
    triangles: np.ndarray
    colours: np.ndarray


def render_mesh(model: MorphableModel, regions: Sequence[str] = DEFAULT_REGIONS) -> RenderMesh:
    """The triangles of the named regions (see REGION_CHOICES), with their NMFC colours (made once per model and
    regions; the arrays are read-only)."""
    regions = [regions] if isinstance(regions, str) else list(regions)
    bad = [r for r in regions if r not in REGION_CHOICES]
    if bad or not regions:
        raise ValueError(f"regions must be a non-empty subset of {REGION_CHOICES}; got {regions}")

    def make() -> RenderMesh:
        tri = model.region_triangles(regions)
        used = np.unique(tri).astype(np.int32)
        remap = np.full(model.n_vertices, -1, np.int32)
        remap[used] = np.arange(len(used), dtype=np.int32)
        mesh = RenderMesh(used, remap[tri], np.ascontiguousarray(model.nmfc[used], np.float32))
        for a in (mesh.vertices, mesh.triangles, mesh.colours):
            a.flags.writeable = False
        return mesh

    return model.memo(("render_mesh", tuple(regions)), make)


def project_track(model: MorphableModel, track: Track, box: np.ndarray, size: tuple[int, int],
                  vertices: np.ndarray | None = None, impl: str = "native") -> np.ndarray:
    """Model vertices of every frame in output-raster pixels.

    Args:
        box: (4,) crop box in source pixels, mapped onto the output raster ``size`` = (W, H) (crop.to_output).
        vertices: (K,) vertex subset (None = all).
        impl: "native": shapes, SOP projection and the box map in one C++ pass over blocks of frames (model
            space is never stored); "ref": ``model.shape``, ``geometry.project`` and ``crop.to_output`` in
            numpy. Both give the same bits.
    Returns:
        (T, K, 3) float32 pixel x, pixel y, depth (larger = nearer).
    """
    box = np.asarray(box, np.float32)
    if impl == "ref":
        shapes = model.shape(track.identity, track.expression, vertices=vertices)  # (T, K, 3)
        return to_output(project(shapes, track.rotation, track.translation, track.scale), box, size)
    if impl != "native":
        raise ValueError(f"impl must be 'native' or 'ref'; got {impl!r}")
    from .. import _native  # noqa: PLC0415 - the extension is only needed for impl="native"

    _, _, exp_basis = (model.mean, model.id_basis, model.exp_basis) if vertices is None else model.subset(vertices)
    base = model.shape(track.identity, vertices=vertices)  # (K, 3) the shot's neutral shape
    sx, sy = box_scale(box, size)
    f32 = np.float32
    return _native.blendshape(base, exp_basis, np.asarray(track.expression, f32).reshape(len(track), model.n_exp),
                              rotation=np.asarray(track.rotation, f32), translation=np.asarray(track.translation, f32),
                              scale=np.asarray(track.scale, f32),
                              box=np.array([box[0], box[1], sx, sy], f32))
