"""The track file (``.h2h.npz``): per-shot landmarks, pupils and the fitted 3DMM parameters.

Layout: an uncompressed ``.npz`` with one array per field below, plus ``header``: UTF-8 JSON with
``schema`` = ``"H2HTrack.1"``, the model's name and digest, image size, fps, the source it was made from and
(for retargeted tracks) how it was retargeted. Frames are numbered as in the source (movies from 0).

Camera convention (scaled orthographic, see :func:`h2h_engine.geometry.project`): a model point ``X``
lands at pixel ``u = s * (R X)_x + t_x``, ``v = t_y - s * (R X)_y`` (image y grows downwards) with depth
``s * (R X)_z`` (larger is nearer the camera).
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from pathlib import Path
from copy import deepcopy
from typing import Any, Iterator

import numpy as np

from .errors import FrameRangeError, InputError
from .io.frames import MAX_SIDE
from .io.npz import load_npz, save_npz

SCHEMA = "H2HTrack.1"

# Bits of ``Track.flags``.
FLAG_NO_FACE = 1        # no face was detected; landmarks/pupils interpolated from neighbours
FLAG_REDETECTED = 2     # the face box came from a fresh detection rather than the previous frame
FLAG_LOW_CONFIDENCE = 4  # landmarks disagree with the fit or the detector score is low
FLAG_RETARGETED = 8     # parameters came from another shot (Retarget node)

_ARRAYS = ("frames", "landmarks", "pupils", "confidence", "flags", "identity", "expression", "rotation",
           "translation", "scale", "rmse")
MAX_FPS = 1000.0
# Bounds a sane fit stays far inside (coefficients: prior units; positions: image sizes off the frame).
_MAX_COEFFICIENT = 100.0
_MAX_OFF_FRAME = 100


@dataclass
class Track:
    """Per-frame tracking and 3DMM fit of one shot (T frames).

    Attributes:
        frames: (T,) int64 frame numbers.
        landmarks: (T, 68, 2) float32 detected landmarks, pixels.
        pupils: (T, 2, 2) float32 pupil centres (subject's right eye first, as landmarks 36-41), pixels.
        confidence: (T,) float32 detection confidence in [0, 1].
        flags: (T,) uint8 bit set of FLAG_* values.
        identity: (n_id,) float32 identity coefficients shared by the shot.
        expression: (T, n_exp) float32 expression coefficients.
        rotation: (T, 3, 3) float32 rotation matrices.
        translation: (T, 2) float32 2D translation, pixels.
        scale: (T,) float32 pixels per model unit.
        rmse: (T,) float32 landmark reprojection RMSE of the fit, pixels.
        image_size: (width, height) of the source frames.
        fps: frames per second of the source.
        model_name, model_digest: the morphable model the fit used.
        meta: free-form JSON-safe dict (source path, config, retarget provenance, ...).
    """

    frames: np.ndarray
    landmarks: np.ndarray
    pupils: np.ndarray
    confidence: np.ndarray
    flags: np.ndarray
    identity: np.ndarray
    expression: np.ndarray
    rotation: np.ndarray
    translation: np.ndarray
    scale: np.ndarray
    rmse: np.ndarray
    image_size: tuple[int, int]
    fps: float
    model_name: str
    model_digest: str
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.frames = np.asarray(self.frames, np.int64)
        self.flags = np.asarray(self.flags, np.uint8)
        for name in _ARRAYS[1:]:
            if name != "flags":
                setattr(self, name, np.asarray(getattr(self, name), np.float32))
        t = len(self.frames)
        want = {"landmarks": (t, 68, 2), "pupils": (t, 2, 2), "confidence": (t,), "flags": (t,),
                "rotation": (t, 3, 3), "translation": (t, 2), "scale": (t,), "rmse": (t,)}
        for name, shape in want.items():
            got = np.shape(getattr(self, name))
            if got != shape:
                raise ValueError(f"Track.{name} must have shape {shape}; got {got}")
        if np.ndim(self.expression) != 2 or len(self.expression) != t:
            raise ValueError(f"Track.expression must have shape (T={t}, n_exp); got {np.shape(self.expression)}")

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def n_frames(self) -> int:
        return len(self.frames)

    def index_of(self, frame: int) -> int:
        """Row of a frame number."""
        hits = np.nonzero(self.frames == frame)[0]
        if len(hits) == 0:
            raise FrameRangeError(f"frame {frame} is not in the track ({self.frames[0]}-{self.frames[-1]})")
        return int(hits[0])

    def slice(self, first: int, last: int) -> "Track":
        """The frames with numbers in ``[first, last]`` (inclusive), as a new Track."""
        keep = (self.frames >= first) & (self.frames <= last)
        if not keep.any():
            raise FrameRangeError(f"no frames in {first}-{last}; the track has {self.frames[0]}-{self.frames[-1]}")
        per_frame = {n: getattr(self, n)[keep] for n in _ARRAYS if n != "identity"}
        return replace(self, **per_frame, meta=dict(self.meta))

    # -- file I/O ------------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the track atomically."""
        header = {"schema": SCHEMA, "image_size": list(self.image_size), "fps": float(self.fps),
                  "model": {"name": self.model_name, "digest": self.model_digest}, "meta": self.meta}
        save_npz(path, header, {n: np.asarray(getattr(self, n)) for n in _ARRAYS})

    def copy(self) -> "Track":
        """A Track that shares no array or meta with this one."""
        return replace(self, **{n: getattr(self, n).copy() for n in _ARRAYS}, meta=deepcopy(self.meta))

    @classmethod
    def load(cls, path: str | Path) -> "Track":
        """Read a track file; raises InputError when it is missing, corrupt, of an unknown schema, or holds
        values no fit makes (:meth:`validate`). Inside :func:`shared_loads` an unchanged file is read once."""
        memo = _SHARED.get()
        try:
            st = Path(path).stat() if memo is not None else None
        except OSError:
            st = None  # the read below says what is wrong
        if st is None:
            return cls._read(path)
        name = str(Path(path).resolve())
        hit = memo.get(name)
        if hit is None or hit[:2] != (st.st_size, st.st_mtime_ns):
            hit = memo[name] = (st.st_size, st.st_mtime_ns, cls._read(path))
        return hit[2].copy()

    @classmethod
    def _read(cls, path: str | Path) -> "Track":
        header, arrays = load_npz(path, _ARRAYS, SCHEMA, "track file")
        what = f"track file {path}"
        size, fps, model, meta = (header.get(k) for k in ("image_size", "fps", "model", "meta"))
        if not (isinstance(size, list) and len(size) == 2 and all(type(v) is int and 0 < v <= MAX_SIDE for v in size)):
            raise InputError(f"{what}: image_size must be [width, height] in 1-{MAX_SIDE}; got {size!r}")
        if not (isinstance(fps, (int, float)) and 0 < fps <= MAX_FPS):
            raise InputError(f"{what}: fps must be in (0, {MAX_FPS:g}]; got {fps!r}")
        if not (isinstance(model, dict) and all(isinstance(model.get(k), str) for k in ("name", "digest"))):
            raise InputError(f"{what}: the header names no model (name and digest)")
        if not isinstance(meta if meta is not None else {}, dict):
            raise InputError(f"{what}: meta must be a mapping")
        for name, a in arrays.items():
            if a.dtype.kind not in "iuf":
                raise InputError(f"{what}: {name} holds {a.dtype} values, not numbers")
        try:
            track = cls(**arrays, image_size=(size[0], size[1]), fps=float(fps), model_name=model["name"],
                        model_digest=model["digest"], meta=meta or {})
        except ValueError as e:
            raise InputError(f"{what}: {e}") from None
        track.validate(what)
        return track

    def validate(self, what: str = "track") -> None:
        """InputError naming the field and frame of the first value no fit makes: NaN/Inf, a scale <= 0, a
        rotation that is not one, confidences outside [0, 1], positions far off the frame, frame numbers not
        increasing."""
        reach = _MAX_OFF_FRAME * max(self.image_size)
        if len(self.frames) and (self.frames[0] < 0 or (np.diff(self.frames) <= 0).any()):
            raise InputError(f"{what}: frame numbers must be >= 0 and increasing")
        if not np.isfinite(self.identity).all() or (np.abs(self.identity) > _MAX_COEFFICIENT).any():
            raise InputError(f"{what}: identity holds NaN/Inf or values beyond +-{_MAX_COEFFICIENT:g}")
        rot_error = np.abs(np.einsum("tij,tkj->tik", self.rotation, self.rotation) - np.eye(3)).max(axis=(1, 2))
        checks = {
            "landmarks": np.abs(self.landmarks).max(axis=(1, 2)) <= reach,
            "pupils": np.abs(self.pupils).max(axis=(1, 2)) <= reach,
            "confidence": (self.confidence >= 0) & (self.confidence <= 1),
            "expression": np.abs(self.expression).max(axis=1, initial=0) <= _MAX_COEFFICIENT,
            "rotation": rot_error < 1e-2,
            "translation": np.abs(self.translation).max(axis=1) <= reach,
            "scale": (self.scale > 0) & (self.scale <= reach),
            "rmse": self.rmse >= 0,
        }
        for name, ok in checks.items():  # NaN compares False, so it fails every check
            if not ok.all():
                row = int(np.argmin(ok))
                values = np.asarray(getattr(self, name)[row]).ravel()
                kind = "NaN/Inf" if not np.isfinite(values).all() else "out of range"
                raise InputError(f"{what}: {name} is {kind} at frame {int(self.frames[row])} "
                                 f"({values[:4].tolist()}{'...' if values.size > 4 else ''})")



# resolved path -> (size, mtime_ns, Track) of the files loaded inside shared_loads(); None outside it
_SHARED: ContextVar[dict[str, tuple[int, int, Track]] | None] = ContextVar("h2h_shared_tracks", default=None)


@contextmanager
def shared_loads() -> Iterator[None]:
    """Inside the block :meth:`Track.load` reads each track file once: a later load of the same file (same
    resolved path, size and mtime) returns a copy of the first. The Python graph runs its nodes inside one,
    so the nodes reading one track share a single read. Nested blocks share the outer one's loads."""
    token = _SHARED.set(_SHARED.get() if _SHARED.get() is not None else {})
    try:
        yield
    finally:
        _SHARED.reset(token)
