"""Hybrid parameters (paper section III-B): a new track mixing a source shot's motion into a target shot.

- ``head`` mode: target identity; source expression and rotation; source scale and placement re-expressed
  relative to the target: ``s = s_src * k`` with ``k = mean(s_tgt) / mean(s_src)``, and the image position
  ``p`` of the face centre (see :func:`face_centre`) ``p = mean(p_tgt) + (p_src - mean(p_src)) * k``, so the
  face sits where the target's face sits on average and moves as the source's moves (means over the source
  frames used, each once, and over all target frames). Placing the face centre rather than the model origin
  (about 10 cm behind the face) keeps a source that pitches or turns differently from the target from
  shifting the face off the target's position.
- ``face`` mode: target identity and the target's rotation, translation and scale at every output frame;
  source expression.
- Expressions: optionally ``e_src - neutral(src) + neutral(tgt)``, where ``neutral`` is a low percentile of
  each coefficient over the shot, then clipped to the model's bounds.
- Gaze: source pupils in eye coordinates (see :mod:`.gaze`) placed into the retargeted eyes. Blinks follow the
  source through its eyeBlink_* coefficients and the landmarks.
- Landmarks of the output are the retargeted model's own projected landmark vertices (not detections), so
  the eye image RenderNMFC draws from landmarks and pupils shows the retargeted eyes and mouth.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import FrameRangeError, ModelMismatchError
from ..geometry import project
from ..morphable import MorphableModel
from ..track import FLAG_LOW_CONFIDENCE, FLAG_NO_FACE, FLAG_RETARGETED, Track
from .gaze import eye_coords_to_pupils, pupils_to_eye_coords
from .timing import PAST_END, source_rows

MODES = ("head", "face")
_CARRIED_FLAGS = FLAG_NO_FACE | FLAG_LOW_CONFIDENCE  # quality bits kept from the frames that drive the output


def neutral_expression(expression: np.ndarray, percentile: float) -> np.ndarray:
    """A shot's resting expression: the given low percentile of each coefficient.

    Args:
        expression: (T, n_exp) coefficients.
        percentile: in [0, 100].
    Returns:
        (n_exp,) float64.
    """
    return np.percentile(np.asarray(expression, np.float64), percentile, axis=0)


def transfer_expression(expression: np.ndarray, bounds: tuple[float, float],
                        source_neutral: np.ndarray | None = None,
                        target_neutral: np.ndarray | None = None) -> np.ndarray:
    """Source expressions moved from the source's resting face to the target's, clipped to the bounds.

    Args:
        expression: (K, n_exp) source coefficients.
        bounds: (lo, hi) of the model's expression coefficients.
        source_neutral, target_neutral: (n_exp,) resting expressions, or None for no offset.
    Returns:
        (K, n_exp) float64.
    """
    e = np.asarray(expression, np.float64)
    if source_neutral is not None and target_neutral is not None:
        e = e - source_neutral + target_neutral
    return np.clip(e, bounds[0], bounds[1])


def face_centre(model: MorphableModel) -> np.ndarray:
    """(3,) the anchor whose image position head mode maps: centroid of the mean face's landmark vertices."""
    return model.mean[model.landmarks].astype(np.float64).mean(axis=0)


def anchor_offset(rotation: np.ndarray, scale: np.ndarray, anchor: np.ndarray) -> np.ndarray:
    """(K, 2) pixel offset of ``anchor`` from the camera translation (image of ``anchor`` = t + offset)."""
    cam = np.einsum("kij,j->ki", np.asarray(rotation, np.float64), anchor) * np.asarray(scale, np.float64)[:, None]
    return np.stack([cam[:, 0], -cam[:, 1]], axis=-1)


def placement(track: Track, rows: np.ndarray, anchor: np.ndarray) -> tuple[np.ndarray, float]:
    """Mean image position (2,) of ``anchor`` and mean scale of a track over some rows."""
    pos = track.translation[rows] + anchor_offset(track.rotation[rows], track.scale[rows], anchor)
    return pos.mean(axis=0), float(np.mean(track.scale[rows], dtype=np.float64))


