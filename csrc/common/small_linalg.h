// Small dense helpers shared by the fitting kernels (3x3 algebra, Rodrigues, Cholesky of a few unknowns).
#pragma once
#include <cmath>

namespace h2h {

inline double Dot3(const double* a, const double* b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }

inline void Cross3(const double* a, const double* b, double* out) {
  out[0] = a[1] * b[2] - a[2] * b[1];
  out[1] = a[2] * b[0] - a[0] * b[2];
  out[2] = a[0] * b[1] - a[1] * b[0];
}

// y = M x for a row-major 3x3 M.
inline void MatVec3(const double* m, const double* x, double* y) {
  for (int r = 0; r < 3; ++r) y[r] = m[3 * r] * x[0] + m[3 * r + 1] * x[1] + m[3 * r + 2] * x[2];
}

// C = A B for row-major 3x3 matrices (C must not alias A or B).
inline void MatMul3(const double* a, const double* b, double* c) {
  for (int r = 0; r < 3; ++r)
    for (int k = 0; k < 3; ++k) c[3 * r + k] = a[3 * r] * b[k] + a[3 * r + 1] * b[3 + k] + a[3 * r + 2] * b[6 + k];
}

// Inverse of a row-major 3x3 matrix by its adjugate (caller keeps it well conditioned).
inline void Inverse3(const double* m, double* inv) {
  const double c00 = m[4] * m[8] - m[5] * m[7], c01 = m[5] * m[6] - m[3] * m[8], c02 = m[3] * m[7] - m[4] * m[6];
  const double det = m[0] * c00 + m[1] * c01 + m[2] * c02;
  const double id = det != 0 ? 1.0 / det : 0.0;
  inv[0] = c00 * id;
  inv[1] = (m[2] * m[7] - m[1] * m[8]) * id;
  inv[2] = (m[1] * m[5] - m[2] * m[4]) * id;
  inv[3] = c01 * id;
  inv[4] = (m[0] * m[8] - m[2] * m[6]) * id;
  inv[5] = (m[2] * m[3] - m[0] * m[5]) * id;
  inv[6] = c02 * id;
  inv[7] = (m[1] * m[6] - m[0] * m[7]) * id;
  inv[8] = (m[0] * m[4] - m[1] * m[3]) * id;
}

// Rotation matrix exp([w]x) (row-major) of an axis-angle vector w.
inline void Rodrigues(const double* w, double* R) {
  const double th2 = w[0] * w[0] + w[1] * w[1] + w[2] * w[2];
  const double th = std::sqrt(th2);
  double a, b;  // R = I + a [w]x + b [w]x^2
  if (th < 1e-8) {
    a = 1.0 - th2 / 6.0;
    b = 0.5 - th2 / 24.0;
  } else {
    a = std::sin(th) / th;
    b = (1.0 - std::cos(th)) / th2;
  }
  const double K[9] = {0, -w[2], w[1], w[2], 0, -w[0], -w[1], w[0], 0};
  double K2[9];
  MatMul3(K, K, K2);
  for (int k = 0; k < 9; ++k) R[k] = ((k % 4 == 0) ? 1.0 : 0.0) + a * K[k] + b * K2[k];
}

// Rows (2x3, written to R[0:6]) of the matrix with orthonormal rows nearest to P (2x3): (P P^T)^(-1/2) P.
// Returns the mean singular value of P (the SOP scale).
inline double NearestScaledRotationRows(const double* P, double* R) {
  const double m00 = Dot3(P, P), m01 = Dot3(P, P + 3), m11 = Dot3(P + 3, P + 3);
  const double det = m00 * m11 - m01 * m01;
  const double sd = std::sqrt(det > 0 ? det : 0.0);
  const double denom = std::sqrt(m00 + m11 + 2 * sd);  // = sigma1 + sigma2
  // sqrt(M) = (M + sd I) / denom; its inverse by the 2x2 formula; det(sqrt(M)) = sd.
  if (sd > 1e-12 * (m00 + m11) && denom > 0) {
    const double a = (m00 + sd) / denom, b = m01 / denom, d = (m11 + sd) / denom;
    const double i00 = d / sd, i01 = -b / sd, i11 = a / sd;
    for (int c = 0; c < 3; ++c) {
      R[c] = i00 * P[c] + i01 * P[3 + c];
      R[3 + c] = i01 * P[c] + i11 * P[3 + c];
    }
  } else {  // rank-deficient P: Gram-Schmidt on its rows
    const double n0 = std::sqrt(m00) > 0 ? std::sqrt(m00) : 1.0;
    for (int c = 0; c < 3; ++c) R[c] = P[c] / n0;
    const double pr = Dot3(R, P + 3);
    double r1[3] = {P[3] - pr * R[0], P[4] - pr * R[1], P[5] - pr * R[2]};
    double n1 = std::sqrt(Dot3(r1, r1));
    if (n1 < 1e-12) {  // any unit vector orthogonal to row 0
      const double e[3] = {std::fabs(R[0]) < 0.9 ? 1.0 : 0.0, std::fabs(R[0]) < 0.9 ? 0.0 : 1.0, 0.0};
      Cross3(R, e, r1);
      n1 = std::sqrt(Dot3(r1, r1));
    }
    for (int c = 0; c < 3; ++c) R[3 + c] = r1[c] / n1;
  }
  return 0.5 * denom;
}

// Solves A x = b in place (b := x) for a symmetric positive definite row-major n x n A (A is overwritten
// by its Cholesky factor). Returns false when A is not positive definite.
inline bool CholeskySolve(int n, double* A, double* b) {
  for (int j = 0; j < n; ++j) {
    double d = A[j * n + j];
    for (int k = 0; k < j; ++k) d -= A[j * n + k] * A[j * n + k];
    if (!(d > 0)) return false;
    d = std::sqrt(d);
    A[j * n + j] = d;
    for (int i = j + 1; i < n; ++i) {
      double v = A[i * n + j];
      for (int k = 0; k < j; ++k) v -= A[i * n + k] * A[j * n + k];
      A[i * n + j] = v / d;
    }
  }
  for (int i = 0; i < n; ++i) {
    double v = b[i];
    for (int k = 0; k < i; ++k) v -= A[i * n + k] * b[k];
    b[i] = v / A[i * n + i];
  }
  for (int i = n - 1; i >= 0; --i) {
    double v = b[i];
    for (int k = i + 1; k < n; ++k) v -= A[k * n + i] * b[k];
    b[i] = v / A[i * n + i];
  }
  return true;
}

}  // namespace h2h
