#include "common/shape_solve.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace h2h {
namespace {

using Vec = std::vector<double>;

constexpr int kParallelFrames = 64;       // OpenMP over frames only from this many frames (below: overhead wins)
constexpr int kActiveSetSteps = 25;       // primal-dual active set steps at most before projected Newton
constexpr double kActiveWidth = 1e-3;     // cap of Bertsekas' epsilon: near-bound band treated as active
constexpr int kLineSearchSteps = 30;      // projected Armijo backtracking steps at most
constexpr double kBacktrack = 0.5;        // step shrink factor per backtracking step
constexpr double kArmijo = 1e-4;          // sufficient-decrease fraction of the directional derivative
constexpr double kTinyCost = 1e-300;      // floor of the cost in the relative stopping test (a zero cost)

// The normal equations of the problem: half the cost is phi(z) = 1/2 z^T H z + g^T z + c0 / 2,
// z = (identity a, expressions e_0 .. e_{T-1}).
struct Normal {
  int T = 0, na = 0, ne = 0;
  Vec haa;         // (na, na)
  Vec hae;         // (T, na, ne) coupling of the identity with each frame's expression
  Vec hee;         // (T, ne, ne) diagonal expression blocks (data + prior + smoothness diagonal)
  Vec s1, s2;      // (T,) smoothness couplings of frame t with t+1 and t+2 (times the identity matrix)
  Vec ga, ge;      // (na,), (T, ne)
  double c0 = 0;   // sum of squared constant residuals
};

// Contiguous dot product of n doubles.
inline double Dot(int n, const double* a, const double* b) {
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (int i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

// Per-frame scratch of the assembly: transposed Jacobians (coefficient-major, rows contiguous) so that every
// entry of the normal equations is one contiguous dot product, and this thread's per-vertex identity sums.
struct FrameRows {
  int max_rows = 0;  // 2 K: two residual rows (u, v) per landmark
  Vec jid;           // (na, max_rows) sqrt(w) d(residual)/d(identity)
  Vec jex;           // (ne, max_rows) sqrt(w) d(residual)/d(expression)
  Vec cres;          // (max_rows,) sqrt(w) residual at zero coefficients
  Vec mv, cv;        // (L, 3, 3) sum of w P^T P, (L, 3) sum of sqrt(w) P^T c, over this thread's frames
};

// Phase 1a: the Jacobian rows of frame t's weighted landmarks (into r), adding their squared constant
// residuals to c0 and their identity terms to r.mv / r.cv. Returns the number of rows.
int FrameJacobian(const ShapeSolveParams& p, int t, FrameRows& r, double& c0) {
  const int K = p.points, na = p.n_id, ne = p.n_exp, max_rows = r.max_rows;
  int rows = 0;
  for (int k = 0; k < K; ++k) {
    const double w = p.weight[static_cast<size_t>(t) * K + k];
    if (w <= 0) continue;
    const double sw = std::sqrt(w);
    const int v = p.vertex[static_cast<size_t>(t) * K + k];
    const double* ib = p.id_basis + static_cast<size_t>(v) * 3 * na;
    const double* eb = p.exp_basis + static_cast<size_t>(v) * 3 * ne;
    for (int row = 0; row < 2; ++row, ++rows) {
      const double* pr = p.proj + static_cast<size_t>(t) * 6 + 3 * row;
      for (int i = 0; i < na; ++i)
        r.jid[static_cast<size_t>(i) * max_rows + rows] =
            sw * (pr[0] * ib[i] + pr[1] * ib[na + i] + pr[2] * ib[2 * na + i]);
      for (int j = 0; j < ne; ++j)
        r.jex[static_cast<size_t>(j) * max_rows + rows] =
            sw * (pr[0] * eb[j] + pr[1] * eb[ne + j] + pr[2] * eb[2 * ne + j]);
      const double* m = p.mean + 3 * v;
      const double c = sw * (pr[0] * m[0] + pr[1] * m[1] + pr[2] * m[2] + p.offset[2 * t + row] -
                             p.target[(static_cast<size_t>(t) * K + k) * 2 + row]);
      r.cres[rows] = c;
      c0 += c * c;
      for (int a = 0; a < 3; ++a) {
        r.cv[3 * v + a] += sw * c * pr[a];
        for (int b = 0; b < 3; ++b) r.mv[9 * v + 3 * a + b] += w * pr[a] * pr[b];
      }
    }
  }
  return rows;
}

// Phase 1b: frame t's expression block hee, identity coupling hae and expression gradient ge from its rows.
void FrameBlocks(const FrameRows& r, int rows, int t, Normal& n) {
  const int na = n.na, ne = n.ne, max_rows = r.max_rows;
  double* hee = &n.hee[static_cast<size_t>(t) * ne * ne];
  double* hae = &n.hae[static_cast<size_t>(t) * na * ne];
  double* ge = &n.ge[static_cast<size_t>(t) * ne];
  for (int i = 0; i < ne; ++i) {
    const double* ei = &r.jex[static_cast<size_t>(i) * max_rows];
    ge[i] = Dot(rows, ei, r.cres.data());
    for (int j = 0; j <= i; ++j) {
      const double v = Dot(rows, ei, &r.jex[static_cast<size_t>(j) * max_rows]);
      hee[static_cast<size_t>(i) * ne + j] = v;
      hee[static_cast<size_t>(j) * ne + i] = v;
    }
  }
  for (int i = 0; i < na; ++i) {
    const double* ai = &r.jid[static_cast<size_t>(i) * max_rows];
    double* row = hae + static_cast<size_t>(i) * ne;
    for (int j = 0; j < ne; ++j) row[j] = Dot(rows, ai, &r.jex[static_cast<size_t>(j) * max_rows]);
  }
}

// Phase 1 (frames, parallel): the per-frame blocks of n, c0, and the per-vertex identity sums mv, cv.
void AssembleFrames(const ShapeSolveParams& p, Normal& n, Vec& mv, Vec& cv) {
  const int T = p.frames, L = p.vertices;
  mv.assign(static_cast<size_t>(L) * 9, 0.0);
  cv.assign(static_cast<size_t>(L) * 3, 0.0);
  double c0 = 0.0;
#pragma omp parallel reduction(+ : c0) if (T >= kParallelFrames)
  {
    FrameRows r;
    r.max_rows = 2 * p.points;
    r.jid.resize(static_cast<size_t>(p.n_id) * r.max_rows);
    r.jex.resize(static_cast<size_t>(p.n_exp) * r.max_rows);
    r.cres.resize(r.max_rows);
    r.mv.assign(mv.size(), 0.0);
    r.cv.assign(cv.size(), 0.0);
#pragma omp for schedule(static)
    for (int t = 0; t < T; ++t) FrameBlocks(r, FrameJacobian(p, t, r, c0), t, n);
#pragma omp critical
    {
      for (size_t i = 0; i < mv.size(); ++i) mv[i] += r.mv[i];
      for (size_t i = 0; i < cv.size(); ++i) cv[i] += r.cv[i];
    }
  }
  n.c0 = c0;
}

// Phase 2 (identity): haa = sum_v B_v^T M_v B_v + id_prior I, ga = sum_v B_v^T c_v, with B_v the (3, na)
// identity basis at vertex v and M_v, c_v the sums of AssembleFrames.
void AssembleIdentity(const ShapeSolveParams& p, const Vec& mv, const Vec& cv, Normal& n) {
  const int na = p.n_id, L = p.vertices;
  Vec mb(static_cast<size_t>(3) * na);
  for (int v = 0; v < L; ++v) {
    const double* m = &mv[9 * static_cast<size_t>(v)];
    if (m[0] == 0 && m[4] == 0 && m[8] == 0) continue;
    const double* ib = p.id_basis + static_cast<size_t>(v) * 3 * na;
    for (int a = 0; a < 3; ++a)
      for (int i = 0; i < na; ++i)
        mb[a * na + i] = m[3 * a] * ib[i] + m[3 * a + 1] * ib[na + i] + m[3 * a + 2] * ib[2 * na + i];
    for (int i = 0; i < na; ++i) {
      n.ga[i] += cv[3 * v] * ib[i] + cv[3 * v + 1] * ib[na + i] + cv[3 * v + 2] * ib[2 * na + i];
      double* row = &n.haa[static_cast<size_t>(i) * na];
      for (int a = 0; a < 3; ++a) {
        const double x = ib[a * na + i];
        const double* mr = &mb[a * na];
        for (int j = 0; j < na; ++j) row[j] += x * mr[j];
      }
    }
  }
  for (int i = 0; i < na; ++i) n.haa[static_cast<size_t>(i) * na + i] += p.id_prior;
}

// Phase 3 (priors): the expression prior and the second-difference smoothness (D^T D, D the (T-2, T)
// stencil [1 -2 1]): its diagonal into hee, its couplings with frames t+1, t+2 into s1, s2.
void AddExpressionPriors(const ShapeSolveParams& p, Normal& n) {
  const int T = n.T, ne = n.ne;
  Vec d0(T, 0.0);
  n.s1.assign(T, 0.0);
  n.s2.assign(T, 0.0);
  for (int j = 1; j + 1 < T; ++j) {
    d0[j - 1] += 1;
    d0[j] += 4;
    d0[j + 1] += 1;
    n.s1[j - 1] += -2;
    n.s1[j] += -2;
    n.s2[j - 1] += 1;
  }
  for (int t = 0; t < T; ++t) {
    n.s1[t] *= p.smoothness;
    n.s2[t] *= p.smoothness;
    double* hee = &n.hee[static_cast<size_t>(t) * ne * ne];
    for (int i = 0; i < ne; ++i) hee[static_cast<size_t>(i) * ne + i] += p.exp_prior + p.smoothness * d0[t];
  }
}

void Assemble(const ShapeSolveParams& p, Normal& n) {
  const int T = p.frames, na = p.n_id, ne = p.n_exp;
  n.T = T;
  n.na = na;
  n.ne = ne;
  n.haa.assign(static_cast<size_t>(na) * na, 0.0);
  n.hae.assign(static_cast<size_t>(T) * na * ne, 0.0);
  n.hee.assign(static_cast<size_t>(T) * ne * ne, 0.0);
  n.ga.assign(na, 0.0);
  n.ge.assign(static_cast<size_t>(T) * ne, 0.0);
  Vec mv, cv;
  AssembleFrames(p, n, mv, cv);
  AssembleIdentity(p, mv, cv, n);
  AddExpressionPriors(p, n);
}

// y = H x (parallel over frames).
void MatVec(const Normal& n, const Vec& x, Vec& y) {
  const int T = n.T, na = n.na, ne = n.ne;
  const double* xa = x.data();
  const double* xe = x.data() + na;
  y.assign(x.size(), 0.0);
  double* ya = y.data();
  double* ye = y.data() + na;
  for (int i = 0; i < na; ++i) {
    double s = 0;
    const double* row = &n.haa[static_cast<size_t>(i) * na];
    for (int j = 0; j < na; ++j) s += row[j] * xa[j];
    ya[i] = s;
  }
#pragma omp parallel if (T >= kParallelFrames)
  {
    Vec my(na, 0.0);
#pragma omp for schedule(static)
    for (int t = 0; t < T; ++t) {
      const double* hae = &n.hae[static_cast<size_t>(t) * na * ne];
      const double* hee = &n.hee[static_cast<size_t>(t) * ne * ne];
      const double* et = xe + static_cast<size_t>(t) * ne;
      double* out = ye + static_cast<size_t>(t) * ne;
      for (int i = 0; i < na; ++i) {
        const double* row = hae + static_cast<size_t>(i) * ne;
        double s = 0;
        for (int j = 0; j < ne; ++j) {
          s += row[j] * et[j];
          out[j] += row[j] * xa[i];
        }
        my[i] += s;
      }
      for (int i = 0; i < ne; ++i) {
        const double* row = hee + static_cast<size_t>(i) * ne;
        double s = 0;
        for (int j = 0; j < ne; ++j) s += row[j] * et[j];
        out[i] += s;
      }
      const int nb[4] = {t - 2, t - 1, t + 1, t + 2};
      const double c[4] = {t >= 2 ? n.s2[t - 2] : 0, t >= 1 ? n.s1[t - 1] : 0, n.s1[t], n.s2[t]};
      for (int b = 0; b < 4; ++b) {
        if (nb[b] < 0 || nb[b] >= T || c[b] == 0) continue;
        const double* eo = xe + static_cast<size_t>(nb[b]) * ne;
        for (int i = 0; i < ne; ++i) out[i] += c[b] * eo[i];
      }
    }
#pragma omp critical
    for (int i = 0; i < na; ++i) ya[i] += my[i];
  }
}

// ---- small dense kernels on row-major blocks ------------------------------------------------------------

// In-place lower Cholesky of an (n, n) block; false when not positive definite.
bool Cholesky(int n, double* a) {
  for (int j = 0; j < n; ++j) {
    double* rj = a + static_cast<size_t>(j) * n;
    double d = rj[j];
#pragma omp simd reduction(- : d)
    for (int k = 0; k < j; ++k) d -= rj[k] * rj[k];
    if (!(d > 0)) return false;
    d = std::sqrt(d);
    rj[j] = d;
    const double inv = 1.0 / d;
    for (int i = j + 1; i < n; ++i) {
      double* ri = a + static_cast<size_t>(i) * n;
      double v = ri[j];
#pragma omp simd reduction(- : v)
      for (int k = 0; k < j; ++k) v -= ri[k] * rj[k];
      ri[j] = v * inv;
    }
  }
  return true;
}

// C (m, n) -= A (m, k) B^T, B (n, k); only the lower triangle (j <= i) when `lower` (C symmetric).
void SubABt(int m, int n, int k, const double* a, const double* b, double* c, bool lower = false) {
  for (int i = 0; i < m; ++i) {
    const double* ai = a + static_cast<size_t>(i) * k;
    double* ci = c + static_cast<size_t>(i) * n;
    const int jend = lower ? i + 1 : n;
    for (int j = 0; j < jend; ++j) {
      const double* bj = b + static_cast<size_t>(j) * k;
      double s = 0;
#pragma omp simd reduction(+ : s)
      for (int l = 0; l < k; ++l) s += ai[l] * bj[l];
      ci[j] -= s;
    }
  }
}

// B (m, n) := B L^{-T}, L the (n, n) lower Cholesky factor.
void RightSolveLt(int m, int n, const double* l, double* b) {
  for (int i = 0; i < m; ++i) {
    double* bi = b + static_cast<size_t>(i) * n;
    for (int j = 0; j < n; ++j) {
      const double* lj = l + static_cast<size_t>(j) * n;
      double v = bi[j];
#pragma omp simd reduction(- : v)
      for (int k = 0; k < j; ++k) v -= lj[k] * bi[k];
      bi[j] = v / lj[j];
    }
  }
}

// xi[c0, c1) -= sum_l f[l] * (y + l * ld)[c0, c1) for l in [0, k): four source rows per pass over xi.
inline void SubRows(int k, const double* f, const double* y, int ld, double* xi, int c0, int c1) {
  int l = 0;
  for (; l + 4 <= k; l += 4) {
    const double f0 = f[l], f1 = f[l + 1], f2 = f[l + 2], f3 = f[l + 3];
    const double* y0 = y + static_cast<size_t>(l) * ld;
    const double* y1 = y0 + ld;
    const double* y2 = y1 + ld;
    const double* y3 = y2 + ld;
#pragma omp simd
    for (int c = c0; c < c1; ++c) xi[c] -= f0 * y0[c] + f1 * y1[c] + f2 * y2[c] + f3 * y3[c];
  }
  for (; l < k; ++l) {
    const double fl = f[l];
    const double* yl = y + static_cast<size_t>(l) * ld;
#pragma omp simd
    for (int c = c0; c < c1; ++c) xi[c] -= fl * yl[c];
  }
}

// Columns [c0, c1) of X (n, ld): X := L^{-1} X, L the (n, n) lower factor.
void LeftSolveL(int n, const double* l, double* x, int ld, int c0, int c1) {
  for (int i = 0; i < n; ++i) {
    const double* li = l + static_cast<size_t>(i) * n;
    double* xi = x + static_cast<size_t>(i) * ld;
    SubRows(i, li, x, ld, xi, c0, c1);
    const double inv = 1.0 / li[i];
    for (int c = c0; c < c1; ++c) xi[c] *= inv;
  }
}

// Columns [c0, c1) of X (m, ld) -= A (m, k) Y (k, ld).
void SubAY(int m, int k, const double* a, const double* y, double* x, int ld, int c0, int c1) {
  for (int i = 0; i < m; ++i) {
    const double* ai = a + static_cast<size_t>(i) * k;
    SubRows(k, ai, y, ld, x + static_cast<size_t>(i) * ld, c0, c1);
  }
}

// x := L^{-T} x for an (n, n) lower factor.
void SolveLt(int n, const double* l, double* x) {
  for (int i = n - 1; i >= 0; --i) {
    double v = x[i];
    for (int k = i + 1; k < n; ++k) v -= l[static_cast<size_t>(k) * n + i] * x[k];
    x[i] = v / l[static_cast<size_t>(i) * n + i];
  }
}

// The Newton system restricted to the free variables: factor once, solve once per step. The expression
// part is block-pentadiagonal (blocks: frames): L D-blocks ld_[t], sub-diagonal blocks l1_[t] (row t+1)
// and l2_[t] (row t+2); the identity is eliminated through the Schur complement of Y = L^{-1} H_ea.
class FreeNewton {
 public:
  // free_a: free identity indices; free_e[t]: free expression indices of frame t (sorted).
  bool Solve(const Normal& n, const std::vector<int>& free_a, const std::vector<std::vector<int>>& free_e,
             const Vec& rhs, Vec& d) {
    n_ = &n;
    free_a_ = &free_a;
    free_e_ = &free_e;
    ld_.resize(n.T);
    l1_.resize(n.T);
    l2_.resize(n.T);
    y_.resize(n.T);
    if (!FactorExpressions()) return false;
    EliminateIdentity();
    Vec s;
    SchurComplement(s);
    std::vector<Vec> ye;
    ForwardExpressions(rhs, ye);
    Vec da;
    if (!IdentityStep(s, ye, rhs, da)) return false;
    BackSubstitute(ye, da, rhs.size(), d);
    return true;
  }

 private:
  int Free(int t) const { return static_cast<int>((*free_e_)[t].size()); }

  // Block-pentadiagonal Cholesky of the free expression part (sequential over frames).
  bool FactorExpressions() {
    const Normal& n = *n_;
    const int T = n.T, ne = n.ne;
    for (int t = 0; t < T; ++t) {
      const int m = Free(t);
      const std::vector<int>& f = (*free_e_)[t];
      Vec& a = ld_[t];
      a.resize(static_cast<size_t>(m) * m);
      const double* hee = &n.hee[static_cast<size_t>(t) * ne * ne];
      for (int i = 0; i < m; ++i)
        for (int j = 0; j < m; ++j) a[static_cast<size_t>(i) * m + j] = hee[static_cast<size_t>(f[i]) * ne + f[j]];
      if (t >= 1) SubABt(m, m, Free(t - 1), l1_[t - 1].data(), l1_[t - 1].data(), a.data(), true);
      if (t >= 2) SubABt(m, m, Free(t - 2), l2_[t - 2].data(), l2_[t - 2].data(), a.data(), true);
      if (!Cholesky(m, a.data())) return false;
      if (t + 1 < T) {
        const int m1 = Free(t + 1);
        Vec& b = l1_[t];
        Coupling((*free_e_)[t + 1], f, n.s1[t], b);
        if (t >= 1) SubABt(m1, m, Free(t - 1), l2_[t - 1].data(), l1_[t - 1].data(), b.data());
        RightSolveLt(m1, m, a.data(), b.data());
      }
      if (t + 2 < T) {
        Vec& b = l2_[t];
        Coupling((*free_e_)[t + 2], f, n.s2[t], b);
        RightSolveLt(Free(t + 2), m, a.data(), b.data());
      }
    }
    return true;
  }

  // Y = L^{-1} H_ea (free rows/columns), by column chunks in parallel.
  void EliminateIdentity() {
    const Normal& n = *n_;
    const int T = n.T, ne = n.ne, na = n.na;
    const std::vector<int>& free_a = *free_a_;
    const int ma = static_cast<int>(free_a.size());
    for (int t = 0; t < T; ++t) {
      const int m = Free(t);
      y_[t].resize(static_cast<size_t>(m) * ma);
      const double* hae = &n.hae[static_cast<size_t>(t) * na * ne];
      for (int i = 0; i < m; ++i)
        for (int c = 0; c < ma; ++c)
          y_[t][static_cast<size_t>(i) * ma + c] = hae[static_cast<size_t>(free_a[c]) * ne + (*free_e_)[t][i]];
    }
#pragma omp parallel if (T >= kParallelFrames)
    {
      const int nth = omp_get_num_threads(), me = omp_get_thread_num();
      const int c0 = ma * me / nth, c1 = ma * (me + 1) / nth;
      if (c1 > c0) {
        for (int t = 0; t < T; ++t) {
          if (t >= 1) SubAY(Free(t), Free(t - 1), l1_[t - 1].data(), y_[t - 1].data(), y_[t].data(), ma, c0, c1);
          if (t >= 2) SubAY(Free(t), Free(t - 2), l2_[t - 2].data(), y_[t - 2].data(), y_[t].data(), ma, c0, c1);
          LeftSolveL(Free(t), ld_[t].data(), y_[t].data(), ma, c0, c1);
        }
      }
    }
  }

  // S (ma, ma) = H_aa - Y^T Y over the free identity indices (lower triangle of the update).
  void SchurComplement(Vec& s) const {
    const Normal& n = *n_;
    const int T = n.T, na = n.na;
    const std::vector<int>& free_a = *free_a_;
    const int ma = static_cast<int>(free_a.size());
    s.resize(static_cast<size_t>(ma) * ma);
    for (int i = 0; i < ma; ++i)
      for (int j = 0; j < ma; ++j)
        s[static_cast<size_t>(i) * ma + j] = n.haa[static_cast<size_t>(free_a[i]) * na + free_a[j]];
#pragma omp parallel if (T >= kParallelFrames)
    {
      Vec my(static_cast<size_t>(ma) * ma, 0.0);
#pragma omp for schedule(static)
      for (int t = 0; t < T; ++t) AddYtY(y_[t], Free(t), ma, my);
#pragma omp critical
      for (size_t k = 0; k < my.size(); ++k) s[k] -= my[k];
    }
  }

  // Lower triangle of acc (ma, ma) += Y_t^T Y_t, Y_t (m, ma): four rows of Y_t per pass over acc.
  static void AddYtY(const Vec& yt, int m, int ma, Vec& acc) {
    int r = 0;
    for (; r + 4 <= m; r += 4) {
      const double* y0 = &yt[static_cast<size_t>(r) * ma];
      const double* y1 = y0 + ma;
      const double* y2 = y1 + ma;
      const double* y3 = y2 + ma;
      for (int i = 0; i < ma; ++i) {
        const double a0 = y0[i], a1 = y1[i], a2 = y2[i], a3 = y3[i];
        double* row = &acc[static_cast<size_t>(i) * ma];
#pragma omp simd
        for (int j = 0; j <= i; ++j) row[j] += a0 * y0[j] + a1 * y1[j] + a2 * y2[j] + a3 * y3[j];
      }
    }
    for (; r < m; ++r) {
      const double* yr = &yt[static_cast<size_t>(r) * ma];
      for (int i = 0; i < ma; ++i) {
        const double x = yr[i];
        double* row = &acc[static_cast<size_t>(i) * ma];
#pragma omp simd
        for (int j = 0; j <= i; ++j) row[j] += x * yr[j];
      }
    }
  }

  // ye[t] = L^{-1} (free expression entries of rhs), frame by frame.
  void ForwardExpressions(const Vec& rhs, std::vector<Vec>& ye) const {
    const int T = n_->T, ne = n_->ne, na = n_->na;
    ye.assign(T, Vec());
    for (int t = 0; t < T; ++t) {
      const int m = Free(t);
      ye[t].resize(m);
      for (int i = 0; i < m; ++i) ye[t][i] = rhs[na + static_cast<size_t>(t) * ne + (*free_e_)[t][i]];
      if (t >= 1) SubAY(m, Free(t - 1), l1_[t - 1].data(), ye[t - 1].data(), ye[t].data(), 1, 0, 1);
      if (t >= 2) SubAY(m, Free(t - 2), l2_[t - 2].data(), ye[t - 2].data(), ye[t].data(), 1, 0, 1);
      LeftSolveL(m, ld_[t].data(), ye[t].data(), 1, 0, 1);
    }
  }

  // da = S^{-1} (free identity entries of rhs - Y^T ye); false when S is not positive definite.
  bool IdentityStep(Vec& s, const std::vector<Vec>& ye, const Vec& rhs, Vec& da) const {
    const std::vector<int>& free_a = *free_a_;
    const int ma = static_cast<int>(free_a.size());
    da.resize(ma);
    for (int c = 0; c < ma; ++c) da[c] = rhs[free_a[c]];
    for (int t = 0; t < n_->T; ++t)
      for (int r = 0; r < Free(t); ++r) {
        const double* yr = &y_[t][static_cast<size_t>(r) * ma];
        for (int c = 0; c < ma; ++c) da[c] -= yr[c] * ye[t][r];
      }
    if (ma > 0) {
      if (!Cholesky(ma, s.data())) return false;
      LeftSolveL(ma, s.data(), da.data(), 1, 0, 1);
      SolveLt(ma, s.data(), da.data());
    }
    return true;
  }

  // The full step d (size nz): da at the free identity entries, the expression steps by back substitution
  // (last frame first), zeros at the fixed entries.
  void BackSubstitute(const std::vector<Vec>& ye, const Vec& da, size_t nz, Vec& d) const {
    const int T = n_->T, ne = n_->ne, na = n_->na;
    const std::vector<int>& free_a = *free_a_;
    const int ma = static_cast<int>(free_a.size());
    d.assign(nz, 0.0);
    for (int c = 0; c < ma; ++c) d[free_a[c]] = da[c];
    std::vector<Vec> de(T);
    for (int t = T - 1; t >= 0; --t) {
      const int m = Free(t);
      Vec& x = de[t];
      x = ye[t];
      for (int r = 0; r < m; ++r) {
        const double* yr = &y_[t][static_cast<size_t>(r) * ma];
        double v = 0;
        for (int c = 0; c < ma; ++c) v += yr[c] * da[c];
        x[r] -= v;
      }
      if (t + 1 < T) SubAtX(Free(t + 1), m, l1_[t].data(), de[t + 1].data(), x.data());
      if (t + 2 < T) SubAtX(Free(t + 2), m, l2_[t].data(), de[t + 2].data(), x.data());
      SolveLt(m, ld_[t].data(), x.data());
      for (int i = 0; i < m; ++i) d[na + static_cast<size_t>(t) * ne + (*free_e_)[t][i]] = x[i];
    }
  }

  // (rows.size(), cols.size()) block of c * I between two free index lists.
  static void Coupling(const std::vector<int>& rows, const std::vector<int>& cols, double c, Vec& b) {
    b.assign(rows.size() * cols.size(), 0.0);
    if (c == 0) return;
    size_t j = 0;
    for (size_t i = 0; i < rows.size(); ++i) {
      while (j < cols.size() && cols[j] < rows[i]) ++j;
      if (j < cols.size() && cols[j] == rows[i]) b[i * cols.size() + j] = c;
    }
  }
  // x (n) -= A^T y, A (m, n).
  static void SubAtX(int m, int n, const double* a, const double* y, double* x) {
    for (int i = 0; i < m; ++i) {
      const double f = y[i];
      const double* ai = a + static_cast<size_t>(i) * n;
      for (int j = 0; j < n; ++j) x[j] -= ai[j] * f;
    }
  }

  const Normal* n_ = nullptr;
  const std::vector<int>* free_a_ = nullptr;
  const std::vector<std::vector<int>>* free_e_ = nullptr;
  std::vector<Vec> ld_, l1_, l2_, y_;
};

double Dot(const Vec& a, const Vec& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// The solver's state: the stacked coefficients z = (a, e_0 .. e_{T-1}) in their box, the gradient at zero and
// the Hessian diagonal (the scaling of the projected steps), and the free index lists of the current step.
struct Solver {
  const Normal& n;
  size_t nz;
  Vec lo, hi, z, hdiag, g;
  std::vector<int> free_a;
  std::vector<std::vector<int>> free_e;
  FreeNewton newton;
  int it = 0;  // iterations taken (both phases)

  Solver(const ShapeSolveParams& p, const Normal& normal)
      : n(normal), nz(static_cast<size_t>(p.n_id) + static_cast<size_t>(p.frames) * p.n_exp), lo(nz), hi(nz),
        z(nz), hdiag(nz), g(nz), free_e(p.frames) {
    const int na = p.n_id, ne = p.n_exp;
    for (size_t i = 0; i < nz; ++i) {
      const bool id = i < static_cast<size_t>(na);
      lo[i] = id ? p.id_lo : p.exp_lo;
      hi[i] = id ? p.id_hi : p.exp_hi;
      z[i] = std::clamp(id ? p.identity[i] : p.expression[i - na], lo[i], hi[i]);
      if (id) {
        hdiag[i] = n.haa[i * na + i];
        g[i] = n.ga[i];
      } else {
        const size_t t = (i - na) / ne, j = (i - na) % ne;
        hdiag[i] = n.hee[(t * ne + j) * ne + j];
        g[i] = n.ge[i - na];
      }
    }
  }

  // free_a / free_e := the indices i with active[i] == 0, split into identity and per-frame expression ones.
  void SplitFree(const std::vector<char>& active) {
    const int na = n.na, ne = n.ne;
    free_a.clear();
    for (auto& f : free_e) f.clear();
    for (size_t i = 0; i < nz; ++i) {
      if (active[i]) continue;
      if (i < static_cast<size_t>(na))
        free_a.push_back(static_cast<int>(i));
      else
        free_e[(i - na) / ne].push_back(static_cast<int>((i - na) % ne));
    }
  }

  // Phase 1: primal-dual active set (Hintermueller-Ito-Kunisch) steps: variables whose scaled gradient step
  // leaves the box are put on that bound, the others take the exact minimiser given them. Converges in a few
  // steps when it converges; true as soon as the active set repeats with a feasible point (the optimum).
  bool ActiveSetPhase(int limit) {
    Vec hz, d, rhs(nz), da(nz), hda;
    std::vector<char> active(nz, 0), prev_active(nz, 2);
    for (; it < limit; ++it) {
      MatVec(n, z, hz);
      bool same = true;
      std::fill(da.begin(), da.end(), 0.0);
      for (size_t i = 0; i < nz; ++i) {
        const double trial = z[i] - (hz[i] + g[i]) / hdiag[i];
        active[i] = trial <= lo[i] ? 1 : trial >= hi[i] ? 2 : 0;
        same = same && active[i] == prev_active[i];
        if (active[i]) da[i] = (active[i] == 1 ? lo[i] : hi[i]) - z[i];
      }
      SplitFree(active);
      bool feasible = true;
      for (size_t i = 0; i < nz && feasible; ++i) feasible = z[i] >= lo[i] && z[i] <= hi[i];
      if (same && feasible) return true;
      MatVec(n, da, hda);
      for (size_t i = 0; i < nz; ++i) rhs[i] = -(hz[i] + g[i]) - hda[i];
      if (!newton.Solve(n, free_a, free_e, rhs, d)) break;
      for (size_t i = 0; i < nz; ++i) z[i] += active[i] ? da[i] : d[i];
      prev_active.swap(active);
    }
    for (size_t i = 0; i < nz; ++i) z[i] = std::clamp(z[i], lo[i], hi[i]);
    return false;
  }

  // Projected Armijo backtracking along d from z (gradient q): znew = clamp(z + alpha d) for the first alpha of
  // 1, 1/2, ... lowering the cost by at least kArmijo of the directional derivative; dphi is half the cost
  // change. False when no step of kLineSearchSteps qualifies.
  bool ArmijoSearch(const Vec& d, const Vec& q, Vec& znew, double& alpha, double& dphi) const {
    Vec delta(nz), hd;
    for (int ls = 0; ls < kLineSearchSteps; ++ls, alpha *= kBacktrack) {
      for (size_t i = 0; i < nz; ++i) {
        znew[i] = std::clamp(z[i] + alpha * d[i], lo[i], hi[i]);
        delta[i] = znew[i] - z[i];
      }
      const double slope = Dot(q, delta);
      if (slope >= 0) continue;
      MatVec(n, delta, hd);
      dphi = slope + 0.5 * Dot(delta, hd);
      if (dphi <= kArmijo * slope) return true;
    }
    return false;
  }

  // Phase 2: projected Newton with Bertsekas' epsilon-active set and a projected Armijo search, which
  // decreases the cost monotonically; stops when a full step with an unchanged active set lowers the cost by
  // less than `tolerance` of it.
  void ProjectedNewtonPhase(int limit, double tolerance) {
    Vec hz, q(nz), d, znew(nz), rhs(nz);
    std::vector<char> active(nz, 0), prev_active(nz, 2);
    for (; it < limit; ++it) {
      MatVec(n, z, hz);
      for (size_t i = 0; i < nz; ++i) q[i] = hz[i] + g[i];
      const double phi = 0.5 * (Dot(z, hz)) + Dot(g, z);
      double wn = 0;
      for (size_t i = 0; i < nz; ++i) {
        const double step = z[i] - std::clamp(z[i] - q[i] / hdiag[i], lo[i], hi[i]);
        wn += step * step;
      }
      wn = std::sqrt(wn);
      if (wn == 0) break;
      const double eps = std::min(kActiveWidth, wn);
      bool same = true;
      for (size_t i = 0; i < nz; ++i) {
        active[i] = (z[i] <= lo[i] + eps && q[i] > 0) || (z[i] >= hi[i] - eps && q[i] < 0);
        same = same && active[i] == prev_active[i];
        rhs[i] = -q[i];
      }
      SplitFree(active);
      if (!newton.Solve(n, free_a, free_e, rhs, d)) break;
      for (size_t i = 0; i < nz; ++i)
        if (active[i]) d[i] = -q[i] / hdiag[i];
      double alpha = 1.0, dphi = 0;
      if (!ArmijoSearch(d, q, znew, alpha, dphi)) break;
      z.swap(znew);
      prev_active.swap(active);
      const double total = 2 * (phi + dphi) + n.c0;
      if (alpha == 1.0 && same && -2 * dphi <= tolerance * std::max(total, kTinyCost)) {
        ++it;
        break;
      }
    }
  }

  // The full objective at z: z^T H z + 2 g^T z + c0.
  double Cost() const {
    Vec hz;
    MatVec(n, z, hz);
    return Dot(z, hz) + 2 * Dot(g, z) + n.c0;
  }
};

}  // namespace

void ShapeSolve(ShapeSolveParams& p) {
  Normal n;
  Assemble(p, n);
  Solver s(p, n);
  const bool settled = s.ActiveSetPhase(std::min(p.max_iterations, kActiveSetSteps));
  if (!settled) s.ProjectedNewtonPhase(p.max_iterations, p.tolerance);
  p.cost = s.Cost();
  p.iterations_done = s.it;
  for (int i = 0; i < p.n_id; ++i) p.identity[i] = s.z[i];
  for (size_t i = p.n_id; i < s.nz; ++i) p.expression[i - p.n_id] = s.z[i];
}

}  // namespace h2h
