"""Reenactment evaluation without ground truth (``h2h eval reenactment``): does the result do what the driving
track says, is it still the target actor, does it flicker?

The result (a synthesized movie or sequence, row ``i`` made from row ``i`` of the driving track) is tracked
with our own tracker and fit (:func:`h2h_engine.nodes.track.track_shot`) and measured against the driving
(retargeted) track:

- expression: per-frame RMS difference of the fitted expression coefficients; Pearson correlation over time
  of the ``jawOpen``, mouth-corner (``mouthSmile_L/R``, ``mouthStretch_L/R``) and blink (``eyeBlink_L/R``)
  coefficients (each group summed); mouth-landmark error (points 48-67, over the driving's inter-ocular
  distance) of the result's detections against the driving's projected landmarks;
- pose: rotation error (degrees) and translation error (pixels, of the face centre's image position). The
  driving track carries the pose the result must have: the source's in head mode, the target plate's own in
  face mode (``pose_reference`` says which);
- gaze: pupil error in eye-corner coordinates (eye widths) on frames whose driving eyes are open;
- identity: dlib's face descriptor (:mod:`.identity`) of result frames against the target's real frames and
  against the source's (mean distance to up to ``REFERENCE_FRAMES`` of each); the result keeps the target
  when the median distance to it is below dlib's 0.6 and (unless the source is the target's own footage)
  most frames are nearer the target than the source;
- temporal stability: mean L2 change inside the rendered face between consecutive frames after warping the
  next frame back along the 3DMM's own motion (the fitted track's facial flow), on a ``FLICKER_SIZE`` crop,
  pixel-weighted over the shot; the synthesizer's block joins (every ``Schedule.block`` rows) are listed.

Each figure stands beside ``real``: the same measurement of the real target plate over the same frames,
written first in the result's own format (its movie codec, or its sequence file type), tracked the same way
and compared with the target's track: the tracker's noise floor on footage that went through the result's
last step (zero for a lossless sequence, whose frames track exactly as the target's did; identity: the real
target frames against the target's references). ``baseline`` holds the same for another result of the same
driving track (e.g. the no-network ``instant`` preset's) when one is given. Identity descriptors are
computed on ``IDENTITY_FRAMES`` evenly spaced rows (dlib's network is the slow part). Frames where the
tracker found no face in the result are listed and left out of the means.
"""
from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from h2h_engine.errors import InputError, ModelMismatchError, NoFaceError
from h2h_engine.io import FramePattern, is_pattern, open_frames
from h2h_engine.io.writer import FrameWriter
from h2h_engine.geometry import MOUTH, eye_frame_coords, inter_ocular, rotation_error_deg
from h2h_engine.landmarks import eyes_open, track_landmarks
from h2h_engine.morphable import MorphableModel, load_model_for
from h2h_engine.io.timecode import rate_text
from h2h_engine.nodes.knobs import track_time
from h2h_engine.nodes.track import track_shot
from h2h_engine.render.conditioning import render_conditioning
from h2h_engine.render.crop import crop_box_for_track, crop_frames
from h2h_engine.retarget.hybrid import anchor_offset, face_centre
from h2h_engine.synthesis.inference import Schedule
from h2h_engine.track import FLAG_NO_FACE, Track

from .evaluate import l2_sum, pixel_weighted
from .identity import SAME_PERSON, face_descriptor, mean_distance

# Expression curves whose correlation over time is reported: name -> ICT coefficients summed.
CURVES = {"jaw_open": ("jawOpen",), "mouth_corners": ("mouthSmile_L", "mouthSmile_R", "mouthStretch_L",
                                                     "mouthStretch_R"),
          "blinks": ("eyeBlink_L", "eyeBlink_R")}
# dlib's ResNet costs 0.15-0.4 s a face on these CPUs: identity is measured on evenly spaced rows.
IDENTITY_FRAMES = 16   # result (and real plate) rows that get a descriptor by default (0: every row)
REFERENCE_FRAMES = 8   # real frames of the target (and of the source) whose descriptors identify them
FLICKER_SIZE = 256     # side of the face crop the flicker is measured on, px


