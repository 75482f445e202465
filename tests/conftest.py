"""Shared fixtures: real clips from ../shared/videos and the ICT model (converted once into the cache)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("H2H_SHARED", REPO.parent / "shared"))
VIDEOS = SHARED / "videos"
# The engine imports the built-in ICT model only from $H2H_ICT_SOURCE (it never looks at the checkout).
os.environ.setdefault("H2H_ICT_SOURCE", str(SHARED / "ict-facekit" / "FaceXModel.tar.xz"))


def _clip(name: str) -> Path:
    hits = sorted(VIDEOS.glob(f"*{name}*")) if VIDEOS.is_dir() else []
    if len(hits) != 1:
        pytest.skip(f"shared clip {name!r} not found under {VIDEOS}")
    return hits[0]


@pytest.fixture(scope="session")
def clip():
    """``clip(name)``: path of a shared clip by a unique part of its file name (skips when absent)."""
    return _clip


@pytest.fixture(scope="session")
def landmark_track(clip):
    """A real face tracked by the engine: 40 frames of GRID bbaf2n (288 px, speaking, static gaze); a
    LandmarkTrack with landmarks (40, 68, 2) and pupils (40, 2, 2), pixels."""
    from h2h_engine.io import open_frames
    from h2h_engine.landmarks import track_landmarks

    return track_landmarks(open_frames(clip("GRID_bbaf2n"), (0, 39)))


@pytest.fixture(scope="session")
def model():
    from h2h_engine.morphable import load_model

    return load_model()


def pytest_collection_modifyitems(config, items):
    try:
        import torch

        has_gpu = torch.cuda.is_available()
    except ImportError:
        has_gpu = False
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "cuda" in item.keywords and not has_gpu:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory) -> Path:
    """A head2head checkpoint holding a real generator (small, 64 px, untrained weights from a fixed seed):
    what the pipeline does with frames does not depend on how well G was trained."""
    import torch

    from h2h_engine.morphable import load_model
    from h2h_engine.synthesis.checkpoint import SCHEMA
    from h2h_engine.synthesis.config import ModelConfig
    from h2h_engine.synthesis.generator import Generator

    torch.manual_seed(0)
    cfg = ModelConfig(size=64, ngf=8, n_downsample=2, n_blocks_encoder=1, n_blocks_decoder=1)
    mm = load_model()
    path = tmp_path_factory.mktemp("ckpt") / "checkpoint.pt"
    torch.save({"schema": SCHEMA, "model_config": cfg.to_dict(), "generator": Generator(cfg).state_dict(),
                "data": {"crop_margin": 1.6, "crop_smooth": 15, "morphable_digest": mm.digest,
                         "morphable_name": mm.name}}, path)
    return path
