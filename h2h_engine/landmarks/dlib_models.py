"""dlib itself (an optional package: the engine imports without it) and its model files shipped by the
``face-recognition-models`` package.

The package is located without importing it (its ``__init__`` imports ``pkg_resources``, which recent
setuptools no longer ships).
"""
from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from ..optional import require

if TYPE_CHECKING:
    import dlib

SHAPE_68 = "shape_predictor_68_face_landmarks.dat"
CNN_DETECTOR = "mmod_human_face_detector.dat"
FACE_RECOGNITION = "dlib_face_recognition_resnet_model_v1.dat"


def dlib_module() -> ModuleType:
    """The ``dlib`` module; MissingPackageError when it is not installed."""
    return require("dlib", "face detection and landmarks")


def model_file(name: str) -> Path:
    """Path of one of the package's model files; InputError when the package or file is missing."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("face-recognition-models is not installed (pip install face-recognition-models==0.3.0)")
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / name
    if not path.is_file():
        raise InputError(f"{path} is missing: reinstall face-recognition-models")
    return path


@lru_cache(maxsize=None)
def shape_predictor() -> dlib.shape_predictor:
    """dlib's 68-point shape predictor (iBUG 300-W markup), loaded once per process."""
    return dlib_module().shape_predictor(str(model_file(SHAPE_68)))


@lru_cache(maxsize=None)
def native_shape_model() -> Any:
    """The same 68-point model parsed by the engine's native evaluator (``_native.ShapeModel``: dlib's points,
    several times faster, GIL released), loaded once per process."""
    from .. import _native  # noqa: PLC0415

    return _native.ShapeModel(model_file(SHAPE_68).read_bytes())


@lru_cache(maxsize=None)
def hog_detector() -> dlib.fhog_object_detector:
    """dlib's frontal-face HOG + linear SVM detector, loaded once per process."""
    return dlib_module().get_frontal_face_detector()


@lru_cache(maxsize=None)
def cnn_detector() -> dlib.cnn_face_detection_model_v1:
    """dlib's MMOD CNN face detector, loaded once per process."""
    return dlib_module().cnn_face_detection_model_v1(str(model_file(CNN_DETECTOR)))


@lru_cache(maxsize=None)
def face_recognizer() -> dlib.face_recognition_model_v1:
    """dlib's ResNet face-recognition model (128-D descriptors; same person below 0.6), loaded once per process."""
    return dlib_module().face_recognition_model_v1(str(model_file(FACE_RECOGNITION)))