@dataclass
class Scored:
    """Everything measured on one shot (a result, or the real plate) against its reference track, T rows."""

    track: Track                   # the shot as our tracker sees it
    series: dict[str, np.ndarray]  # per-frame error name -> (T,) float64 (NaN where undefined)
    curves: dict[str, tuple[np.ndarray, np.ndarray]]  # CURVES name -> ((T,) shot, (T,) reference)
    descriptors: np.ndarray        # (T, 128) dlib descriptors (NaN rows without a face)
    flicker: np.ndarray            # (T,) motion-compensated change from the previous frame (NaN at row 0)
    flicker_sums: list[tuple[float, int]]  # per-frame (sum of L2, pixels) of it, rows 1..T-1
    crops: np.ndarray              # (T, S, S, 3) uint8 face crops (the report shows them)

    @property
    def has_face(self) -> np.ndarray:
        """(T,) bool: the tracker found a face in the row."""
        return (self.track.flags & FLAG_NO_FACE) == 0


def _group(model: MorphableModel, expression: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """(T,) sum of the named coefficients of (T, n_exp) ``expression``."""
    return np.asarray(expression, np.float64)[:, [model.expression_index(n) for n in names]].sum(axis=1)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two (T,) series over their finite rows (NaN when either is constant)."""
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) < 1e-9 or np.std(b[ok]) < 1e-9:
        return float("nan")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def face_position(model: MorphableModel, track: Track) -> np.ndarray:
    """(T, 2) image position of the face centre (not the model origin, which sits behind the face)."""
    return track.translation + anchor_offset(track.rotation, track.scale, face_centre(model))


def transfer_series(model: MorphableModel, shot: Track, ref: Track) -> tuple[dict[str, np.ndarray],
                                                                              dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Per-frame transfer errors of a tracked shot against the reference track it should follow (same T)."""
    mouth = np.linalg.norm(shot.landmarks[:, MOUTH] - ref.landmarks[:, MOUTH], axis=-1)
    gaze = np.linalg.norm(eye_frame_coords(shot.landmarks, shot.pupils) - eye_frame_coords(ref.landmarks, ref.pupils),
                          axis=-1).mean(axis=1)  # (T,) eye widths, mean of both eyes
    series = {
        "expression_rmse": np.sqrt(((shot.expression.astype(np.float64) - ref.expression) ** 2).mean(axis=1)),
        "mouth_nme": mouth.mean(axis=1) / np.maximum(inter_ocular(ref.landmarks.astype(np.float64)), 1e-6),
        "rotation_deg": rotation_error_deg(shot.rotation, ref.rotation),
        "translation_px": np.linalg.norm(face_position(model, shot) - face_position(model, ref), axis=1),
        "gaze_error": np.where(eyes_open(ref.landmarks), gaze, np.nan),
    }
    curves = {k: (_group(model, shot.expression, names), _group(model, ref.expression, names))
              for k, names in CURVES.items()}
    return series, curves


def compensated_flicker(model: MorphableModel, track: Track, crops: np.ndarray, box: np.ndarray
                        ) -> tuple[np.ndarray, list[tuple[float, int]]]:
    """Change of (T, S, S, 3) uint8 face ``crops`` from frame t-1 to t once frame t is warped back along the
    3DMM motion of ``track`` (its facial flow), inside the face rendered in both frames.

    Returns (T,) per-frame means (NaN at row 0) and the per-frame (sum of L2, pixels) for pixel weighting.
    """
    size = crops.shape[1]
    cond = render_conditioning(model, track, (size, size), crop=box, what=("mask", "flow"))
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    out, sums = np.full(len(crops), np.nan), []
    for t in range(1, len(crops)):
        flow = cond.flow[t - 1]  # (S, S, 2): content at p of frame t-1 is at p + flow in frame t
        back = cv2.remap(crops[t], xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
        region = cond.mask[t - 1] & cond.mask[t]
        s = l2_sum(back, crops[t - 1], region)
        sums.append(s)
        out[t] = s[0] / s[1] if s[1] else np.nan
    return out, sums


def track_result(path: str, frame_range: tuple[int, int] | None, model_ref: str, what: str, made_from: Track,
                 progress: Callable[[int, int, str], None] | None = None) -> Track:
    """Our tracker and fit on a synthesized shot (what ``h2h track`` runs) at the rate of the track it was
    ``made_from`` (a PNG sequence carries none); NoFaceError naming it if faceless."""
    rate = rate_text(track_time(made_from)[0])
    try:
        return track_shot(path, frame_range, model=model_ref, progress=progress, fps=rate)
    except NoFaceError:
        raise NoFaceError(f"{what} {path} shows no face on any frame: nothing to evaluate "
                          "(is it the synthesized shot?)") from None


def identity_rows(n_rows: int, n: int) -> np.ndarray:
    """Rows (K,) of a T-row shot that get a face descriptor: ``n`` evenly spaced ones (all when n is 0)."""
    if n <= 0 or n >= n_rows:
        return np.arange(n_rows)
    return np.unique(np.linspace(0, n_rows - 1, n).round().astype(int))


def _describe_and_crop(path: str, frame_range: tuple[int, int] | None, track: Track, box: np.ndarray,
                       rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, 128) descriptors at ``track``'s landmarks on ``rows`` (NaN elsewhere and without a face) and
    (T, S, S, 3) face crops of the frames of ``path`` (in order; row i of the track is the i-th frame)."""
    desc = np.full((len(track), 128), np.nan)
    crops = np.zeros((len(track), FLICKER_SIZE, FLICKER_SIZE, 3), np.uint8)
    wanted = set(rows.tolist())
    for i, (_, rgb) in enumerate(open_frames(path, frame_range)):
        if i >= len(track):
            break
        if i in wanted and not track.flags[i] & FLAG_NO_FACE:
            desc[i] = face_descriptor(rgb, track.landmarks[i])
        crops[i] = crop_frames(rgb[None], box, (FLICKER_SIZE, FLICKER_SIZE))[0]
    return desc, crops


def _reference_descriptors(path: str, frames: np.ndarray, landmarks: np.ndarray | None) -> np.ndarray:
    """(K, 128) descriptors of up to REFERENCE_FRAMES evenly spaced frames of a real shot: at the given
    (T, 68, 2) landmarks of ``frames``, or (None) at landmarks tracked on a contiguous stretch of them."""
    if landmarks is None:  # the source: track a stretch in the middle of the frames used
        mid, half = len(frames) // 2, REFERENCE_FRAMES // 2
        lo, hi = int(frames[max(mid - half, 0)]), int(frames[min(mid + half, len(frames) - 1)])
        lm = track_landmarks(open_frames(path, (lo, hi)))
        keep = (lm.flags & FLAG_NO_FACE) == 0
        frames, landmarks = lm.frames[keep], lm.landmarks[keep]
    pick = np.unique(np.linspace(0, len(frames) - 1, min(REFERENCE_FRAMES, len(frames))).round().astype(int))
    wanted = {int(frames[j]): landmarks[j] for j in pick}
    out = []
    for f, rgb in open_frames(path, (min(wanted), max(wanted))):
        if f in wanted:
            out.append(face_descriptor(rgb, wanted[f]))
    if not out:
        raise InputError(f"{path}: no reference frames with a face for the identity check")
    return np.stack(out)


@dataclass
class Inputs:
    """The checked inputs of one evaluation."""

    model: MorphableModel
    model_ref: str        # what track_shot loads the model from
    driving: Track        # T rows, the reference of the result
    target: Track         # the target's own track, sliced to the driving's frames (T rows)
    target_all: Track     # the target's whole track (identity references)
    plate: str            # the target's real footage
    source: str | None    # the source's real footage (None: the driving track is the target's own)
    source_frames: np.ndarray
    mode: str             # "head" | "face" | "none" (the target's own track)


def _footage(recorded: Any, given: str | None, what: str, flag: str) -> str:
    """The real footage to use: ``given`` (the flag's value) or the path a track recorded, which must exist."""
    if given:
        return given
    if not isinstance(recorded, str) or not (is_pattern(recorded) or Path(recorded).is_file()):
        raise InputError(f"the {what} footage {recorded!r} recorded in the tracks is missing: pass {flag}")
    return recorded


def model_ref_of(track: Track) -> str:
    """What :func:`track_shot` loads a track's model from: the file it records when present, else its name."""
    recorded = track.meta.get("model_file")
    return recorded if isinstance(recorded, str) and Path(recorded).is_file() else track.model_name


def load_inputs(driving_path: str, target_path: str, plate: str | None = None,
                source: str | None = None) -> Inputs:
    """Load and cross-check the driving and target tracks (one model; the driving retargeted onto this target
    and inside its frames) and find the real footage of target and source."""
    driving, target_all = Track.load(driving_path), Track.load(target_path)
    if (driving.model_name, driving.model_digest) != (target_all.model_name, target_all.model_digest):
        raise ModelMismatchError(f"--driving {driving_path} was fitted with model {driving.model_name} "
                                 f"({driving.model_digest[:12]}), --target {target_path} with {target_all.model_name} "
                                 f"({target_all.model_digest[:12]}): use tracks made with one model")
    model = load_model_for(target_all, what=f"--target {target_path}")
    if driving.identity.shape != target_all.identity.shape or not np.allclose(driving.identity, target_all.identity):
        raise InputError(f"--driving {driving_path} is not on --target {target_path}'s identity: pass the h2h retarget "
                         "output made for this target")
    outside = np.setdiff1d(driving.frames, target_all.frames)
    if len(outside):
        raise InputError(f"--driving frames {driving.frames[0]}-{driving.frames[-1]} are not all in --target's "
                         f"{target_all.frames[0]}-{target_all.frames[-1]} (first missing: {outside[0]})")
    record = driving.meta.get("retarget")
    plate_path = _footage(target_all.meta.get("source"), plate, "target", "--plate")
    if record is None:
        src, src_frames, mode = None, driving.frames, "none"
    else:
        src = _footage(record.get("source", {}).get("meta", {}).get("source"), source, "source", "--source")
        src_frames, mode = np.asarray(record["source_frame_of_output"], np.int64), str(record["mode"])
    return Inputs(model=model, model_ref=model_ref_of(target_all), driving=driving,
                  target=target_all.slice(int(driving.frames[0]), int(driving.frames[-1])), target_all=target_all,
                  plate=plate_path, source=src, source_frames=src_frames, mode=mode)


def score_shot(path: str, frame_range: tuple[int, int] | None, ref: Track, inputs: Inputs, box: np.ndarray,
               what: str, identity_frames: int = IDENTITY_FRAMES,
               progress: Callable[[int, int, str], None] | None = None) -> Scored:
    """Track one shot (all its frames, or ``frame_range``) and measure it against ``ref`` (T rows)."""
    known = open_frames(path, frame_range).frame_numbers()
    if known is not None and len(known) != len(ref):
        raise InputError(f"{what} {path} has {len(known)} frames, the driving track {len(ref)} "
                         f"({ref.frames[0]}-{ref.frames[-1]}): evaluate the result of this driving track")
    shot = track_result(path, frame_range, inputs.model_ref, what, ref, progress)
    if len(shot) != len(ref):
        raise InputError(f"{what} {path} has {len(shot)} frames, the driving track {len(ref)}: evaluate the result "
                         "of this driving track")
    series, curves = transfer_series(inputs.model, shot, ref)
    desc, crops = _describe_and_crop(path, frame_range, shot, box, identity_rows(len(shot), identity_frames))
    flick, sums = compensated_flicker(inputs.model, shot, crops, box)
    return Scored(shot, series, curves, desc, flick, sums, crops)


def _identity(s: Scored, target_refs: np.ndarray, source_refs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T,) mean descriptor distance of each row to the target's and the source's references (NaN on rows
    without a descriptor)."""
    has = np.isfinite(s.descriptors).all(axis=1)
    d = np.nan_to_num(s.descriptors)
    return (np.where(has, mean_distance(d, target_refs), np.nan), np.where(has, mean_distance(d, source_refs), np.nan))


def _summary_of(s: Scored, target_refs: np.ndarray, source_refs: np.ndarray) -> dict[str, float]:
    """Shot-level figures of one Scored (means over rows with a face; identity: medians and shares over the
    rows with a descriptor)."""
    face = s.has_face
    out = {k: float(np.nanmean(v[face])) if np.isfinite(v[face]).any() else float("nan") for k, v in s.series.items()}
    out.update({f"{k}_corr": correlation(a[face], b[face]) for k, (a, b) in s.curves.items()})
    d_t, d_s = _identity(s, target_refs, source_refs)
    has = np.isfinite(d_t)
    out.update(identity_to_target=float(np.median(d_t[has])), identity_to_source=float(np.median(d_s[has])),
               nearer_target_share=float(np.mean(d_t[has] < d_s[has])),
               below_threshold_share=float(np.mean(d_t[has] < SAME_PERSON)),
               flicker=pixel_weighted(s.flicker_sums))
    return out


def _per_frame(s: Scored, target_refs: np.ndarray, source_refs: np.ndarray) -> dict[str, list]:
    """JSON-safe per-row series of one Scored (NaN as None) for plots and the --json output."""
    clean = lambda a: [None if not np.isfinite(v) else round(float(v), 5) for v in a]  # noqa: E731
    d_t, d_s = _identity(s, target_refs, source_refs)
    return {**{k: clean(v) for k, v in s.series.items()},
            **{f"{k}_shot": clean(a) for k, (a, _) in s.curves.items()},
            **{f"{k}_reference": clean(b) for k, (_, b) in s.curves.items()},
            "identity_to_target": clean(d_t), "identity_to_source": clean(d_s),
            "flicker": clean(s.flicker), "reprojection_rmse": clean(s.track.rmse),
            "no_face": [bool(v) for v in ~s.has_face]}


def reencode_plate(plate: str, frame_range: tuple[int, int], like: str, folder: Path) -> str:
    """The real plate's frames in ``frame_range`` written in the result's own format (its movie codec, or a
    sequence of its file type) under ``folder``: real footage that went through the result's last step."""
    if is_pattern(like):
        out = str(folder / f"plate.####{FramePattern.parse(like).suffix}")
    else:
        out = str(folder / f"plate{Path(like).suffix.lower()}")
    frames = open_frames(plate, frame_range)
    with FrameWriter(out, fps=frames.fps) as writer:
        for f, rgb in frames:
            writer.write(f, rgb)
    return out


@dataclass
class Evaluation:
    """A finished evaluation: the JSON summary plus what the QC report draws."""

    summary: dict[str, Any]
    inputs: Inputs
    result: Scored
    real: Scored
    box: np.ndarray


def evaluate_reenactment(result: str, driving: str, target: str, plate: str | None = None,
                         source: str | None = None, baseline: str | None = None,
                         identity_frames: int = IDENTITY_FRAMES,
                         progress: Callable[[int, int, str], None] | None = None) -> Evaluation:
    """Evaluate a synthesized ``result`` against its ``driving`` track and the ``target``'s own track.

    ``plate`` / ``source`` override the real footage the tracks record; ``baseline`` is another result of
    the same driving track (e.g. the no-network ``instant`` preset's) scored the same way;
    ``identity_frames`` rows of each shot get a face descriptor (0: all).
    """
    start = time.perf_counter()
    inp = load_inputs(driving, target, plate, source)
    first, last = int(inp.driving.frames[0]), int(inp.driving.frames[-1])
    box = crop_box_for_track(inp.model, inp.target)
    scored = score_shot(result, None, inp.driving, inp, box, "result", identity_frames, progress)
    with tempfile.TemporaryDirectory(prefix="h2h-eval-") as tmp:
        real = score_shot(reencode_plate(inp.plate, (first, last), result, Path(tmp)), None, inp.target, inp, box,
                          "target plate", identity_frames, progress)
    base = (score_shot(baseline, None, inp.driving, inp, box, "baseline", identity_frames, progress)
            if baseline else None)
    target_refs = _reference_descriptors(inp.plate, inp.target_all.frames, inp.target_all.landmarks)
    source_refs = (target_refs if inp.source is None
                   else _reference_descriptors(inp.source, np.unique(inp.source_frames), None))
    mine, floor = _summary_of(scored, target_refs, source_refs), _summary_of(real, target_refs, source_refs)
    other = _summary_of(base, target_refs, source_refs) if base else None
    measures = {k: {"result": v, "real": floor[k], **({"baseline": other[k]} if other else {})}
                for k, v in mine.items()}
    flick = scored.flicker
    block = Schedule().block
    joins = list(range(block, len(flick), block))  # rows whose frame starts a synthesis block
    # a self-driven shot (the source is the target's footage) cannot be nearer one than the other
    self_driven = inp.source is None or Path(inp.source).resolve() == Path(inp.plate).resolve()
    keeps = mine["identity_to_target"] < SAME_PERSON and (self_driven or mine["nearer_target_share"] > 0.5)
    seconds = time.perf_counter() - start
    summary: dict[str, Any] = {
        "result": str(result), "driving": str(driving), "target": str(target), "plate": inp.plate,
        "source": inp.source, "baseline": baseline, "mode": inp.mode,
        "pose_reference": {"head": "driving (source motion)", "face": "target plate (kept)",
                           "none": "target's own track"}[inp.mode],
        "frames": [first, last], "n_frames": len(inp.driving),
        "frames_without_face": [int(f) for f in inp.driving.frames[~scored.has_face]],
        "measures": measures,
        "identity": {"keeps_target": bool(keeps), "threshold": SAME_PERSON, "self_driven": self_driven,
                     "frames_described": int(np.isfinite(scored.descriptors).all(axis=1).sum()),
                     "reference_frames": {"target": len(target_refs), "source": len(source_refs)}},
        "flicker": {"result": mine["flicker"], "real": floor["flicker"],
                    "ratio": mine["flicker"] / floor["flicker"] if floor["flicker"] else float("nan"),
                    "crop_box": [round(float(v), 2) for v in box], "size": FLICKER_SIZE,
                    "block_joins": [{"frame": int(inp.driving.frames[j]), "flicker": float(flick[j])} for j in joins],
                    "median": float(np.nanmedian(flick)) if np.isfinite(flick).any() else float("nan")},
        "per_frame": {"frames": [int(f) for f in inp.driving.frames],
                      "result": _per_frame(scored, target_refs, source_refs),
                      "real": _per_frame(real, target_refs, source_refs)},
        "seconds": seconds, "frames_per_second": len(inp.driving) / seconds,
    }
    return Evaluation(summary, inp, scored, real, box)


def format_reenactment(summary: dict[str, Any]) -> str:
    """Human-readable table of a reenactment summary."""
    m = summary["measures"]
    has_base = any("baseline" in v for v in m.values())
    lines = [f"{summary['result']}: frames {summary['frames'][0]}-{summary['frames'][1]} ({summary['n_frames']}), "
             f"mode {summary['mode']}, pose against {summary['pose_reference']}, "
             f"{len(summary['frames_without_face'])} without a face",
             f"{'measure':<22} {'result':>9} {'real':>9}" + (f" {'baseline':>9}" if has_base else "")]
    for k, v in m.items():
        lines.append(f"{k:<22} {v['result']:>9.4f} {v['real']:>9.4f}" + (f" {v['baseline']:>9.4f}" if has_base else ""))
    ident, f = summary["identity"], summary["flicker"]
    lines.append(f"identity: {'keeps the target' if ident['keeps_target'] else 'DOES NOT keep the target'} "
                 f"(dlib threshold {ident['threshold']}); flicker {f['ratio']:.2f}x the real footage's; "
                 f"{len(f['block_joins'])} block joins; {summary['frames_per_second']:.1f} frames/s")
    return "\n".join(lines)

