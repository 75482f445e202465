"""Thin CMake driver: builds ``h2h_engine._native`` from ``CMakeLists.txt``.

CUDA kernels are compiled only when nvcc exists *and* the installed torch is a CUDA build
(or ``H2H_WITH_CUDA=1`` forces it); ``H2H_WITH_CUDA=0`` turns them off.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


def _want_cuda() -> bool:
    forced = os.environ.get("H2H_WITH_CUDA")
    if forced is not None:
        return forced not in ("0", "OFF", "off", "")
    cuda_home = os.environ.get("CUDA_HOME", "/usr/local/cuda")
    if shutil.which("nvcc") is None and not Path(cuda_home, "bin", "nvcc").exists():
        return False
    try:
        import torch  # noqa: PLC0415 - only to ask whether this is a CUDA build
    except ImportError:
        return False
    return torch.version.cuda is not None


class CMakeBuild(build_ext):
    def build_extension(self, ext: Extension) -> None:
        out = Path(self.get_ext_fullpath(ext.name)).resolve()
        build_dir = Path(os.environ.get("H2H_BUILD_DIR", ROOT / "build" / "cmake")).resolve()
        build_dir.mkdir(parents=True, exist_ok=True)
        import pybind11  # noqa: PLC0415 - a build requirement

        cfg = [
            "cmake", "-S", str(ROOT), "-B", str(build_dir), "-G", "Ninja",
            f"-DPython_EXECUTABLE={sys.executable}",
            f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
            f"-DCMAKE_LIBRARY_OUTPUT_DIRECTORY={out.parent}",
            f"-DH2H_WITH_CUDA={'ON' if _want_cuda() else 'OFF'}",
            f"-DH2H_NATIVE_ARCH={'OFF' if os.environ.get('H2H_NATIVE_ARCH') in ('0', 'OFF', 'off') else 'ON'}",
        ]
        if _want_cuda():
            cuda_home = os.environ.get("CUDA_HOME", "/usr/local/cuda")
            cfg.append(f"-DCMAKE_CUDA_COMPILER={cuda_home}/bin/nvcc")
        subprocess.run(cfg, check=True)
        subprocess.run(["cmake", "--build", str(build_dir), "--parallel", str(os.cpu_count() or 2)], check=True)
        built = next(out.parent.glob("_native*.so"), None)
        if built is None:
            raise RuntimeError(f"CMake did not produce _native in {out.parent}")
        if built.resolve() != out:
            shutil.copyfile(built, out)


setup(
    name="h2h-engine",
    version="0.1.4",
    description="head2head: video-based neural head synthesis (Head2Head, FG 2020) as an engine for VFX hosts",
    license="MIT",
    python_requires=">=3.10",
    # The trainer's code lives in the repository's top-level training/ folder and installs as
    # h2h_engine.training (no top-level `training` module); the engine imports it only in the train node.
    packages=[*find_packages(include=["h2h_engine", "h2h_engine.*"]), "h2h_engine.training",
              *(f"h2h_engine.training.{p}" for p in find_packages("training"))],
    package_dir={"h2h_engine.training": "training"},
    package_data={"h2h_engine": ["configs/*.yaml", "*.pyi"], "h2h_engine.training": ["configs/*.yaml"]},
    ext_modules=[Extension("h2h_engine._native", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    install_requires=[
        "torch==2.13.0",
        "numpy==2.4.6",
        "scipy==1.17.1",
        "opencv-python-headless==4.14.0.94",
        "av==18.1.0",
        "openimageio==3.2.2.0",
        "pybind11==3.1.0",
        "PyYAML==6.0.4",
        "dlib-bin==20.0.1.post1",
        "face-recognition-models==0.3.0",
        "tqdm>=4.66",
        "opencolorio==2.6.0",  # colour conversions (io/colour.py): the active OCIO config
        "timecode==1.5.1",     # SMPTE timecode arithmetic, drop frame included (io/timecode.py)
    ],
    # [train]: what the trainer needs beyond inference (the QC report's plots of h2h eval reenactment --report);
    # [onnx]: the synthesize node's `onnx` engine and `export-generator -o G.onnx` (without them G runs in torch)
    extras_require={"test": ["pytest>=8"], "train": ["matplotlib==3.11.2"],
                    "onnx": ["onnx==1.23.2", "onnxruntime==1.31.1"]},
    entry_points={"console_scripts": ["h2h=h2h_engine.cli:main"]},
)
