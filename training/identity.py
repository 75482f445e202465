"""Who a face is: dlib's ResNet face-recognition descriptor (128-D) from our tracker's 68 landmarks.

dlib aligns a 150 px chip from the 68 points and maps it to a descriptor whose Euclidean distance between two
faces is below ``SAME_PERSON`` (0.6, dlib's own threshold, 99.38 % on LFW) for the same person. The
descriptor model (``dlib_face_recognition_resnet_model_v1.dat``) ships with ``face-recognition-models``.
"""
from __future__ import annotations

import numpy as np

from h2h_engine.landmarks import box_from_points
from h2h_engine.landmarks.dlib_models import dlib_module, face_recognizer

SAME_PERSON = 0.6  # dlib: descriptors of one person are nearer than this


def face_descriptor(rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """Descriptor (128,) float64 of the face with ``landmarks`` (68, 2) pixels in ``rgb`` (H, W, 3) uint8."""
    dlib = dlib_module()
    x0, y0, x1, y1 = (int(round(float(v))) for v in box_from_points(np.asarray(landmarks, np.float32)))
    parts = dlib.points([dlib.point(int(round(float(x))), int(round(float(y)))) for x, y in landmarks])
    shape = dlib.full_object_detection(dlib.rectangle(x0, y0, x1, y1), parts)
    return np.asarray(face_recognizer().compute_face_descriptor(np.ascontiguousarray(rgb, np.uint8), shape),
                      np.float64)


def mean_distance(descriptors: np.ndarray, references: np.ndarray) -> np.ndarray:
    """(T,) mean Euclidean distance of each of (T, 128) ``descriptors`` to the (K, 128) ``references``."""
    d = np.asarray(descriptors, np.float64)[:, None] - np.asarray(references, np.float64)[None]
    return np.linalg.norm(d, axis=-1).mean(axis=1)
