"""Triangle rasterization of projected meshes: the Python API over ``h2h_engine._native``.

Vertices are ``(B, V, 3)``: pixel x, pixel y (pixel ``(i, j)`` has its centre at ``(i + 0.5, j + 0.5)``) and
depth, larger = nearer (the SOP convention of :func:`h2h_engine.geometry.project`). Coverage follows a
top-left fill rule on vertices snapped to 1/256 px, so meshes are watertight; zero-area triangles and (with
``cull_back``) back faces are dropped; the nearest fragment wins. ``impl="ref"`` runs the slow numpy
reference (:mod:`._raster_ref`); ``device="cuda"`` runs the CUDA kernels (torch CUDA tensors in and out,
or numpy arrays copied through the GPU). CPU torch tensors are read without copies.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _raster_ref

IMPLS = ("native", "ref")
DEVICES = ("auto", "cpu", "cuda")


@dataclass
class Raster:
    """Per-pixel result of :func:`rasterize`.

    Attributes:
        tri_id: (B, H, W) int32 winning triangle (row of ``triangles``), -1 where empty.
        bary: (B, H, W, 2) float32 weights of that triangle's vertices 0 and 1 (vertex 2: 1 - b0 - b1).
        depth: (B, H, W) float32 interpolated depth (larger = nearer), -inf where empty.
    """

    tri_id: Any
    bary: Any
    depth: Any

    @property
    def mask(self) -> Any:
        """(B, H, W) bool covered pixels."""
        return self.tri_id >= 0


def _native() -> Any:
    from .. import _native  # noqa: PLC0415 - the extension is only needed for impl="native"

    return _native


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def _as_numpy(x: Any, dtype: type) -> np.ndarray:
    """A numpy view of an array or CPU torch tensor (no copy when dtype and layout already fit)."""
    if _is_torch(x):
        x = x.detach()
        if x.device.type != "cpu":
            x = x.cpu()
        x = x.numpy()
    return np.ascontiguousarray(x, dtype=dtype)


def _check(vertices: Any, triangles: Any, size: tuple[int, int]) -> tuple[int, int]:
    w, h = (int(s) for s in size)
    if w <= 0 or h <= 0:
        raise ValueError(f"raster size must be positive; got {w}x{h}")
    if len(vertices.shape) != 3 or vertices.shape[2] != 3:
        raise ValueError(f"vertices must have shape (B, V, 3); got {tuple(vertices.shape)}")
    if len(triangles.shape) != 2 or triangles.shape[1] != 3:
        raise ValueError(f"triangles must have shape (F, 3); got {tuple(triangles.shape)}")
    return w, h


def _resolve_device(device: str, *arrays: Any) -> str:
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}; got {device!r}")
    if device != "auto":
        return device
    on_gpu = any(_is_torch(a) and a.device.type == "cuda" for a in arrays)
    return "cuda" if on_gpu else "cpu"


def rasterize(vertices: Any, triangles: Any, size: tuple[int, int], cull_back: bool = True,
              impl: str = "native", device: str = "cpu") -> Raster:
    """Rasterize projected meshes.

    Args:
        vertices: (B, V, 3) float pixel x, pixel y, depth (larger = nearer); numpy or torch.
        triangles: (F, 3) int vertex indices.
        size: (W, H) raster size.
        cull_back: drop back faces (the model's triangles are counter-clockwise seen from outside).
        impl: "native" (C++/CUDA) or "ref" (numpy reference).
        device: "cpu", "cuda" or "auto" (cuda when the inputs are CUDA tensors).
    Returns:
        :class:`Raster` with tri_id (B, H, W), bary (B, H, W, 2), depth (B, H, W).
    """
    w, h = _check(vertices, triangles, size)
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {IMPLS}; got {impl!r}")
    if _resolve_device(device, vertices, triangles) == "cuda":
        if impl != "native":
            raise ValueError("impl='ref' runs on the CPU only")
        out = _run_cuda(vertices, triangles, None, w, h, cull_back, ("tri_id", "bary", "depth"))
        return Raster(out["tri_id"], out["bary"], out["depth"])
    pos, tri = _as_numpy(vertices, np.float32), _as_numpy(triangles, np.int32)
    if impl == "ref":
        return Raster(*_raster_ref.rasterize_ref(pos, tri, w, h, cull_back))
    return Raster(*_native().rasterize_fwd(pos, tri, w, h, cull_back))


def interpolate(attr: Any, triangles: Any, tri_id: Any, bary: Any, impl: str = "native") -> np.ndarray:
    """Interpolate vertex attributes with a raster's barycentrics.

    Args:
        attr: (V, C) shared or (B, V, C) per-frame vertex attributes.
        triangles: (F, 3) the triangles the raster was made with.
        tri_id: (B, H, W) int32, bary: (B, H, W, 2) float32 from :func:`rasterize`.
    Returns:
        (B, H, W, C) float32, 0 where tri_id < 0.
    """
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {IMPLS}; got {impl!r}")
    args = (_as_numpy(attr, np.float32), _as_numpy(triangles, np.int32), _as_numpy(tri_id, np.int32),
            _as_numpy(bary, np.float32))
    if impl == "ref":
        return _raster_ref.interpolate_ref(*args)
    return _native().interpolate_fwd(*args)


def render(vertices: Any, triangles: Any, attr: Any, size: tuple[int, int], cull_back: bool = True,
           impl: str = "native", device: str = "cpu",
           out: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[Any, Any]:
    """Rasterize and interpolate ``attr`` in one pass (no barycentric/depth buffers written).

    Args:
        vertices: (B, V, 3) projected vertices; triangles: (F, 3); attr: (V, C) or (B, V, C).
        out: (image, tri_id) numpy arrays of the result's shapes and dtypes to write into (CPU only; saves
            allocating, and the kernel's first touch of, new pages per call).
    Returns:
        image (B, H, W, C) float32 (0 where empty) and tri_id (B, H, W) int32 (``out`` when given).
    """
    w, h = _check(vertices, triangles, size)
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {IMPLS}; got {impl!r}")
    if _resolve_device(device, vertices, triangles, attr) == "cuda":
        if impl != "native":
            raise ValueError("impl='ref' runs on the CPU only")
        if out is not None:
            raise ValueError("out= is for the CPU path")
        res = _run_cuda(vertices, triangles, attr, w, h, cull_back, ("image", "tri_id"))
        return res["image"], res["tri_id"]
    pos, tri, att = _as_numpy(vertices, np.float32), _as_numpy(triangles, np.int32), _as_numpy(attr, np.float32)
    if impl == "ref":
        r = _raster_ref.rasterize_ref(pos, tri, w, h, cull_back)
        image, tri_id = _raster_ref.interpolate_ref(att, tri, r[0], r[1]), r[0]
        if out is None:
            return image, tri_id
        out[0][...], out[1][...] = image, tri_id
        return out
    if out is None:
        return _native().render_fwd(pos, tri, att, w, h, cull_back)
    return _native().render_fwd(pos, tri, att, w, h, cull_back, image=out[0], tri_id=out[1])


def _run_cuda(vertices: Any, triangles: Any, attr: Any, w: int, h: int, cull_back: bool,
              want: tuple[str, ...]) -> dict[str, Any]:
    """CUDA path through torch tensors; numpy inputs are copied to the GPU and the results back."""
    import torch  # noqa: PLC0415 - only the CUDA path needs torch

    nat = _native()
    if not getattr(nat, "has_cuda", False) or not torch.cuda.is_available():
        raise RuntimeError("device='cuda' needs a CUDA build of h2h_engine._native and a GPU")
    as_numpy = not _is_torch(vertices)
    dev = torch.device("cuda", torch.cuda.current_device()) if as_numpy else vertices.device

    def gpu(x: Any, dtype: torch.dtype) -> torch.Tensor:
        t = x if _is_torch(x) else torch.from_numpy(np.ascontiguousarray(x))
        return t.detach().to(device=dev, dtype=dtype).contiguous()

    pos, tri = gpu(vertices, torch.float32), gpu(triangles, torch.int32)
    n, nv, nf = pos.shape[0], pos.shape[1], tri.shape[0]
    if nf and (int(tri.min()) < 0 or int(tri.max()) >= nv):
        raise ValueError(f"triangles hold vertex indices outside [0, {nv})")
    att = gpu(attr, torch.float32) if attr is not None else None
    if att is not None and (att.dim() not in (2, 3) or att.shape[-2] != nv or (att.dim() == 3 and att.shape[0] != n)):
        raise ValueError(f"attr must have shape (V={nv}, C) or (B={n}, V, C); got {tuple(att.shape)}")
    channels = int(att.shape[-1]) if att is not None else 0
    out = {"tri_id": torch.empty((n, h, w), dtype=torch.int32, device=dev)}
    if "bary" in want:
        out["bary"] = torch.empty((n, h, w, 2), dtype=torch.float32, device=dev)
    if "depth" in want:
        out["depth"] = torch.empty((n, h, w), dtype=torch.float32, device=dev)
    if "image" in want:
        out["image"] = torch.empty((n, h, w, channels), dtype=torch.float32, device=dev)
    zbuf = torch.empty((n, h, w), dtype=torch.int64, device=dev)

    def ptr(name: str) -> int:
        return out[name].data_ptr() if name in out else 0

    nat.rasterize_fwd_cuda(pos.data_ptr(), tri.data_ptr(), att.data_ptr() if att is not None else 0,
                           zbuf.data_ptr(), ptr("tri_id"), ptr("bary"), ptr("depth"), ptr("image"), n, nv, nf,
                           w, h, channels, att is not None and att.dim() == 3, cull_back,
                           torch.cuda.current_stream(dev).cuda_stream)
    if as_numpy:
        return {k: v.cpu().numpy() for k, v in out.items()}
    return out