def head_pose(rotation: np.ndarray, translation: np.ndarray, scale: np.ndarray, anchor: np.ndarray,
              source_mean: tuple[np.ndarray, float], target_mean: tuple[np.ndarray, float]
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source cameras re-expressed around the target's mean face placement.

    The image position ``p`` of ``anchor`` (the face centre) becomes ``mean(p_tgt) + (p_src - mean(p_src)) * k``
    and the scale ``s_src * k``, ``k = mean(s_tgt) / mean(s_src)``; rotation is the source's.

    Args:
        rotation: (K, 3, 3), translation: (K, 2), scale: (K,) source cameras.
        anchor: (3,) model point whose placement is mapped.
        source_mean, target_mean: (mean anchor position (2,), mean scale) of each shot (see :func:`placement`).
    Returns:
        rotation (K, 3, 3), translation (K, 2), scale (K,) float64.
    """
    rotation = np.array(rotation, np.float64)
    k = target_mean[1] / source_mean[1]
    s = np.asarray(scale, np.float64) * k
    p_src = translation + anchor_offset(rotation, scale, anchor)                               # (K, 2)
    p = target_mean[0] + (p_src - source_mean[0]) * k
    return rotation, p - anchor_offset(rotation, s, anchor), s


def check_models(model: MorphableModel, source: Track, target: Track) -> None:
    """Raise ModelMismatchError unless both tracks were made with ``model``."""
    if source.model_digest != target.model_digest:
        raise ModelMismatchError(
            f"source track was made with model {source.model_name} ({source.model_digest}) but target track with "
            f"{target.model_name} ({target.model_digest}): re-track both shots with the same model")
    model.check_compatible(target.model_name, target.model_digest, "the target track")
    for what, tr in (("source", source), ("target", target)):
        if tr.expression.shape[1] != model.n_exp or len(tr.identity) != model.n_id:
            raise ModelMismatchError(f"the {what} track has {len(tr.identity)} identity and "
                                     f"{tr.expression.shape[1]} expression coefficients; model {model.name} has "
                                     f"{model.n_id} and {model.n_exp}")


def output_timing(source: Track, target: Track, mode: str, frames: tuple[int, int] | None,
                  source_offset: int, past_end: str, within_target: bool = False
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Output frame numbers, the source row driving each, and (face mode) the target row posing each.

    Output frames are numbered like the target's. Face mode: the target frames in ``frames`` (default: all).
    Head mode: ``frames`` (default: as many frames as the source has from ``source_offset`` on, numbered from the
    target's first frame); no target frame is needed per output frame, unless ``within_target`` keeps the
    output inside the target's frames (what compositing onto the target's plate needs).

    Returns:
        frames (K,) int64, source rows (K,) int64, target rows (K,) int64 or None (head mode).
    """
    if mode == "face":
        lo, hi = (int(target.frames[0]), int(target.frames[-1])) if frames is None else frames
        if lo < target.frames[0] or hi > target.frames[-1]:
            raise FrameRangeError(f"face mode takes every output frame's pose from the target, whose frames are "
                                  f"{target.frames[0]}-{target.frames[-1]}; got --frames {lo}-{hi}")
        tgt_rows = np.nonzero((target.frames >= lo) & (target.frames <= hi))[0]
        if len(tgt_rows) == 0:
            raise FrameRangeError(f"the target track has no frames in {lo}-{hi}")
        out_frames = target.frames[tgt_rows].astype(np.int64)
    else:
        tgt_rows = None
        if frames is None:
            n = len(source) - source_offset
            if n <= 0:
                raise FrameRangeError(f"source offset {source_offset} is past the source's {len(source)} frames; "
                                      f"use a smaller --source-offset or give --frames")
            frames = (int(target.frames[0]), int(target.frames[0]) + n - 1)
        if within_target:
            frames = (max(frames[0], int(target.frames[0])), min(frames[1], int(target.frames[-1])))
            if frames[0] > frames[1]:
                raise FrameRangeError(f"no output frame is inside the target's frames {target.frames[0]}-"
                                      f"{target.frames[-1]}")
        out_frames = np.arange(frames[0], frames[1] + 1, dtype=np.int64)
    rows = source_rows(len(out_frames), len(source), source_offset, past_end)
    k = len(rows)
    return out_frames[:k], rows, None if tgt_rows is None else tgt_rows[:k]


def retarget(model: MorphableModel, source: Track, target: Track, mode: str = "head",
             frames: tuple[int, int] | None = None, source_offset: int = 0, past_end: str = "stop",
             neutral_offset: bool = True, neutral_percentile: float = 10.0,
             provenance: dict[str, Any] | None = None, within_target: bool = False) -> Track:
    """Mix a source shot's expression, gaze (and in head mode, head motion) into a target shot.

    Args:
        model: the morphable model both tracks were made with.
        source: the driving track (expression, gaze, blinks; head pose in head mode).
        target: the track whose identity (and in face mode, pose) the output keeps.
        mode: ``head`` or ``face`` (see the module docstring).
        frames: inclusive output frame range, numbered like the target's (see :func:`output_timing`).
        source_offset: source row driving the first output frame.
        past_end: what drives output frames past the source's end: ``stop``, ``hold``, ``loop``, ``pingpong``.
        neutral_offset: move the source's resting expression onto the target's.
        neutral_percentile: percentile of each coefficient over a shot taken as its resting value.
        provenance: extra JSON-safe facts recorded in ``meta["retarget"]`` (e.g. the input paths).
        within_target: head mode: keep the output inside the target's frames (face mode always is).
    Returns:
        A Track with K output frames: (K, 68, 2) model landmarks, (K, 2, 2) pupils, target identity,
        FLAG_RETARGETED set on every frame, ``meta["retarget"]`` describing how it was made.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}; got {mode!r}")
    if past_end not in PAST_END:
        raise ValueError(f"past_end must be one of {PAST_END}; got {past_end!r}")
    check_models(model, source, target)
    out_frames, rows, tgt_rows = output_timing(source, target, mode, frames, source_offset, past_end, within_target)
    used = np.unique(rows)  # statistics count each source frame once

    neutrals = (None, None)
    if neutral_offset:
        neutrals = (neutral_expression(source.expression[used], neutral_percentile),
                    neutral_expression(target.expression, neutral_percentile))
    expression = transfer_expression(source.expression[rows], model.exp_bounds, *neutrals)   # (K, n_exp)

    if mode == "head":
        anchor = face_centre(model)
        rotation, translation, scale = head_pose(source.rotation[rows], source.translation[rows],
                                                 source.scale[rows], anchor, placement(source, used, anchor),
                                                 placement(target, np.arange(len(target)), anchor))
        confidence = source.confidence[rows]
        flags = source.flags[rows] & _CARRIED_FLAGS
    else:
        rotation, translation, scale = target.rotation[tgt_rows], target.translation[tgt_rows], target.scale[tgt_rows]
        confidence = np.minimum(source.confidence[rows], target.confidence[tgt_rows])
        flags = (source.flags[rows] | target.flags[tgt_rows]) & _CARRIED_FLAGS

    points = model.shape(target.identity, expression, vertices=model.landmarks)              # (K, 68, 3)
    landmarks = project(points, rotation, translation, scale)[..., :2]                        # (K, 68, 2)
    gaze = pupils_to_eye_coords(source.landmarks[rows], source.pupils[rows])                  # (K, 2, 2)
    pupils = eye_coords_to_pupils(landmarks, gaze)                                            # (K, 2, 2)

    record = {
        "mode": mode,
        "knobs": {"frames": None if frames is None else list(frames), "source_offset": int(source_offset),
                  "past_end": past_end, "neutral_offset": bool(neutral_offset),
                  "neutral_percentile": float(neutral_percentile), "within_target": bool(within_target)},
        "model": {"name": model.name, "digest": model.digest},
        "source": {"frames": [int(source.frames[0]), int(source.frames[-1])], "fps": float(source.fps),
                   "image_size": list(source.image_size), "meta": _without_retarget(source.meta)},
        "target": {"frames": [int(target.frames[0]), int(target.frames[-1])], "fps": float(target.fps),
                   "image_size": list(target.image_size), "meta": _without_retarget(target.meta)},
        "source_frame_of_output": source.frames[rows].astype(int).tolist(),
        **(provenance or {}),
    }
    arrays = {"frames": out_frames, "landmarks": landmarks, "pupils": pupils, "confidence": confidence,
              "flags": np.asarray(flags) | FLAG_RETARGETED, "identity": target.identity, "expression": expression,
              "rotation": rotation, "translation": translation, "scale": scale, "rmse": np.zeros(len(out_frames))}
    # every array keeps the dtype the target's has (so face mode and identity are bit-exact copies)
    arrays = {n: np.array(v, dtype=getattr(target, n).dtype) for n, v in arrays.items()}
    return Track(**arrays, image_size=tuple(target.image_size), fps=float(target.fps), model_name=model.name,
                 model_digest=model.digest, meta={**_without_retarget(target.meta), "retarget": record})


def _without_retarget(meta: dict[str, Any]) -> dict[str, Any]:
    """A track's meta without its own retarget record (keeps chained records from growing)."""
    return {k: v for k, v in meta.items() if k != "retarget"}
