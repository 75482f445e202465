"""Type stubs of ``h2h_engine._native`` (csrc/bindings/*.cpp): the C++17/OpenMP kernels, CUDA where built."""
import numpy as np
from numpy.typing import NDArray

has_cuda: bool
raster_subpixel_bits: int
raster_guard_band: float

# -- landmarks (csrc/bindings/bind_landmarks.cpp) ---------------------------------------------------------------
class ShapeModel:
    """dlib's shape predictor model (the bytes of its .dat file) parsed for native evaluation."""

    def __init__(self, data: bytes) -> None: ...
    @property
    def parts(self) -> int:
        """Points per face (68)."""
    def predict(self, image: NDArray[np.uint8], left: int, top: int, right: int, bottom: int) -> NDArray[np.float32]:
        """(P, 2) dlib's integer points of the face in the inclusive rectangle of an (H, W) uint8 image (GIL
        released; the same points as dlib's shape_predictor)."""

# -- fitting (csrc/bindings/bind_fit.cpp) ------------------------------------------------------------------
def sop_pose(model: NDArray[np.float64], pixels: NDArray[np.float64], weights: NDArray[np.float64] | None = None,
             iterations: int = 5) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Per-frame SOP cameras: model (T, N, 3), pixels (T, N, 2), weights (T, N) -> R (T, 3, 3), t (T, 2), s (T,)."""

def fit_shape_solve(mean: NDArray[np.float64], id_basis: NDArray[np.float64], exp_basis: NDArray[np.float64],
                    vertex: NDArray[np.int32], proj: NDArray[np.float64], offset: NDArray[np.float64],
                    target: NDArray[np.float64], weight: NDArray[np.float64], id_prior: float, exp_prior: float,
                    smoothness: float, id_bounds: tuple[float, float], exp_bounds: tuple[float, float],
                    identity: NDArray[np.float64], expression: NDArray[np.float64], max_iterations: int = 50,
                    tolerance: float = 1e-12) -> tuple[NDArray[np.float64], NDArray[np.float64], float, int]:
    """Bounded batch identity/expression solve with fixed cameras -> (identity, expression, cost, iterations)."""

# -- morphable model (csrc/bindings/bind_morphable.cpp) -----------------------------------------------------
def blendshape(base: NDArray[np.float32], basis: NDArray[np.float32], coefs: NDArray[np.float32],
               rotation: NDArray[np.float32] | None = None, translation: NDArray[np.float32] | None = None,
               scale: NDArray[np.float32] | None = None, box: NDArray[np.float32] | None = None
               ) -> NDArray[np.float32]:
    """base (K, 3) + coefs (T, E) . basis (E, K, 3) -> (T, K, 3); one fixed summation order per value; with a
    camera (rotation (T, 3, 3), translation (T, 2), scale (T,)) projected to pixels, then mapped by box
    (x0, y0, sx, sy) onto an output raster, in the same pass."""

# -- rasterizer (csrc/bindings/bind_raster.cpp) ------------------------------------------------------------
def rasterize_fwd(pos: NDArray[np.float32], tri: NDArray[np.int32], width: int, height: int, cull_back: bool = True,
                  tri_id: NDArray[np.int32] | None = None, bary: NDArray[np.float32] | None = None,
                  depth: NDArray[np.float32] | None = None
                  ) -> tuple[NDArray[np.int32], NDArray[np.float32], NDArray[np.float32]]:
    """pos (B, V, 3) px x, px y, depth; tri (F, 3) -> tri_id (B, H, W) (-1 empty), bary (B, H, W, 2), depth (B, H, W)."""

def render_fwd(pos: NDArray[np.float32], tri: NDArray[np.int32], attr: NDArray[np.float32], width: int, height: int,
               cull_back: bool = True, image: NDArray[np.float32] | None = None,
               tri_id: NDArray[np.int32] | None = None) -> tuple[NDArray[np.float32], NDArray[np.int32]]:
    """Rasterize and interpolate attr (V, C) or (B, V, C) in one pass -> image (B, H, W, C), tri_id (B, H, W)."""

def interpolate_fwd(attr: NDArray[np.float32], tri: NDArray[np.int32], tri_id: NDArray[np.int32],
                    bary: NDArray[np.float32]) -> NDArray[np.float32]:
    """attr (V, C) or (B, V, C) at (tri_id, bary) -> (B, H, W, C), 0 where tri_id < 0."""

def render_eyes_fwd(fans: NDArray[np.float32], pupils: NDArray[np.float32], radius: NDArray[np.float32], x0: int,
                    y0: int, x1: int, y1: int, width: int, height: int, image: NDArray[np.float32] | None = None
                    ) -> tuple[NDArray[np.float32], NDArray[np.int8]]:
    """Eye fans (T, 2, 7, 2) relative to the window (x0, y0)-(x1, y1), pupils (T, 2, 2), radii (T, 2) -> image
    (T, H, W, 3) float32 (1 in the openings, 0 on the pupils), eye (T, H, W) int8 (0 right, 1 left, -1 neither)."""

def warp_blend_fwd(tri_id: NDArray[np.int32], bary: NDArray[np.float32], tri: NDArray[np.int32],
                   src_pos: NDArray[np.float32], src_depth: NDArray[np.float32], src_image: NDArray[np.uint8],
                   frame: NDArray[np.int32], depth_of: NDArray[np.int32], weight: NDArray[np.float32],
                   depth_tolerance: float, cubic: bool = False) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
    """Driven raster tri_id (T, H, W) + bary, bank vertices (N, V, 3), depth rasters (U, H, W), crops
    (N, H, W, 3), slots frame/depth_of/weight (T, M) -> blend (T, H, W, 3) uint8, cover (T, H, W); ``cubic``:
    bicubic samples (else bilinear)."""

def rasterize_fwd_cuda(pos: int, tri: int, attr: int, zbuf: int, tri_id: int, bary: int, depth: int, image: int,
                       batch: int, num_vertices: int, num_triangles: int, width: int, height: int, channels: int,
                       attr_batched: bool, cull_back: bool, stream: int) -> None:
    """CUDA builds only: device pointers (0 = not wanted); zbuf (B, H, W) int64 scratch."""
