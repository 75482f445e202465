"""Optional third-party packages, imported where they are used: PyAV (movies, audio), OpenImageIO (EXR, TIFF,
image metadata), dlib (face detection, landmarks), and onnx / onnxruntime (the synthesize node's ``onnx``
engine and ONNX export).

The engine imports without them, and runs every path that does not need them (e.g. training and synthesis
from PNG/JPEG sequences on a GPU machine that has neither); the first use of a missing one raises
:class:`~h2h_engine.errors.MissingPackageError` naming the package to install.
"""
from __future__ import annotations

import importlib
from functools import lru_cache
from types import ModuleType

from .errors import MissingPackageError

# Import name -> what ``pip install`` takes (the versions setup.py pins).
PIP_NAMES = {"av": "av", "OpenImageIO": "openimageio", "dlib": "dlib-bin", "onnx": "onnx",
             "onnxruntime": "onnxruntime"}


def require(module: str, needed_for: str) -> ModuleType:
    """The module ``module`` (one of :data:`PIP_NAMES`); MissingPackageError saying that ``needed_for``
    (e.g. "reading movies") needs it when it is not installed."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingPackageError(f"{needed_for} needs the Python package {PIP_NAMES[module]!r}, which is not "
                                  f"installed here (pip install {PIP_NAMES[module]})") from None


@lru_cache(maxsize=None)
def available(module: str) -> bool:
    """Whether ``module`` can be imported (asked once per process)."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True
