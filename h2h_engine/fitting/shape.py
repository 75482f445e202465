"""The bounded batch shape solve: shared identity + per-frame expressions with the cameras fixed.

With the SOP cameras fixed, every landmark's projection is linear in the coefficients, so one solve is the
box-constrained linear least-squares problem (``z = (a, e_0 .. e_{T-1})``)::

    cost(z) = sum_{t,k} w_tk |P_t X_tk + o_t - y_tk|^2 + id_prior |a|^2 + exp_prior sum_t |e_t|^2
              + smoothness sum_t |e_{t-1} - 2 e_t + e_{t+1}|^2,     lo <= z <= hi
    X_tk = mean[v_tk] + id_basis[v_tk] a + exp_basis[v_tk] e_t

``impl="native"`` runs the structured projected-Newton solver of ``csrc/common/shape_solve.cpp``;
``impl="ref"`` builds the sparse matrix and calls ``scipy.optimize.lsq_linear(method="trf")``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ShapeProblem:
    """One bounded shape solve (T frames, K landmarks, L vertices in the subset the landmarks use).

    Attributes:
        mean: (L, 3) mean shape at the subset vertices.
        id_basis: (L, 3, n_id) identity basis at the subset vertices.
        exp_basis: (L, 3, n_exp) expression basis at the subset vertices.
        vertex: (T, K) int32 subset row of each landmark in each frame.
        proj: (T, 2, 3) linear part of each camera, image units (rows ``s R_0`` and ``-s R_1``).
        offset: (T, 2) camera translation, image units.
        target: (T, K, 2) detected landmarks, image units.
        weight: (T, K) weights of the squared landmark residuals (0 = unused).
        id_prior, exp_prior, smoothness: prior and smoothness weights (see the module docstring).
        id_bounds, exp_bounds: (lo, hi) boxes.
    """

    mean: np.ndarray
    id_basis: np.ndarray
    exp_basis: np.ndarray
    vertex: np.ndarray
    proj: np.ndarray
    offset: np.ndarray
    target: np.ndarray
    weight: np.ndarray
    id_prior: float
    exp_prior: float
    smoothness: float
    id_bounds: tuple[float, float]
    exp_bounds: tuple[float, float]

    @property
    def n_frames(self) -> int:
        return int(self.vertex.shape[0])

    @property
    def n_id(self) -> int:
        return int(self.id_basis.shape[2])

    @property
    def n_exp(self) -> int:
        return int(self.exp_basis.shape[2])

    def jacobians(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Weighted per-frame linear model of the landmark residuals ``J_id a + J_exp e_t + c``.

        Returns:
            j_id (T, 2K, n_id), j_exp (T, 2K, n_exp), c (T, 2K); rows ordered (k, u/v).
        """
        sw = np.sqrt(self.weight)[:, :, None, None]                                    # (T, K, 1, 1)
        ib = self.id_basis[self.vertex]                                                # (T, K, 3, n_id)
        eb = self.exp_basis[self.vertex]                                               # (T, K, 3, n_exp)
        j_id = sw * np.einsum("trc,tkci->tkri", self.proj, ib)
        j_exp = sw * np.einsum("trc,tkci->tkri", self.proj, eb)
        c = np.einsum("trc,tkc->tkr", self.proj, self.mean[self.vertex]) + self.offset[:, None] - self.target
        c = sw[..., 0] * c
        t, k = self.vertex.shape
        return j_id.reshape(t, 2 * k, -1), j_exp.reshape(t, 2 * k, -1), c.reshape(t, 2 * k)

    def points(self, identity: np.ndarray, expression: np.ndarray) -> np.ndarray:
        """(T, K, 3) landmark points ``X_tk`` of the model for these coefficients."""
        base = self.mean + self.id_basis @ identity                                      # (L, 3)
        moved = base[None] + np.einsum("lcj,tj->tlc", self.exp_basis, expression)      # (T, L, 3)
        return np.take_along_axis(moved, self.vertex[:, :, None].astype(np.int64), axis=1)

    def cost(self, identity: np.ndarray, expression: np.ndarray) -> float:
        """The full objective at (identity (n_id,), expression (T, n_exp))."""
        x = self.points(identity, expression)                                            # (T, K, 3)
        r = np.einsum("trc,tkc->tkr", self.proj, x) + self.offset[:, None] - self.target
        d2 = expression[:-2] - 2 * expression[1:-1] + expression[2:]
        return float((self.weight[..., None] * r**2).sum() + self.id_prior * (identity**2).sum()
                     + self.exp_prior * (expression**2).sum() + self.smoothness * (d2**2).sum())


