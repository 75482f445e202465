"""Track node: 68 landmarks + pupils per frame, then the batch 3DMM fit of the whole shot (paper III-A)."""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np

from ..fitting import fit_video, landmark_nme, load_fit_config
from ..io import open_frames
from ..io.timecode import parse_rate, rate_text
from ..landmarks import track_landmarks
from ..morphable import load_model, load_model_for, resolve_model_path
from ..track import FLAG_NO_FACE, Track
from .knobs import COLOURSPACE, FORCE
from .spec import Knob, NodeSpec, Port


def track_shot(input: str, frames: tuple[int, int] | None = None, model: str = "ict", config: str = "",
               detector: str = "hog", face: str = "largest", colourspace: str = "auto",
               progress: Callable[[int, int, str], None] | None = None, fps: str = "",
               first_frame: int = 0) -> Track:
    """Landmarks, pupils and the batch 3DMM fit of one shot (movie or sequence) as a Track (nothing written).
    The track's meta keeps the source's exact rate, a movie's ``first_frame`` and the timecode of the first
    tracked frame, so every later node numbers, rates and stamps its outputs the same way."""
    mm = load_model(model)
    cfg = load_fit_config(config or None)
    source = open_frames(input, frames, colourspace, fps=fps or None, first_frame=first_frame)
    rate = rate_text(parse_rate(source.fps))  # source.fps: InputError before any work for a sequence without one
    known = source.frame_numbers()
    lm = track_landmarks(source, detector=detector, face=face, progress=progress,
                         total=len(known) if known else None)
    weights = np.where(lm.flags & FLAG_NO_FACE, 0.0, 1.0).astype(np.float32)  # (T,)
    fit = fit_video(mm, lm.landmarks, weights, cfg, progress=progress)
    timecode = source.timecode_of(int(lm.frames[0]))
    return Track(frames=lm.frames, landmarks=lm.landmarks, pupils=lm.pupils, confidence=lm.confidence,
                 flags=lm.flags, identity=fit.identity, expression=fit.expression, rotation=fit.rotation,
                 translation=fit.translation, scale=fit.scale, rmse=fit.rmse, image_size=lm.image_size,
                 fps=source.fps, model_name=mm.name, model_digest=mm.digest,
                 meta={"source": str(input), "detector": detector, "face": face, "colourspace": colourspace,
                       "config": dataclasses.asdict(cfg), "model_file": str(resolve_model_path(model).resolve()),
                       "rate": rate, "first_frame": source.first_frame,
                       **({"timecode": [int(lm.frames[0]), timecode]} if timecode else {})})


def run(input: str, output: str, frames: tuple[int, int] | None, model: str, config: str, detector: str,
        face: str, colourspace: str, force: bool, progress: Callable[[int, int, str], None], fps: str = "",
        first_frame: int = 0) -> dict[str, Any]:
    """Track one shot and write its track file; returns :func:`summarize`'s dict. (``force``, replacing an
    existing OUT, is applied by the spec's output claim before this runs.)"""
    track = track_shot(input, frames, model, config, detector, face, colourspace, progress, fps, first_frame)
    track.save(output)
    return summarize(track)


def summarize(track: Track) -> dict[str, Any]:
    """What ``h2h info`` prints: frame counts, reprojection RMSE (px) and fitted-model NME."""
    mm = load_model_for(track)
    valid = (track.flags & FLAG_NO_FACE) == 0
    nme = landmark_nme(mm, track, track.landmarks)  # (T,)
    return {
        "frames": int(len(track)), "first_frame": int(track.frames[0]), "last_frame": int(track.frames[-1]),
        "fps": float(track.fps), "image_size": list(track.image_size),
        "frames_without_face": int((~valid).sum()),
        "rmse_px_mean": float(track.rmse[valid].mean()) if valid.any() else None,
        "rmse_px_max": float(track.rmse[valid].max()) if valid.any() else None,
        "nme_mean": float(nme[valid].mean()) if valid.any() else None,
        "model": track.model_name, "retargeted": "retarget" in track.meta,
    }


SPEC = NodeSpec(
    name="track",
    help="Track a shot: 68 landmarks and pupils per frame, then fit the 3D morphable model to the whole clip.",
    inputs=(Port("input", "frames", "movie (mp4/mov/avi/mpg) or image sequence (shot.####.exr, %04d, $F4)"),),
    outputs=(Port("output", "track", "track file to write (.h2h.npz)", flag="-o"),),
    knobs=(
        Knob("frames", "frames", None, "inclusive frame range A-B (movies count from --first-frame)"),
        Knob("fps", "str", "", "frame rate (24, 25, 24000/1001 or 23.976); default: the EXR header's "
             "framesPerSecond or the movie's rate; a sequence without one needs it"),
        Knob("first_frame", "int", 0, "number of a movie's first frame: 0 the engine's numbering, 1 Nuke's for a "
             "movie Read, 1001 a plate's; sequences keep their file numbers", minimum=0, maximum=10_000_000),
        Knob("model", "str", "ict", "morphable model: a name on the model path or a .h2hmm.npz file"),
        Knob("config", "path", "", "fit config YAML overriding h2h_engine/configs/fit.yaml"),
        Knob("detector", "choice", "hog", "face detector for (re-)detections", choices=("hog", "cnn")),
        Knob("face", "str", "largest", "face to follow: largest, center or index:N (N-th from the left)"),
        COLOURSPACE, FORCE,
    ),
    run=run,
)
