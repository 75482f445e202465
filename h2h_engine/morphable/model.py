"""The project's morphable-model file (``.h2hmm.npz``) and the in-memory :class:`MorphableModel`.

A model is a linear 3DMM: ``S(id, exp) = mean + id @ id_basis + exp @ exp_basis`` over ``V`` vertices.
The file is an uncompressed ``.npz`` (loads in well under a second) holding the arrays listed on
:class:`MorphableModel` plus ``header``, a UTF-8 JSON object with ``schema`` = ``"H2HModel.1"``.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import InputError, ModelMismatchError
from ..io.npz import load_npz, save_npz

SCHEMA = "H2HModel.1"
_ARRAYS = ("mean", "id_basis", "exp_basis", "triangles", "region", "landmarks", "contour_right", "contour_left",
           "nmfc")

# The ICT importer's disjoint per-vertex region labels (index = label value in ``MorphableModel.region``); a model
# of another 3DMM names its own in ``MorphableModel.regions`` (the file header's ``regions``).
REGIONS = (
    "face_narrow", "face_outer", "head_neck", "mouth_socket", "eye_socket_left", "eye_socket_right",
    "gums_tongue", "teeth", "sclera_left", "iris_left", "sclera_right", "iris_right",
    "lacrimal_fluid", "eye_blend", "eye_occlusion", "eyelashes",
)
# Names accepted wherever a set of regions is asked for (render knobs, fitting masks); a group stands for the
# members a model has.
REGION_GROUPS = {
    "face": ("face_narrow", "face_outer"),
    "head": ("head_neck",),
    "mouth": ("mouth_socket", "gums_tongue", "teeth"),
    "eyeballs": ("sclera_left", "iris_left", "sclera_right", "iris_right"),
    "iris": ("iris_left", "iris_right"),
    "eye_sockets": ("eye_socket_left", "eye_socket_right"),
}


def _read_only(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


@dataclass
class MorphableModel:
    """A linear 3D morphable model with the annotations head2head needs.

    Attributes:
        name: model name recorded in track files (e.g. ``"ict-facekit-light"``).
        mean: (V, 3) float32 neutral mean shape, model units (ICT: cm), +y up, +z towards the viewer.
        id_basis: (n_id, V, 3) float32 identity modes, scaled so coefficients have unit prior variance.
        exp_basis: (n_exp, V, 3) float32 expression blendshape deltas (coefficient 1 = full shape).
        expressions: n_exp expression names.
        triangles: (F, 3) int32 vertex indices, counter-clockwise seen from outside.
        region: (V,) uint8 label into ``regions``.
        landmarks: (68,) int32 vertex of each Multi-PIE landmark.
        contour_right: (K,) int32 jawline candidates for landmarks 0-7 (ordered chin-wards).
        contour_left: (K,) int32 jawline candidates for landmarks 9-16.
        nmfc: (V, 3) float32 normalised mean-face coordinates in [0, 1] (the NMFC colour of each vertex).
        id_bounds, exp_bounds: (lo, hi) box constraints on the coefficients.
        regions: name of each region label (``region[v] == k``: vertex v is in ``regions[k]``); ICT's
            :data:`REGIONS` by default.
    """

    name: str
    mean: np.ndarray
    id_basis: np.ndarray
    exp_basis: np.ndarray
    expressions: list[str]
    triangles: np.ndarray
    region: np.ndarray
    landmarks: np.ndarray
    contour_right: np.ndarray
    contour_left: np.ndarray
    nmfc: np.ndarray
    id_bounds: tuple[float, float] = (-3.0, 3.0)
    exp_bounds: tuple[float, float] = (0.0, 1.0)
    regions: tuple[str, ...] = REGIONS
    source: str = ""
    digest: str = field(default="")

    def __post_init__(self) -> None:
        if not self.digest:
            self.digest = self._compute_digest()
        # Arrays derived from the model and kept with it (see memo): not a field, not part of the model's value.
        self._memo: dict = {}

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_memo"] = {}  # a cache: rebuilt on demand, never pickled
        return state

    _MEMO_SIZE = 16  # derived results kept (vertex subsets of the bases, render meshes, ...), least recent dropped

    def memo(self, key: tuple, make: Callable[[], Any]) -> Any:
        """``make()``, computed once per ``key`` for this model and kept (for the last few keys). What it returns
        is shared between callers: numpy arrays in it should be made read-only."""
        hit = self._memo.pop(key, None)
        if hit is None:
            hit = make()
            while len(self._memo) >= self._MEMO_SIZE:
                self._memo.pop(next(iter(self._memo)))
        self._memo[key] = hit  # most recently used last
        return hit

    # -- sizes -------------------------------------------------------------------------------------------
    @property
    def n_vertices(self) -> int:
        return int(self.mean.shape[0])

    @property
    def n_id(self) -> int:
        return int(self.id_basis.shape[0])

    @property
    def n_exp(self) -> int:
        return int(self.exp_basis.shape[0])

    def expression_index(self, name: str) -> int:
        """Index of a named expression (e.g. ``"jawOpen"``)."""
        try:
            return self.expressions.index(name)
        except ValueError:
            raise KeyError(f"model {self.name} has no expression {name!r}") from None

    # -- geometry ----------------------------------------------------------------------------------------
    def shape(self, identity: np.ndarray, expression: np.ndarray | None = None,
              vertices: np.ndarray | None = None) -> np.ndarray:
        """Vertices for coefficients.

        Args:
            identity: (n_id,) identity coefficients.
            expression: (n_exp,) or (T, n_exp) expression coefficients, or None for neutral.
            vertices: optional (K,) vertex subset (indices or a (V,) bool mask).
        Returns:
            (K, 3) or (T, K, 3) float32 vertices.
        """
        from .. import _native  # noqa: PLC0415 - the kernel module is built with the package

        # Native blendshapes (csrc/common/blendshape.h): every vertex value summed in one fixed order, so a
        # frame's vertices depend on its coefficients only (a batched GEMM's blocking depends on how many frames
        # share the call: farm chunks would differ from the whole shot in the last bits). A vertex subset's
        # rows of the bases are gathered once per model (contiguous rows vectorise; the sums are the same).
        mean, id_basis, exp_basis = (self.mean, self.id_basis, self.exp_basis) if vertices is None \
            else self.subset(vertices)
        base = _native.blendshape(np.ascontiguousarray(mean, np.float32), id_basis,
                                  np.asarray(identity, np.float32).reshape(1, self.n_id))[0]  # (K, 3)
        if expression is None:
            return base
        exp = np.asarray(expression, np.float32)
        out = _native.blendshape(base, exp_basis, exp.reshape(-1, self.n_exp))
        return out[0] if exp.ndim == 1 else out

    def subset(self, vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(K, 3) mean, (n_id, K, 3) and (n_exp, K, 3) bases of a vertex subset ((K,) indices or a (V,) bool
        mask), gathered on first use and kept for the last few subsets."""
        vertices = np.asarray(vertices)
        idx = (np.flatnonzero(vertices) if vertices.dtype == bool else vertices).astype(np.int32, copy=False)
        if idx.ndim != 1 or (len(idx) and (idx.min() < 0 or idx.max() >= self.n_vertices)):
            raise ValueError(f"vertices must be (K,) indices in [0, {self.n_vertices}) or a ({self.n_vertices},) "
                             f"bool mask; got shape {vertices.shape}")
        return self.memo(("subset_bases", idx.tobytes()), lambda: tuple(
            _read_only(np.ascontiguousarray(a[..., idx, :], np.float32)) for a in (self.mean, self.id_basis,
                                                                                   self.exp_basis)))

    def region_mask(self, names: str | list[str] | tuple[str, ...]) -> np.ndarray:
        """(V,) bool mask of the vertices in the named regions (of ``self.regions``) or region groups (see
        REGION_GROUPS: the members this model has); ValueError for a name that selects none of them."""
        if isinstance(names, str):
            names = [n for n in names.split(",") if n]
        labels: set[int] = set()
        for n in names:
            found = [self.regions.index(r) for r in REGION_GROUPS.get(n, (n,)) if r in self.regions]
            if not found:
                raise ValueError(f"model {self.name} has no region {n!r}; its regions: {', '.join(self.regions)} "
                                 f"(groups: {', '.join(REGION_GROUPS)})")
            labels.update(found)
        return np.isin(self.region, sorted(labels))

    def region_triangles(self, names: str | list[str] | tuple[str, ...]) -> np.ndarray:
        """(F', 3) the triangles whose three vertices all lie in the named regions."""
        mask = self.region_mask(names)
        return self.triangles[mask[self.triangles].all(axis=1)]

    # -- identity of the model itself ------------------------------------------------------------------------
    def _compute_digest(self) -> str:
        h = hashlib.sha256()
        for a in (self.mean, self.id_basis[:, :50], self.exp_basis[:, :50], self.triangles, self.landmarks):
            h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()[:16]

    def _checksum(self) -> str:
        """SHA-256 of every array (integrity, unlike the digest, which names the model cheaply)."""
        h = hashlib.sha256()
        for n in _ARRAYS:
            h.update(np.ascontiguousarray(getattr(self, n)).tobytes())
        return h.hexdigest()

    def check_compatible(self, name: str, digest: str, what: str) -> None:
        """Raise ModelMismatchError if a file made with model (name, digest) is used with this model."""
        if digest != self.digest:
            raise ModelMismatchError(f"{what} was made with model {name} ({digest}); this is {self.name} "
                                     f"({self.digest}): re-track with the same model file")

    # -- file I/O ------------------------------------------------------------------------------------------
    def save(self, path: str | Path, compress: bool = False) -> None:
        """Write the model file atomically (an uncompressed npz unless ``compress``)."""
        header = {
            "schema": SCHEMA, "name": self.name, "expressions": list(self.expressions), "regions": list(self.regions),
            "id_bounds": list(self.id_bounds), "exp_bounds": list(self.exp_bounds), "source": self.source,
            "digest": self.digest, "sha256": self._checksum(),
        }
        save_npz(path, header, {n: getattr(self, n) for n in _ARRAYS}, compress=compress)

    @classmethod
    def load(cls, path: str | Path) -> "MorphableModel":
        """Read a model file written by :meth:`save`; InputError when its arrays do not match its header."""
        header, arrays = load_npz(path, _ARRAYS, SCHEMA, "model file",
                                  missing_hint=" (import one with `h2h model import-ict`)")
        regions = tuple(header.get("regions", REGIONS))
        if len(arrays["region"]) and int(arrays["region"].max()) >= len(regions):
            raise InputError(f"model file {path}: region labels go up to {int(arrays['region'].max())} but its header "
                             f"names {len(regions)} regions")
        model = cls(name=header["name"], expressions=header["expressions"], id_bounds=tuple(header["id_bounds"]),
                    exp_bounds=tuple(header["exp_bounds"]), regions=regions, source=header.get("source", ""),
                    digest=header["digest"], **arrays)
        # The header's digest and checksum are claims: recompute them (files before the checksum lack it).
        stored = header.get("sha256")
        if model._compute_digest() != model.digest or (stored is not None and stored != model._checksum()):
            raise InputError(f"model file {path} was modified: its arrays do not match the digest and checksum "
                             "in its header (re-import the model)")
        return model
