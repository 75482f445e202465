"""Batch 3DMM fit of a whole clip: per-frame SOP cameras, one identity, per-frame expressions.

Alternates, for at most ``config.rounds`` rounds: the jawline correspondences (:mod:`.contour`), the bounded
shape solve with the cameras fixed (:mod:`.shape`), and the per-frame cameras with the shape fixed
(:func:`.sop.sop_pose`). The shape solves of all but the last round stop after
``config.round_solver_iterations`` warm-started steps (the next round refines them anyway); the last round,
reached when the cost stops falling by ``config.round_tolerance`` or after ``config.rounds``, solves exactly.
Alternating camera and shape updates creep slowly along the valley where face size trades against camera
scale, so after each earlier round the shape is extrapolated along the change the round made (1, 2, 4 times,
cameras refitted) while that lowers the cost. Frames with weight 0 (no face) take no part in the data term:
their expressions are carried by the smoothness term and their cameras are interpolated from the
neighbouring frames.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import NoFaceError
from ..geometry import BROWS, EYES, JAW, LEFT_JAW, MOUTH, NOSE, RIGHT_JAW, nme, project
from ..geometry import N_POINTS as N_LANDMARKS
from ..morphable import MorphableModel
from .config import FitConfig, load_fit_config
from .contour import ContourCandidates
from .shape import ShapeProblem, solve_shape
from .sop import sop_pose

EXTRAPOLATE = 3         # extrapolation trials (steps 1, 2, 4 times the round's shape change) after each round


@dataclass
class FitResult:
    """Fitted parameters of a clip (T frames), in the camera convention of :func:`h2h_engine.geometry.project`."""

    identity: np.ndarray     # (n_id,)
    expression: np.ndarray   # (T, n_exp)
    rotation: np.ndarray     # (T, 3, 3)
    translation: np.ndarray  # (T, 2)
    scale: np.ndarray        # (T,)
    rmse: np.ndarray         # (T,) landmark reprojection RMSE, px (over the 68 points; no-face frames: against
                             #      the landmarks given for them, NaN where those are not finite)
    cost: float = 0.0        # final objective (landmark residuals in model units, priors, smoothness)
    rounds: int = 0          # alternation rounds run


class _LandmarkBasis:
    """The model restricted to the points the 68 landmarks can use: the fixed landmark vertices, then the
    jawline candidate points (each a blend of two vertices, see :class:`ContourCandidates`)."""

    def __init__(self, model: MorphableModel) -> None:
        c = self.contour = ContourCandidates(model)
        lm = np.asarray(model.landmarks, np.int64)
        ends = np.concatenate([c.right_ends, c.left_ends])                              # (P, 2)
        lam = np.concatenate([c.right_lam, c.left_lam])[:, None, None]                 # (P, 1, 1)
        verts, inv = np.unique(np.concatenate([lm, ends.ravel()]), return_inverse=True)
        ends_rows = inv[N_LANDMARKS:].reshape(-1, 2)
        self.fixed_rows = inv[:N_LANDMARKS]                                            # (68,)
        n_real, n_right = len(verts), c.n_right
        self.right_rows = n_real + np.arange(n_right)                                  # (Pr,)
        self.left_rows = n_real + n_right + np.arange(len(ends) - n_right)             # (Pl,)
        self.cand_rows = np.concatenate([self.right_rows, self.left_rows])

        def blend_rows(a: np.ndarray) -> np.ndarray:  # (V, 3, n) -> (L, 3, n): the real vertices, then the blends
            real = a[verts]
            return np.ascontiguousarray(np.concatenate(
                [real, (1 - lam) * real[ends_rows[:, 0]] + lam * real[ends_rows[:, 1]]]), np.float64)

        self.mean = blend_rows(model.mean[:, :, None].astype(np.float64))[..., 0]      # (L, 3)
        self.id_basis = blend_rows(model.id_basis.transpose(1, 2, 0))                  # (L, 3, n_id)
        self.exp_basis = blend_rows(model.exp_basis.transpose(1, 2, 0))                # (L, 3, n_exp)

    def points(self, identity: np.ndarray, expression: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """(T, R, 3) model points of the subset rows (T, R) (or (R,) for every frame)."""
        base = self.mean + self.id_basis @ identity                                     # (L, 3)
        moved = base[None] + np.einsum("lcj,tj->tlc", self.exp_basis, expression)     # (T, L, 3)
        rows = np.broadcast_to(rows, (len(expression),) + np.shape(rows)[-1:]).astype(np.int64)
        return np.take_along_axis(moved, rows[:, :, None], axis=1)

    def rows(self, identity: np.ndarray, expression: np.ndarray, cameras: tuple, landmarks: np.ndarray) -> np.ndarray:
        """(T, 68) subset rows of the landmarks, jawline chosen by :meth:`ContourCandidates.select`."""
        rot, trans, scale = cameras
        cand = project(self.points(identity, expression, self.cand_rows), rot, trans, scale)[..., :2]
        right, left = self.contour.select(cand.astype(np.float64), landmarks)
        rows = np.tile(self.fixed_rows, (len(expression), 1))
        rows[:, RIGHT_JAW] = self.right_rows[right]
        rows[:, LEFT_JAW] = self.left_rows[left]
        return rows


def _landmark_weights(cfg: FitConfig) -> np.ndarray:
    """(68,) per-landmark weights from the config groups."""
    w = np.empty(N_LANDMARKS)
    w[JAW], w[BROWS], w[NOSE] = cfg.contour_weight, cfg.brow_weight, cfg.nose_weight
    w[EYES.ravel()], w[MOUTH] = cfg.eye_weight, cfg.mouth_weight
    return w


def _interpolate_cameras(rot: np.ndarray, trans: np.ndarray, scale: np.ndarray, face: np.ndarray) -> None:
    """Fill the cameras of frames without a face (in place) from the nearest frames with one."""
    if face.all():
        return
    from scipy.spatial.transform import Rotation, Slerp  # noqa: PLC0415 - only shots with faceless frames

    t = np.arange(len(face))
    known = t[face]
    if len(known) == 1:
        rot[~face] = rot[face]
    else:
        rot[~face] = Slerp(known, Rotation.from_matrix(rot[face]))(np.clip(t[~face], known[0], known[-1])).as_matrix()
    for k in range(2):
        trans[~face, k] = np.interp(t[~face], known, trans[face, k])
    scale[~face] = np.interp(t[~face], known, scale[face])


def _cameras(points: np.ndarray, landmarks: np.ndarray, weight: np.ndarray, face: np.ndarray, iterations: int,
             impl: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rot, trans, scale = sop_pose(points, landmarks, weight, iterations, impl=impl)
    _interpolate_cameras(rot, trans, scale, face)
    return rot, trans, scale


def _problem(basis: _LandmarkBasis, rows: np.ndarray, cameras: tuple, landmarks: np.ndarray, weight: np.ndarray,
             cfg: FitConfig, n_face: int, bounds: tuple, s_ref: float) -> ShapeProblem:
    """The shape problem for fixed cameras; ``s_ref`` (pixels per model unit) puts residuals in model units."""
    rot, trans, scale = cameras
    proj = np.stack([scale[:, None] * rot[:, 0], -scale[:, None] * rot[:, 1]], axis=1) / s_ref  # (T, 2, 3)
    return ShapeProblem(mean=basis.mean, id_basis=basis.id_basis, exp_basis=basis.exp_basis,
                        vertex=rows.astype(np.int32), proj=proj, offset=trans / s_ref, target=landmarks / s_ref,
                        weight=weight, id_prior=cfg.id_prior * n_face, exp_prior=cfg.exp_prior,
                        smoothness=cfg.smoothness, id_bounds=bounds[0], exp_bounds=bounds[1])


def fit_video(model: MorphableModel, landmarks: np.ndarray, weights: np.ndarray | None = None,
              config: FitConfig | None = None, impl: str = "native",
              progress: Callable[[int, int, str], None] | None = None) -> FitResult:
    """Fit the morphable model to a clip's 68-point landmarks.

    Args:
        model: the morphable model.
        landmarks: (T, 68, 2) detected landmarks, pixels (values of frames with weight 0 are ignored).
        weights: (T,) per-frame weights (1 = detected face, 0 = no face: parameters interpolated), or None.
        config: fit settings (default: ``h2h_engine/configs/fit.yaml``).
        impl: ``"native"`` (C++ kernels) or ``"ref"`` (numpy SOP + ``lsq_linear``; slow, small clips only).
        progress: called as ``progress(round, rounds, "fit")`` after each round.
    Returns:
        FitResult with per-frame cameras, expressions, the shared identity and the per-frame RMSE (px).
    """
    lm = np.asarray(landmarks, np.float64)
    if lm.ndim != 3 or lm.shape[1:] != (N_LANDMARKS, 2):
        raise ValueError(f"landmarks must have shape (T, 68, 2); got {lm.shape}")
    t_count = len(lm)
    w = np.ones(t_count) if weights is None else np.asarray(weights, np.float64)
    if w.shape != (t_count,) or not np.isfinite(w).all() or (w < 0).any():
        raise ValueError(f"weights must be (T={t_count},) finite and >= 0; got shape {w.shape}")
    face = w > 0
    if not face.any():
        raise NoFaceError("no frame has a face to fit (every frame weight is 0)")
    if not np.isfinite(lm[face]).all():
        raise ValueError("landmarks of frames with a face must be finite")
    given = lm
    lm = np.where(face[:, None, None], lm, 0.0)
    cfg = config or load_fit_config()
    bounds = (tuple(cfg.id_bounds or model.id_bounds), tuple(cfg.exp_bounds or model.exp_bounds))
    basis = _LandmarkBasis(model)
    weight = w[:, None] * _landmark_weights(cfg)[None]                                  # (T, 68)
    n_face = float(w.sum())

    identity = np.clip(np.zeros(model.n_id), *bounds[0])
    expression = np.clip(np.zeros((t_count, model.n_exp)), *bounds[1])
    rows = np.tile(basis.fixed_rows, (t_count, 1))
    cams = _cameras(basis.points(identity, expression, rows), lm, weight, face, cfg.sop_iterations, impl)
    s_ref = float(np.median(cams[2][face]))  # fixed for the whole fit so that the rounds' costs compare
    n_id_frames = int(round(n_face)) or 1
    prev, cost, done, final = np.inf, np.inf, 0, False
    for r in range(cfg.rounds):
        # Rounds before the last take a few warm-started solver steps; the last one solves exactly.
        final = final or r == cfg.rounds - 1
        rows = basis.rows(identity, expression, cams, lm)
        problem = _problem(basis, rows, cams, lm, weight, cfg, n_id_frames, bounds, s_ref)
        start = (identity, expression)
        identity, expression, _ = solve_shape(
            problem, identity, expression, impl=impl, tolerance=cfg.solver_tolerance,
            max_iterations=cfg.solver_iterations if final else cfg.round_solver_iterations)
        cams = _cameras(basis.points(identity, expression, rows), lm, weight, face, cfg.sop_iterations, impl)
        cost = _problem(basis, rows, cams, lm, weight, cfg, n_id_frames, bounds, s_ref).cost(identity, expression)
        if not final:
            step = 1.0
            for _ in range(EXTRAPOLATE):
                a_x = np.clip(identity + step * (identity - start[0]), *bounds[0])
                e_x = np.clip(expression + step * (expression - start[1]), *bounds[1])
                cams_x = _cameras(basis.points(a_x, e_x, rows), lm, weight, face, cfg.sop_iterations, impl)
                cost_x = _problem(basis, rows, cams_x, lm, weight, cfg, n_id_frames, bounds, s_ref).cost(a_x, e_x)
                if cost_x >= cost:
                    break
                identity, expression, cams, cost = a_x, e_x, cams_x, cost_x
                step *= 2
        done = r + 1
        if progress is not None:
            progress(done, cfg.rounds, "fit")
        if final:
            break
        final = prev - cost <= cfg.round_tolerance * cost  # converged: one last exact round
        prev = cost
    fit = FitResult(identity=identity, expression=expression, rotation=cams[0], translation=cams[1],
                    scale=cams[2], rmse=np.zeros(t_count), cost=float(cost), rounds=done)
    # Frames without a face: RMSE against the landmarks given for them (e.g. interpolated), NaN if not finite.
    fitted = fitted_landmarks(model, fit, np.where(np.isfinite(given), given, lm), basis=basis)
    fit.rmse = np.sqrt(((fitted - given) ** 2).sum(axis=2).mean(axis=1))
    return fit


def fitted_landmarks(model: MorphableModel, fit, landmarks: np.ndarray,
                     basis: _LandmarkBasis | None = None) -> np.ndarray:
    """(T, 68, 2) projected model landmarks of a fit (a FitResult or a Track), jawline chosen as in the fit.

    ``landmarks`` (T, 68, 2) are the detections the jawline correspondences are chosen against.
    """
    basis = basis or _LandmarkBasis(model)
    lm = np.asarray(landmarks, np.float64)
    identity = np.asarray(fit.identity, np.float64)
    expression = np.asarray(fit.expression, np.float64)
    cams = (np.asarray(fit.rotation, np.float64), np.asarray(fit.translation, np.float64),
            np.asarray(fit.scale, np.float64))
    rows = basis.rows(identity, expression, cams, lm)
    return project(basis.points(identity, expression, rows), *cams)[..., :2].astype(np.float64)


def landmark_nme(model: MorphableModel, fit, landmarks: np.ndarray) -> np.ndarray:
    """(T,) NME of the fitted model (:func:`h2h_engine.geometry.nme`: mean landmark error over the detections'
    inter-ocular distance).

    Args:
        model: the morphable model of the fit.
        fit: a FitResult or a Track (identity, expression, rotation, translation, scale).
        landmarks: (T, 68, 2) detected landmarks, pixels.
    """
    lm = np.asarray(landmarks, np.float64)
    return nme(fitted_landmarks(model, fit, lm), lm)
