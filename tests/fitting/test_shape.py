"""Bounded batch shape solve: the structured native solver against the generic sparse lsq_linear reference."""
from __future__ import annotations

import numpy as np
import pytest

from h2h_engine.fitting import load_fit_config
from h2h_engine.fitting.shape import shape_matrix, solve_shape
from h2h_engine.fitting.video import _cameras, _landmark_weights, _LandmarkBasis, _problem


def _real_problem(model, lm, w, **changes):
    cfg = load_fit_config().replace(**changes)
    basis = _LandmarkBasis(model)
    weight = w[:, None] * _landmark_weights(cfg)[None]
    rows = np.tile(basis.fixed_rows, (len(lm), 1))
    zero_e = np.zeros((len(lm), model.n_exp))
    cams = _cameras(basis.points(np.zeros(model.n_id), zero_e, rows), lm, weight, w > 0, 5, "native")
    rows = basis.rows(np.zeros(model.n_id), zero_e, cams, lm)
    bounds = (tuple(cfg.id_bounds or model.id_bounds), tuple(cfg.exp_bounds or model.exp_bounds))
    return _problem(basis, rows, cams, lm, weight, cfg, int(w.sum()), bounds, float(np.median(cams[2])))


@pytest.mark.parametrize("changes", [{}, {"smoothness": 0.0, "exp_bounds": [0.0, 0.3], "id_bounds": [-1.0, 1.0]}])
def test_matches_lsq_linear(model, clip_landmarks, changes):
    lm, w = clip_landmarks("German_20s", 0, 7)
    w = w.copy()
    w[3] = 0.0  # a frame without a face: carried by the priors and the smoothness term
    problem = _real_problem(model, lm, w, **changes)
    a0, e0 = np.zeros(model.n_id), np.zeros((len(lm), model.n_exp))
    a_nat, e_nat, c_nat = solve_shape(problem, a0, e0, impl="native")
    a_ref, e_ref, c_ref = solve_shape(problem, a0, e0, impl="ref")
    assert abs(c_nat - problem.cost(a_nat, e_nat)) <= 1e-9 * c_nat
    assert abs(c_ref - problem.cost(a_ref, e_ref)) <= 1e-9 * c_ref
    assert abs(c_nat - c_ref) <= 1e-4 * c_ref
    assert c_nat <= c_ref * (1 + 1e-7)  # the native solver converges at least as far
    np.testing.assert_allclose(a_nat, a_ref, atol=2e-3)
    np.testing.assert_allclose(e_nat, e_ref, atol=1e-2)
    lo, hi = problem.exp_bounds
    assert e_nat.min() >= lo and e_nat.max() <= hi
    assert np.abs(a_nat).max() <= problem.id_bounds[1]
    if changes:
        assert (e_nat >= hi - 1e-12).any() and (np.abs(a_nat) >= 1 - 1e-12).any()  # upper bounds are active


def test_matrix_form_is_the_cost(model, clip_landmarks):
    lm, w = clip_landmarks("German_20s", 0, 7)
    problem = _real_problem(model, lm, w)
    rng = np.random.default_rng(0)
    a, e = rng.normal(size=model.n_id), rng.uniform(0, 1, (len(lm), model.n_exp))
    mat, b, lo, hi = shape_matrix(problem)
    z = np.concatenate([a, e.ravel()])
    assert np.isclose(((mat @ z - b) ** 2).sum(), problem.cost(a, e), rtol=1e-10)
    assert lo.shape == hi.shape == z.shape


def test_warm_start_is_one_step(model, clip_landmarks):
    lm, w = clip_landmarks("German_20s", 0, 39)
    problem = _real_problem(model, lm, w)
    a0, e0 = np.zeros(model.n_id), np.zeros((len(lm), model.n_exp))
    a, e, cost = solve_shape(problem, a0, e0)
    from h2h_engine import _native

    out = _native.fit_shape_solve(problem.mean, problem.id_basis, problem.exp_basis, problem.vertex, problem.proj,
                                  problem.offset, problem.target, problem.weight, problem.id_prior,
                                  problem.exp_prior, problem.smoothness, problem.id_bounds, problem.exp_bounds,
                                  a, e, 60, 1e-10)
    assert out[3] <= 2 and abs(out[2] - cost) <= 1e-9 * cost


def test_exception(model, clip_landmarks):
    lm, w = clip_landmarks("German_20s", 0, 7)
    problem = _real_problem(model, lm, w)
    with pytest.raises(ValueError, match="impl"):
        solve_shape(problem, np.zeros(model.n_id), np.zeros((len(lm), model.n_exp)), impl="gpu")
    with pytest.raises(ValueError, match="expression must have shape"):
        solve_shape(problem, np.zeros(model.n_id), np.zeros((len(lm) + 1, model.n_exp)))
