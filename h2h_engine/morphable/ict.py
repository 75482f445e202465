"""Importer for the ICT Face Model Light (ICT-FaceKit ``FaceXModel/``, MIT licence), as published upstream.

Reads either the ``FaceXModel/`` folder or the packed ``FaceXModel.tar.xz`` and builds a
:class:`~h2h_engine.morphable.model.MorphableModel`. Only the ``v`` lines of the morph targets are parsed
(topology comes from the neutral mesh), so a full import takes seconds.
"""
from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from ..errors import InputError
from .model import REGIONS, MorphableModel

MODEL_NAME = "ict-facekit-light"
N_VERTICES = 26719
N_IDENTITY = 100

# Inclusive 0-based vertex ranges of the upstream README, in label order of REGIONS.
_REGION_RANGES = {
    "face_narrow": (0, 6705), "face_outer": (6706, 9408), "head_neck": (9409, 11247),
    "mouth_socket": (11248, 13293), "eye_socket_left": (13294, 13677), "eye_socket_right": (13678, 14061),
    "gums_tongue": (14062, 17038), "teeth": (17039, 21450),
    "sclera_left": (21451, 22220), "iris_left": (22221, 23020),
    "sclera_right": (23021, 23790), "iris_right": (23791, 24590),
    "lacrimal_fluid": (24591, 24998), "eye_blend": (24999, 25046), "eye_occlusion": (25047, 25350),
    "eyelashes": (25351, 26718),
}
# Extended jawline candidates (upstream README), ordered from the ear towards the chin.
CONTOUR_RIGHT = (1280, 1278, 1275, 1272, 1248, 12, 820, 1834, 1902, 243, 844, 781, 1673, 2199, 801, 1447, 800)
CONTOUR_LEFT = (3041, 3661, 3042, 4390, 3880, 3022, 3085, 2484, 4102, 4036, 3061, 2253, 3466, 3490, 3493, 3496,
                3498)


def _parse_vertices(text: bytes) -> np.ndarray:
    """(V, 3) float32 from the ``v x y z`` lines of an OBJ."""
    lines = [ln[2:] for ln in text.split(b"\n") if ln.startswith(b"v ")]
    return np.array(b" ".join(lines).split(), dtype=np.float32).reshape(-1, 3)


def _parse_triangles(text: bytes) -> np.ndarray:
    """(F, 3) int32 triangles from the ``f`` lines of an OBJ, polygons fan-split, 0-based."""
    tris: list[tuple[int, int, int]] = []
    for ln in text.split(b"\n"):
        if not ln.startswith(b"f "):
            continue
        idx = [int(tok.split(b"/")[0]) - 1 for tok in ln.split()[1:]]
        tris.extend((idx[0], idx[k], idx[k + 1]) for k in range(1, len(idx) - 1))
    return np.asarray(tris, dtype=np.int32)


def _members(src: Path) -> Iterator[tuple[str, Callable[[], bytes]]]:
    """(file name, reader) for every file of the model, from a folder or a tar.xz, in storage order."""
    if src.is_dir():
        folder = src / "FaceXModel" if (src / "FaceXModel").is_dir() else src
        for p in sorted(folder.iterdir()):
            yield p.name, p.read_bytes
        return
    try:
        with tarfile.open(src, "r:*") as tar:
            for m in tar:
                if m.isfile():
                    f = tar.extractfile(m)
                    yield Path(m.name).name, (lambda f=f: f.read())
    except (tarfile.TarError, OSError, EOFError) as e:
        raise InputError(f"cannot read ICT archive {src}: {e}") from None


def import_ict(src: str | Path, progress: Callable[[int, int], None] | None = None) -> MorphableModel:
    """Build a MorphableModel from the ICT Face Model Light (folder or ``FaceXModel.tar.xz``)."""
    src = Path(src)
    if not src.exists():
        raise InputError(f"ICT model source {src} does not exist (a FaceXModel/ folder or FaceXModel.tar.xz)")
    raw: dict[str, bytes] = {}
    for name, read in _members(src):
        if name.endswith(".obj") or name == "vertex_indices.json":
            raw[name] = read()
            if progress:
                progress(len(raw), 156)
    if "generic_neutral_mesh.obj" not in raw or "vertex_indices.json" not in raw:
        raise InputError(f"{src} is not the ICT FaceXModel (no generic_neutral_mesh.obj / vertex_indices.json)")
    meta = json.loads(raw["vertex_indices.json"])
    neutral_text = raw["generic_neutral_mesh.obj"]
    mean = _parse_vertices(neutral_text)
    if mean.shape != (N_VERTICES, 3):
        raise InputError(f"{src}: neutral mesh has {mean.shape[0]} vertices, expected {N_VERTICES}")
    triangles = _parse_triangles(neutral_text)

    def deltas(names: list[str]) -> np.ndarray:
        out = np.empty((len(names), N_VERTICES, 3), np.float32)
        for i, n in enumerate(names):
            if f"{n}.obj" not in raw:
                raise InputError(f"{src} lacks morph target {n}.obj")
            v = _parse_vertices(raw[f"{n}.obj"])
            if v.shape != mean.shape:
                raise InputError(f"{src}: {n}.obj has {v.shape[0]} vertices, expected {N_VERTICES}")
            out[i] = v - mean
        return out

    expressions = list(meta["expressions"])
    id_basis = deltas([f"identity{i:03d}" for i in range(N_IDENTITY)])
    exp_basis = deltas(expressions)

    region = np.zeros(N_VERTICES, np.uint8)
    for label, name in enumerate(REGIONS):
        lo, hi = _REGION_RANGES[name]
        region[lo:hi + 1] = label

    lo, hi = mean.min(axis=0), mean.max(axis=0)
    nmfc = ((mean - lo) / (hi - lo)).astype(np.float32)
    return MorphableModel(
        name=MODEL_NAME, mean=mean, id_basis=id_basis, exp_basis=exp_basis, expressions=expressions,
        triangles=triangles, region=region, landmarks=np.asarray(meta["idx_to_landmark_verts"], np.int32),
        contour_right=np.asarray(CONTOUR_RIGHT, np.int32), contour_left=np.asarray(CONTOUR_LEFT, np.int32),
        nmfc=nmfc, id_bounds=(-3.0, 3.0), exp_bounds=(0.0, 1.0), source=f"ICT-FaceKit FaceXModel ({src.name})",
    )
