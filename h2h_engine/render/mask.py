"""Face masks and mouth boxes (the mouth discriminator's crop: 72 x 72 px at 256 px, paper Sec. III-C)."""
from __future__ import annotations

import numpy as np

MOUTH_BOX_AT_256 = 72


def face_mask(tri_id: np.ndarray) -> np.ndarray:
    """(T, H, W) rendered-face mask from the NMFC raster's triangle ids."""
    return np.asarray(tri_id) >= 0


def mouth_boxes(mouth_points: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Mouth boxes centred on the median of the mouth points, 72 px per 256 px of output, kept inside the image.

    Args:
        mouth_points: (T, 20, 2) projected model mouth landmarks (:data:`h2h_engine.geometry.MOUTH`), output pixels.
        size: (W, H) output size.
    Returns:
        (T, 4) int32 x0, y0, x1, y1 (x1, y1 exclusive) in output pixels.
    """
    w, h = size
    bw = min(w, max(1, int(round(MOUTH_BOX_AT_256 * w / 256))))
    bh = min(h, max(1, int(round(MOUTH_BOX_AT_256 * h / 256))))
    centre = np.median(np.asarray(mouth_points, np.float32), axis=1)  # (T, 2)
    x0 = np.clip(np.round(centre[:, 0] - bw / 2), 0, w - bw).astype(np.int32)
    y0 = np.clip(np.round(centre[:, 1] - bh / 2), 0, h - bh).astype(np.int32)
    return np.stack([x0, y0, x0 + bw, y0 + bh], axis=1).astype(np.int32)
