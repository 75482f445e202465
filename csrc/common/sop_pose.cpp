#include "common/sop_pose.h"

#include <cmath>

#include "common/small_linalg.h"

namespace h2h {
namespace {

// One frame: closed form + Gauss-Newton. x: (N, 3), px: (N, 2), w: (N,) or nullptr.
void SolveFrame(int n, const double* x, const double* px, const double* w, int iterations, double* R, double* t,
                double* s_out) {
  // Weighted centroids; image points in y-up coordinates p = (u, -v).
  double ws = 0, xc[3] = {0, 0, 0}, pc[2] = {0, 0};
  int used = 0;
  for (int i = 0; i < n; ++i) {
    const double wi = w ? w[i] : 1.0;
    if (wi <= 0) continue;
    ++used;
    ws += wi;
    for (int k = 0; k < 3; ++k) xc[k] += wi * x[3 * i + k];
    pc[0] += wi * px[2 * i];
    pc[1] -= wi * px[2 * i + 1];
  }
  for (int k = 0; k < 9; ++k) R[k] = (k % 4 == 0) ? 1.0 : 0.0;
  if (used < 3 || ws <= 0) {
    t[0] = ws > 0 ? pc[0] / ws : 0.0;
    t[1] = ws > 0 ? -pc[1] / ws : 0.0;
    *s_out = 0.0;
    return;
  }
  for (int k = 0; k < 3; ++k) xc[k] /= ws;
  pc[0] /= ws;
  pc[1] /= ws;
  // Affine least squares: P (2x3) = Cpx Cxx^-1.
  double cxx[9] = {0}, cpx[6] = {0};
  for (int i = 0; i < n; ++i) {
    const double wi = w ? w[i] : 1.0;
    if (wi <= 0) continue;
    const double d[3] = {x[3 * i] - xc[0], x[3 * i + 1] - xc[1], x[3 * i + 2] - xc[2]};
    const double q[2] = {px[2 * i] - pc[0], -px[2 * i + 1] - pc[1]};
    for (int a = 0; a < 3; ++a) {
      for (int b = 0; b < 3; ++b) cxx[3 * a + b] += wi * d[a] * d[b];
      cpx[a] += wi * q[0] * d[a];
      cpx[3 + a] += wi * q[1] * d[a];
    }
  }
  const double reg = 1e-12 * (cxx[0] + cxx[4] + cxx[8]);
  for (int a = 0; a < 3; ++a) cxx[4 * a] += reg;
  double inv[9];
  Inverse3(cxx, inv);
  double P[6];
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 3; ++c)
      P[3 * r + c] = cpx[3 * r] * inv[c] + cpx[3 * r + 1] * inv[3 + c] + cpx[3 * r + 2] * inv[6 + c];
  // Nearest scaled rotation: rows of (P P^T)^(-1/2) P, scale = mean singular value of P.
  double s = NearestScaledRotationRows(P, R);
  Cross3(R, R + 3, R + 6);
  t[0] = pc[0] - s * Dot3(R, xc);
  t[1] = -(pc[1] - s * Dot3(R + 3, xc));

  for (int it = 0; it < iterations; ++it) {
    double jtj[36] = {0}, jtr[6] = {0};
    for (int i = 0; i < n; ++i) {
      const double wi = w ? w[i] : 1.0;
      if (wi <= 0) continue;
      double y[3];
      MatVec3(R, x + 3 * i, y);
      const double ru = s * y[0] + t[0] - px[2 * i];
      const double rv = t[1] - s * y[1] - px[2 * i + 1];
      const double ju[6] = {0, s * y[2], -s * y[1], y[0], 1, 0};
      const double jv[6] = {s * y[2], 0, -s * y[0], -y[1], 0, 1};
      for (int a = 0; a < 6; ++a) {
        jtr[a] += wi * (ju[a] * ru + jv[a] * rv);
        for (int b = 0; b <= a; ++b) jtj[6 * a + b] += wi * (ju[a] * ju[b] + jv[a] * jv[b]);
      }
    }
    for (int a = 0; a < 6; ++a) {
      for (int b = 0; b < a; ++b) jtj[6 * b + a] = jtj[6 * a + b];
      jtj[7 * a] *= 1.0 + 1e-10;
    }
    double delta[6];
    for (int a = 0; a < 6; ++a) delta[a] = -jtr[a];
    if (!CholeskySolve(6, jtj, delta)) break;
    double dR[9], Rn[9];
    Rodrigues(delta, dR);
    MatMul3(dR, R, Rn);
    for (int k = 0; k < 9; ++k) R[k] = Rn[k];
    s += delta[3];
    t[0] += delta[4];
    t[1] += delta[5];
  }
  *s_out = s;
}

}  // namespace

void SopPose(const SopPoseParams& p) {
#pragma omp parallel for schedule(static)
  for (int f = 0; f < p.frames; ++f) {
    const long n = p.points;
    SolveFrame(p.points, p.model + f * n * 3, p.pixels + f * n * 2, p.weights ? p.weights + f * n : nullptr,
               p.iterations, p.rotation + 9L * f, p.translation + 2L * f, p.scale + f);
  }
}

}  // namespace h2h
