"""68-point landmarks (iBUG 300-W markup) from dlib's shape predictor, with sub-pixel output.

dlib returns integer pixel positions. To get sub-pixel landmarks, small faces are resampled (bilinear) so
that the face box is ``CANON_SIDE`` px before predicting; the predictor samples pixel intensities at points
defined relative to its current shape estimate, so this is the same as sampling the frame between pixels.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..geometry import RIGID, inter_ocular
from .dlib_models import dlib_module, native_shape_model, shape_predictor

# dlib's HOG detector box relative to the 68 points it leads to: centre offset and side in units of the
# RMS radius of the RIGID points about their mean: medians over 1,077 HOG detections on 12 shared clips of
# different people (``scripts/calibrate_landmark_box.py``). The predictor was trained on such boxes, so
# boxes seeded from landmarks must look like them.
BOX_OFFSET = np.array([-0.011, 0.189], np.float32)
BOX_SIDE = 3.027
# Side (px) a face box is resampled to before predicting; larger faces are used as they are.
CANON_SIDE = 320.0
_MARGIN = 0.3  # extra frame around the box kept in the resampled crop, as a fraction of the box side


def points_frame(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre (..., 2) and RMS radius (...,) of the expression-stable points of (..., 68, 2) landmarks."""
    rigid = landmarks[..., RIGID, :]
    centre = rigid.mean(axis=-2)
    radius = np.sqrt(((rigid - centre[..., None, :]) ** 2).sum(-1).mean(-1))
    return centre, radius


def box_from_points(landmarks: np.ndarray) -> np.ndarray:
    """The box (4,) ``x0, y0, x1, y1`` dlib's HOG detector would give for a face with these (68, 2) points."""
    centre, radius = points_frame(landmarks)
    c = centre + BOX_OFFSET * radius
    half = 0.5 * BOX_SIDE * radius
    return np.array([c[0] - half, c[1] - half, c[0] + half, c[1] + half], np.float32)


@dataclass
class ShapeFit:
    """68 points of one face and how self-consistent the predictor was about them.

    ``landmarks``: (68, 2) float32 pixels. ``agreement``: mean distance between the points predicted from the
    seed box and those predicted again from the box of the result, over the inter-ocular distance (0 when
    the predictor sits at its own fixed point; large when the seed box was off or the patch is no face).
    """

    landmarks: np.ndarray
    agreement: float


PREDICTOR_IMPLS = ("native", "dlib")


class ShapePredictor:
    """dlib's 68-point predictor with sub-pixel output and a self-consistency measure.

    ``impl``: ``"native"`` (default; the engine's evaluator of dlib's model file, ``csrc/common/shape_predict``:
    the same points, about 3x faster, and it releases the GIL) or ``"dlib"`` (dlib's own, the reference).
    """

    def __init__(self, impl: str = "native") -> None:
        if impl not in PREDICTOR_IMPLS:
            raise ValueError(f"impl must be one of {PREDICTOR_IMPLS}; got {impl!r}")
        self.impl = impl
        if impl == "native":
            self._model = native_shape_model()
        else:
            self._net = shape_predictor()
            self._rectangle = dlib_module().rectangle

    def _predict(self, image: np.ndarray, box: np.ndarray) -> np.ndarray:
        """(68, 2) float32 integer pixel positions of the face in ``box`` (4,) of ``image`` (H, W) uint8."""
        rect = (int(round(box[0])), int(round(box[1])), int(round(box[2])) - 1, int(round(box[3])) - 1)
        if self.impl == "native":
            return self._model.predict(image, *rect)
        shape = self._net(image, self._rectangle(*rect))
        return np.array([(p.x, p.y) for p in shape.parts()], np.float32)

    def __call__(self, gray: np.ndarray, box: np.ndarray) -> ShapeFit:
        """Fit 68 points in ``gray`` (H, W) uint8 starting from ``box`` (4,) pixels; refine once from its result."""
        side = max(float(0.5 * (box[2] - box[0] + box[3] - box[1])), 8.0)  # a collapsed box still gets a crop
        s = max(1.0, CANON_SIDE / side)
        if s > 1.0:  # resample a crop around the box so that one crop pixel is 1/s frame pixels
            n = int(round(s * side * (1 + 2 * _MARGIN)))
            ox, oy = float(box[0] - _MARGIN * side), float(box[1] - _MARGIN * side)
            warp = np.array([[s, 0.0, -s * ox], [0.0, s, -s * oy]], np.float32)
            image = cv2.warpAffine(gray, warp, (n, n), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            origin = np.array([ox, oy], np.float32)
        else:
            image, origin = gray, np.zeros(2, np.float32)
        to_crop = lambda b: (b - np.tile(origin, 2)) * s  # noqa: E731
        first = self._predict(image, to_crop(box))
        second = self._predict(image, box_from_points(first))
        io = max(float(inter_ocular(second)), 1.0)
        agreement = float(np.linalg.norm(second - first, axis=1).mean() / io)
        return ShapeFit((second / s + origin).astype(np.float32), agreement)
