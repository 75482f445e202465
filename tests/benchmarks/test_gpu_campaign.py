"""The GPU campaign (benchmarks/gpu, docs/gpu.md) proven on the CPU: prepare a few frames of a real clip, then
run the dry run with PyAV, OpenImageIO and dlib made unimportable, as they are on the GPU machine."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
RUN = ["bash", str(REPO / "benchmarks" / "gpu" / "run.sh")]
CLIP = "EDTalk__test_data_pose_source2"
# A sitecustomize that makes the optional packages fail to import (None in sys.modules: ImportError).
BLOCK = "import sys\nsys.modules.update(dict.fromkeys(('av', 'OpenImageIO', 'dlib')))\n"


def _env(*front: Path) -> dict[str, str]:
    path = os.pathsep.join([*map(str, front), str(REPO), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHON": sys.executable, "PYTHONPATH": path}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory, clip) -> Path:
    clip(CLIP)  # skips without the shared clips
    data = tmp_path_factory.mktemp("gpu") / "data"
    p = subprocess.run([*RUN, "--prepare", "--data", str(data), "--frames", "24"], env=_env(), capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    return data


@pytest.fixture(scope="module")
def blocked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder to put first on PYTHONPATH so that ``av``, ``OpenImageIO`` and ``dlib`` cannot be imported."""
    folder = tmp_path_factory.mktemp("blocked")
    (folder / "sitecustomize.py").write_text(BLOCK)
    return folder


def _numbers(tree: Any, path: str = "") -> Iterator[tuple[str, float]]:
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _numbers(v, f"{path}.{k}")
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from _numbers(v, f"{path}[{i}]")
    elif isinstance(tree, (int, float)) and not isinstance(tree, bool):
        yield path, float(tree)


def test_prepare_writes_one_small_folder(prepared: Path) -> None:
    manifest = json.loads((prepared / "manifest.json").read_text())
    assert manifest["schema"] == "H2HGpuData.1" and manifest["n_frames"] == 24
    assert len(list((prepared / "frames").glob("frame.*.jpg"))) == 24
    assert (prepared / manifest["track"]).is_file() and (prepared / manifest["model"]).is_file()
    assert manifest["track_summary"]["frames_without_face"] == 0
    size = sum(p.stat().st_size for p in prepared.rglob("*") if p.is_file())
    assert size < 40e6 and abs(size - manifest["bytes"]) < 10_000


def test_dry_run_without_optional_packages(prepared: Path, blocked: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    t = time.perf_counter()
    p = subprocess.run([*RUN, "--dry-run", "--data", str(prepared), "-o", str(out), "--work", str(tmp_path / "work")],
                       env=_env(blocked), capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - t
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    summary = json.loads(p.stdout)
    assert summary == json.loads((out / "summary.json").read_text())
    assert {"schema", "dry_run", "machine", "device", "data", "build", "raster", "train", "inference", "tests",
            "wall_s"} <= set(summary)
    assert summary["dry_run"] and summary["device"] == "cpu"
    assert not [k for k, v in summary.items() if isinstance(v, dict) and "error" in v]
    assert "skipped" in summary["build"]
    for size in ("256px", "1024px"):
        assert "skipped" in summary["raster"][size]["cuda"] and summary["raster"][size]["cpu_ms_per_frame"] > 0
    train = summary["train"]
    assert train["steps"] >= 1 and train["steps_per_s"] > 0 and train["frames_per_s"] > 0
    for metric in ("apd", "mapd", "mouth_apd"):
        assert train["held_out"][metric]["model"] > 0 and train["held_out"][metric]["mean_frame_baseline"] > 0
    inference = summary["inference"]
    assert inference["torchscript"]["same_pixels_cpu_fp32"]
    assert "skipped" in inference["torchscript"]["cuda_fp16"]
    assert inference["g_forward"]["1"]["frames_per_s"] > 0 and inference["synthesizer"]["frames"] == 24
    assert summary["tests"]["returncode"] == 0 and summary["tests"]["failed"] == 0
    bad = [k for k, v in _numbers(summary) if not math.isfinite(v)]
    assert not bad, bad
    assert (out / "train-tiny.log.jsonl").is_file()
    print(f"dry run: {wall:.1f} s wall ({summary['wall_s']:.1f} s in the campaign)")


def test_engine_runs_without_optional_packages(prepared: Path, blocked: Path, tmp_path: Path) -> None:
    """Importing works; what needs a missing package says which; PNG/JPEG go through OpenCV instead."""
    from h2h_engine.io import read_image

    jpg = prepared / "frames" / "frame.0003.jpg"
    script = f"""
import numpy as np, pytest
from pathlib import Path
import h2h_engine, h2h_engine.cli, h2h_engine.nodes, h2h_engine.training.train, h2h_engine.training.evaluate
from h2h_engine.errors import MissingPackageError
from h2h_engine.io import open_frames, read_image, write_image
from h2h_engine.landmarks.detect import FaceDetector
from h2h_engine.landmarks.shape import ShapePredictor
tmp = Path({str(tmp_path)!r})
movie = tmp / "clip.mp4"
movie.write_bytes(b"")
with pytest.raises(MissingPackageError, match="'av'"):
    open_frames(movie)
with pytest.raises(MissingPackageError, match="'openimageio'"):
    write_image(tmp / "plate.exr", np.zeros((4, 4, 3), np.float32))
with pytest.raises(MissingPackageError, match="'dlib-bin'"):
    FaceDetector()
with pytest.raises(MissingPackageError, match="'dlib-bin'"):
    ShapePredictor("dlib")
assert ShapePredictor().impl == "native"  # the engine's own evaluator reads dlib's model file without dlib
rgb = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
write_image(tmp / "a.png", rgb)
assert np.array_equal(read_image(tmp / "a.png"), rgb)
np.save(tmp / "jpg.npy", read_image({str(jpg)!r}))
frames = list(open_frames(str({str(prepared)!r}) + "/frames/frame.%04d.jpg"))
assert len(frames) == 24 and frames[0][1].shape == (256, 256, 3)
"""
    p = subprocess.run([sys.executable, "-c", script], env=_env(blocked), capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    via_cv2, via_oiio = np.load(tmp_path / "jpg.npy"), read_image(jpg)
    assert via_cv2.shape == via_oiio.shape and via_cv2.dtype == via_oiio.dtype
    assert np.abs(via_cv2.astype(int) - via_oiio).max() <= 2  # two JPEG decoders: IDCT rounding may differ
