"""Render test fixtures: synthetic tracks (model shapes under plausible SOP poses) and real tracks."""
from __future__ import annotations

import numpy as np
import pytest

from h2h_engine.geometry import project
from h2h_engine.track import Track


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    cy, sy, cp, sp, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return rz @ ry @ rx


def synthetic_track(model, n: int = 8, size: tuple[int, int] = (320, 240), seed: int = 0) -> Track:
    """A smoothly moving, talking face: landmarks are the model's projected landmark vertices, pupils the
    eye-contour centres."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=np.float32)
    rot = np.stack([_rotation(0.25 * np.sin(0.3 * k), 0.1 * np.sin(0.2 * k + 1), 0.05 * np.sin(0.25 * k))
                    for k in t]).astype(np.float32)
    exp = np.zeros((n, model.n_exp), np.float32)
    exp[:, model.expression_index("jawOpen")] = 0.3 + 0.3 * np.sin(0.5 * t)
    exp += rng.uniform(0, 0.1, exp.shape).astype(np.float32)
    identity = rng.normal(0, 0.5, model.n_id).astype(np.float32)
    scale = np.full(n, 0.22 * size[1] / 10, np.float32) * (1 + 0.02 * np.sin(0.4 * t))
    trans = np.stack([size[0] * (0.5 + 0.03 * np.sin(0.15 * t)), size[1] * (0.5 + 0.01 * np.sin(0.3 * t))],
                     -1).astype(np.float32)
    lm = project(model.shape(identity, exp, vertices=model.landmarks), rot, trans, scale)[..., :2]
    pupils = np.stack([lm[:, 36:42].mean(1), lm[:, 42:48].mean(1)], 1)
    return Track(frames=np.arange(10, 10 + n), landmarks=lm, pupils=pupils, confidence=np.ones(n, np.float32),
                 flags=np.zeros(n, np.uint8), identity=identity, expression=exp, rotation=rot, translation=trans,
                 scale=scale, rmse=np.zeros(n, np.float32), image_size=size, fps=25.0, model_name=model.name,
                 model_digest=model.digest, meta={})


@pytest.fixture(scope="session")
def synth_track(model) -> Track:
    return synthetic_track(model)


def _track_clip(tmp_path_factory, clip_path, frames: str) -> tuple[Track, np.ndarray]:
    """Run the Track node on a short range of a real clip; returns the track and its frames (T, H, W, 3)."""
    from h2h_engine.io import open_frames
    from h2h_engine.nodes import get_spec

    out = tmp_path_factory.mktemp("render_track") / "shot.h2h.npz"
    get_spec("track")(input=str(clip_path), output=str(out), frames=frames)
    track = Track.load(out)
    rgb = np.stack([f for _, f in open_frames(clip_path, (int(track.frames[0]), int(track.frames[-1])))])
    return track, rgb


@pytest.fixture(scope="session")
def frontal_shot(tmp_path_factory, clip):
    """A frontal, talking news anchor (512 px): 20 tracked frames."""
    return _track_clip(tmp_path_factory, clip("German_20s"), "0-19")


@pytest.fixture(scope="session")
def moving_shot(tmp_path_factory, clip):
    """Handheld selfie with strong head and camera motion (512 px): 12 tracked frames."""
    return _track_clip(tmp_path_factory, clip("driving_d12"), "40-51")


@pytest.fixture(scope="session")
def make_synth_track():
    """``make_synth_track(model, n, size, seed)``: :func:`synthetic_track`."""
    return synthetic_track
