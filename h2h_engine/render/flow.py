"""Facial flow between consecutive frames: from the 3DMM inside the rendered face, optical flow outside.

Convention: ``flow[t]`` maps frame t to t+1: the content at pixel p of frame t is at ``p + flow[t][p]`` in
frame t+1 (so sampling frame t+1 at ``p + flow[t][p]`` reproduces frame t). The last frame's flow is 0.
"""
from __future__ import annotations

import cv2
import numpy as np

from .raster import interpolate


def model_flow(projected: np.ndarray, triangles: np.ndarray, tri_id: np.ndarray, bary: np.ndarray,
               impl: str = "native") -> np.ndarray:
    """Motion of each visible surface point from frame t to t+1.

    Args:
        projected: (T, K, 3) mesh vertices in output pixels, every frame.
        triangles: (F, 3) the rendered mesh; tri_id (T, H, W), bary (T, H, W, 2) its raster.
    Returns:
        (T, H, W, 2) float32; 0 where nothing is rendered and on the last frame.
    """
    motion = np.zeros(projected.shape[:2] + (2,), np.float32)
    motion[:-1] = projected[1:, :, :2] - projected[:-1, :, :2]
    return interpolate(motion, triangles, tri_id, bary, impl=impl)


def optical_flow(frames: np.ndarray) -> np.ndarray:
    """OpenCV DIS optical flow (medium preset) between consecutive frames.

    Args:
        frames: (T, H, W, 3) uint8 RGB.
    Returns:
        (T, H, W, 2) float32 flow t -> t+1; the last is 0.
    """
    frames = np.asarray(frames)
    out = np.zeros(frames.shape[:3] + (2,), np.float32)
    if len(frames) < 2:
        return out
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    grey = [cv2.cvtColor(np.ascontiguousarray(f, np.uint8), cv2.COLOR_RGB2GRAY) for f in frames]
    for t in range(len(frames) - 1):
        out[t] = dis.calc(grey[t], grey[t + 1], None)
    return out


def merge_flow(face: np.ndarray, other: np.ndarray | None, mask: np.ndarray) -> np.ndarray:
    """(T, H, W, 2): ``face`` where mask (T, H, W), ``other`` (or 0) elsewhere."""
    if other is None:
        return np.where(mask[..., None], face, 0.0).astype(np.float32)
    return np.where(mask[..., None], face, other).astype(np.float32)