def solve_shape(problem: ShapeProblem, identity: np.ndarray, expression: np.ndarray, impl: str = "native",
                max_iterations: int = 60, tolerance: float = 1e-10) -> tuple[np.ndarray, np.ndarray, float]:
    """Solve one bounded shape problem.

    Args:
        problem: the problem.
        identity: (n_id,) start (native solver warm start; the reference starts from it too).
        expression: (T, n_exp) start.
        impl: ``"native"`` (structured projected Newton) or ``"ref"`` (sparse ``lsq_linear``).
        max_iterations, tolerance: native solver limits (see ``fit.yaml``).
    Returns:
        identity (n_id,), expression (T, n_exp), cost (the full objective).
    """
    if impl == "native":
        from .. import _native

        a, e, cost, _ = _native.fit_shape_solve(
            problem.mean, problem.id_basis, problem.exp_basis, problem.vertex.astype(np.int32), problem.proj,
            problem.offset, problem.target, problem.weight, float(problem.id_prior), float(problem.exp_prior),
            float(problem.smoothness), tuple(problem.id_bounds), tuple(problem.exp_bounds),
            np.asarray(identity, np.float64), np.asarray(expression, np.float64), int(max_iterations),
            float(tolerance))
        return a, e, float(cost)
    if impl == "ref":
        return _solve_shape_ref(problem, identity, expression)
    raise ValueError(f"impl must be 'native' or 'ref'; got {impl!r}")


def shape_matrix(problem: ShapeProblem) -> tuple["scipy.sparse.csr_matrix", np.ndarray, np.ndarray, np.ndarray]:
    """The generic sparse form ``min |A z - b|^2, lo <= z <= hi`` of a problem (``cost = |A z - b|^2``).

    Returns:
        A (rows, n_id + T n_exp) CSR, b (rows,), lo, hi (n_id + T n_exp,).
    """
    import scipy.sparse  # noqa: PLC0415 - the reference only (scipy.sparse costs ~0.2 s a process to import)

    t_count, na, ne = problem.n_frames, problem.n_id, problem.n_exp
    j_id, j_exp, c = problem.jacobians()
    rows_per = j_id.shape[1]
    rows, cols, vals = [], [], []
    r0 = np.arange(t_count)[:, None, None] * rows_per + np.arange(rows_per)[None, :, None]  # (T, 2K, 1)
    rows.append(np.broadcast_to(r0, j_id.shape).ravel())
    cols.append(np.broadcast_to(np.arange(na), j_id.shape).ravel())
    vals.append(j_id.ravel())
    rows.append(np.broadcast_to(r0, j_exp.shape).ravel())
    cols.append((na + np.arange(t_count)[:, None, None] * ne + np.arange(ne)[None, None, :]
                 + np.zeros_like(j_exp, dtype=np.int64)).ravel())
    vals.append(j_exp.ravel())
    n_data = t_count * rows_per
    n_z = na + t_count * ne
    # Priors: sqrt(w) * z.
    prior = np.concatenate([np.full(na, np.sqrt(problem.id_prior)), np.full(t_count * ne, np.sqrt(problem.exp_prior))])
    rows.append(n_data + np.arange(n_z))
    cols.append(np.arange(n_z))
    vals.append(prior)
    n_rows = n_data + n_z
    # Smoothness: sqrt(w) * (e_{j-1} - 2 e_j + e_{j+1}) for j = 1 .. T-2.
    if t_count >= 3 and problem.smoothness > 0:
        sw = np.sqrt(problem.smoothness)
        j = np.arange(1, t_count - 1)[:, None]
        i = np.arange(ne)[None, :]
        r = (n_rows + (j - 1) * ne + i).ravel()
        for off, coef in ((-1, 1.0), (0, -2.0), (1, 1.0)):
            rows.append(r)
            cols.append((na + (j + off) * ne + i).ravel())
            vals.append(np.full(r.size, coef * sw))
        n_rows += (t_count - 2) * ne
    a = scipy.sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                                shape=(n_rows, n_z))
    b = np.zeros(n_rows)
    b[:n_data] = -c.ravel()
    lo = np.concatenate([np.full(na, problem.id_bounds[0]), np.full(t_count * ne, problem.exp_bounds[0])])
    hi = np.concatenate([np.full(na, problem.id_bounds[1]), np.full(t_count * ne, problem.exp_bounds[1])])
    return a, b, lo, hi


def _solve_shape_ref(problem: ShapeProblem, identity: np.ndarray,
                     expression: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Reference: the generic sparse problem solved by ``scipy.optimize.lsq_linear`` (trust-region reflective)."""
    import scipy.optimize  # noqa: PLC0415 - the reference only (its import costs ~0.2 s a process)

    a, b, lo, hi = shape_matrix(problem)
    res = scipy.optimize.lsq_linear(a, b, bounds=(lo, hi), method="trf", tol=1e-6)
    z = res.x
    na = problem.n_id
    return z[:na], z[na:].reshape(problem.n_frames, problem.n_exp), float(2 * res.cost)
