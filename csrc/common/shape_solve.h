// Bounded batch shape solve: one identity shared by a clip, one expression vector per frame, cameras fixed.
//
// With the SOP cameras fixed, a landmark's projection is linear in the coefficients, so the problem is the
// box-constrained linear least squares
//   min_z  sum_{t,k} w_tk |P_t X_tk(a, e_t) + o_t - y_tk|^2 + id_prior |a|^2 + exp_prior sum_t |e_t|^2
//          + smoothness sum_t |e_{t-1} - 2 e_t + e_{t+1}|^2,       id_lo <= a <= id_hi, exp_lo <= e_t <= exp_hi
// with X_tk = mean[v] + id_basis[v] a + exp_basis[v] e_t, v = vertex[t, k].
//
// Solver: projected Newton (Bertsekas 1982) on the normal equations. Each step solves the free-variable
// Newton system, which is block-pentadiagonal in the per-frame expression blocks plus one dense identity
// block: a block-banded Cholesky of the (compacted) expression part and a Schur complement for the identity.
#pragma once

namespace h2h {

struct ShapeSolveParams {
  int frames = 0;                    // T
  int points = 0;                    // K landmarks per frame
  int vertices = 0;                  // L rows of the vertex subset the landmarks index
  int n_id = 0;                      // identity coefficients
  int n_exp = 0;                     // expression coefficients per frame
  const double* mean = nullptr;      // (L, 3) mean shape at the subset vertices
  const double* id_basis = nullptr;  // (L, 3, n_id) identity basis at the subset vertices
  const double* exp_basis = nullptr; // (L, 3, n_exp) expression basis at the subset vertices
  const int* vertex = nullptr;       // (T, K) row of the subset each landmark uses in each frame
  const double* proj = nullptr;      // (T, 2, 3) linear part of each frame's camera (image units)
  const double* offset = nullptr;    // (T, 2) translation of each frame's camera (image units)
  const double* target = nullptr;    // (T, K, 2) detected landmarks (image units)
  const double* weight = nullptr;    // (T, K) non-negative weights of the squared landmark residuals
  double id_prior = 1.0;             // weight of |a|^2 (> 0)
  double exp_prior = 1.0;            // weight of |e_t|^2 per frame (> 0)
  double smoothness = 0.0;           // weight of the squared second differences of the expressions (>= 0)
  double id_lo = -3, id_hi = 3;      // identity box
  double exp_lo = 0, exp_hi = 1;     // expression box
  int max_iterations = 50;           // projected Newton iterations at most
  double tolerance = 1e-12;          // stop when a full step lowers the cost by less than this fraction
  double* identity = nullptr;        // in/out (n_id): start (clipped into the box), then the solution
  double* expression = nullptr;      // in/out (T, n_exp): start, then the solution
  int iterations_done = 0;           // out: Newton iterations taken
  double cost = 0.0;                 // out: the full objective above at the solution
};

void ShapeSolve(ShapeSolveParams& p);

}  // namespace h2h
