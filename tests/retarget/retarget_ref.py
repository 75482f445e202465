"""Slow, obviously-correct reference of :func:`h2h_engine.retarget.retarget`: one output frame at a time.

Used by the retarget tests (the vectorised version must match it; ``conftest.py`` loads it as the ``reference``
fixture) and by ``benchmarks/bench_retarget.py``. Not part of the installed package.
"""
from __future__ import annotations

import numpy as np

from h2h_engine.geometry import EYES, MIN_OPENING, project
from h2h_engine.geometry.eyes import CORNERS, LOWER_LID, UPPER_LID
from h2h_engine.morphable import MorphableModel
from h2h_engine.track import FLAG_LOW_CONFIDENCE, FLAG_NO_FACE, FLAG_RETARGETED, Track


def source_row_ref(k: int, n_src: int, source_offset: int, past_end: str) -> int | None:
    """Source row for output position ``k`` (None: the output stops here)."""
    i = source_offset + k
    if i < n_src:
        return i
    if past_end == "stop":
        return None
    if past_end == "hold":
        return n_src - 1
    if past_end == "loop":
        while i >= n_src:
            i -= n_src
        return i
    # pingpong: walk forwards and backwards step by step
    pos, step = 0, 1
    for _ in range(i):
        if n_src == 1:
            break
        if not 0 <= pos + step < n_src:
            step = -step
        pos += step
    return pos


def _eye_frame(lm: np.ndarray, eye: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float, float]:
    idx = EYES[eye]
    a, b = lm[idx[CORNERS[0]]].astype(np.float64), lm[idx[CORNERS[1]]].astype(np.float64)
    up, lo = idx[list(UPPER_LID)], idx[list(LOWER_LID)]
    origin = (a + b) / 2
    width = max(float(np.hypot(*(b - a))), 1e-6)
    ex = (b - a) / width
    ey = np.array([-ex[1], ex[0]])
    upper = (lm[up[0]] + lm[up[1]]) / 2
    lower = (lm[lo[0]] + lm[lo[1]]) / 2
    hu, hl = float((upper - origin) @ ey), float((lower - origin) @ ey)
    return origin, ex, ey, width, (hu + hl) / 2, max(hl - hu, MIN_OPENING * width)


def _transfer_pupil(src_lm: np.ndarray, src_pupil: np.ndarray, out_lm: np.ndarray, eye: int) -> np.ndarray:
    o, ex, ey, w, mid, opening = _eye_frame(src_lm, eye)
    alpha = float((src_pupil - o) @ ex) / w
    beta = (float((src_pupil - o) @ ey) - mid) / opening
    o, ex, ey, w, mid, opening = _eye_frame(out_lm, eye)
    return o + alpha * w * ex + (mid + beta * opening) * ey


def retarget_ref(model: MorphableModel, source: Track, target: Track, mode: str = "head",
                 frames: tuple[int, int] | None = None, source_offset: int = 0, past_end: str = "stop",
                 neutral_offset: bool = True, neutral_percentile: float = 10.0) -> Track:
    """Same result as :func:`h2h_engine.retarget.retarget` (arrays only; ``meta`` is not filled in)."""
    if mode == "face":
        lo, hi = (target.frames[0], target.frames[-1]) if frames is None else frames
        wanted = [(int(f), r) for r, f in enumerate(target.frames) if lo <= f <= hi]
    else:
        lo = target.frames[0] if frames is None else frames[0]
        hi = lo + len(source) - source_offset - 1 if frames is None else frames[1]
        wanted = [(int(f), None) for f in range(lo, hi + 1)]
    plan = []
    for k, (f, trow) in enumerate(wanted):
        srow = source_row_ref(k, len(source), source_offset, past_end)
        if srow is None:
            break
        plan.append((f, srow, trow))
    used = sorted({srow for _, srow, _ in plan})

    src_neutral = np.percentile(source.expression[used], neutral_percentile, axis=0)
    tgt_neutral = np.percentile(target.expression, neutral_percentile, axis=0)
    centre = model.mean[model.landmarks].astype(np.float64).mean(axis=0)   # face centre: the point head mode places

    def centre_px(track: Track, row: int) -> np.ndarray:
        return project(centre[None], track.rotation[row:row + 1], track.translation[row:row + 1],
                       track.scale[row:row + 1])[0, 0, :2].astype(np.float64)

    src_p = np.mean([centre_px(source, r) for r in used], axis=0)
    src_s = np.mean([float(source.scale[r]) for r in used])
    tgt_p = np.mean([centre_px(target, r) for r in range(len(target))], axis=0)
    tgt_s = np.mean([float(s) for s in target.scale])

    out = {n: [] for n in ("frames", "landmarks", "pupils", "confidence", "flags", "expression", "rotation",
                           "translation", "scale")}
    lo_b, hi_b = model.exp_bounds
    for f, srow, trow in plan:
        e = source.expression[srow].astype(np.float32)
        if neutral_offset:
            e = e - src_neutral.astype(np.float32) + tgt_neutral.astype(np.float32)
        e = np.clip(e, lo_b, hi_b).astype(np.float32)
        if mode == "head":
            k = tgt_s / src_s
            R = source.rotation[srow]
            s = source.scale[srow] * k
            p = tgt_p + (centre_px(source, srow) - src_p) * k          # where the face centre goes
            rc = R @ centre
            t = p - np.array([s * rc[0], -s * rc[1]])
            conf = source.confidence[srow]
            flag = int(source.flags[srow]) & (FLAG_NO_FACE | FLAG_LOW_CONFIDENCE)
        else:
            R, t, s = target.rotation[trow], target.translation[trow], target.scale[trow]
            conf = min(source.confidence[srow], target.confidence[trow])
            flag = (int(source.flags[srow]) | int(target.flags[trow])) & (FLAG_NO_FACE | FLAG_LOW_CONFIDENCE)
        verts = model.shape(target.identity, e, vertices=model.landmarks)             # (68, 3)
        lm = project(verts, np.asarray(R)[None], np.asarray(t)[None], np.asarray([s]))[0, :, :2]
        pupils = [_transfer_pupil(source.landmarks[srow], source.pupils[srow, eye], lm, eye) for eye in (0, 1)]
        for name, value in (("frames", f), ("landmarks", lm), ("pupils", pupils), ("confidence", conf),
                            ("flags", flag | FLAG_RETARGETED), ("expression", e), ("rotation", R),
                            ("translation", t), ("scale", s)):
            out[name].append(value)
    n = len(plan)
    return Track(frames=np.array(out["frames"], np.int64), landmarks=np.array(out["landmarks"], np.float32),
                 pupils=np.array(out["pupils"], np.float32), confidence=np.array(out["confidence"], np.float32),
                 flags=np.array(out["flags"], np.uint8), identity=target.identity.copy(),
                 expression=np.array(out["expression"], np.float32),
                 rotation=np.array(out["rotation"], np.float32), translation=np.array(out["translation"], np.float32),
                 scale=np.array(out["scale"], np.float32), rmse=np.zeros(n, np.float32),
                 image_size=tuple(target.image_size), fps=float(target.fps), model_name=model.name,
                 model_digest=model.digest)
