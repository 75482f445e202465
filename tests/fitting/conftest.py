"""Landmarks of real clips for the fitting tests: detected once per session with the engine's tracker."""
from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def clip_landmarks(clip):
    """``clip_landmarks(name_part, first, last)`` -> (landmarks (T, 68, 2), weights (T,)), cached per session.

    Frames the tracker flags as having no face get weight 0.
    """
    from h2h_engine.io import open_frames
    from h2h_engine.landmarks import track_landmarks
    from h2h_engine.track import FLAG_NO_FACE

    cache: dict[tuple[str, int, int], tuple[np.ndarray, np.ndarray]] = {}

    def get(name: str, first: int, last: int) -> tuple[np.ndarray, np.ndarray]:
        key = (name, first, last)
        if key not in cache:
            track = track_landmarks(open_frames(clip(name), (first, last)))
            weights = ((track.flags & FLAG_NO_FACE) == 0).astype(np.float64)
            cache[key] = (track.landmarks.astype(np.float64), weights)
        return cache[key]

    return get


@pytest.fixture(scope="session")
def fitted(model, clip_landmarks):
    """``fitted(name_part, first, last, **config_changes)`` -> (FitResult, landmarks, weights), cached."""
    from h2h_engine.fitting import fit_video, load_fit_config

    cache: dict[tuple, tuple] = {}

    def get(name: str, first: int, last: int, **changes):
        key = (name, first, last, tuple(sorted(changes.items())))
        if key not in cache:
            lm, w = clip_landmarks(name, first, last)
            cfg = load_fit_config().replace(**changes) if changes else None
            cache[key] = (fit_video(model, lm, w, cfg), lm, w)
        return cache[key]

    return get
