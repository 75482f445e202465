#include "common/shape_solve.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace h2h {
namespace {

using Vec = std::vector<double>;

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

void Assemble(const ShapeSolveParams& p, Normal& n) {
  const int T = p.frames, K = p.points, na = p.n_id, ne = p.n_exp, L = p.vertices;
  n.T = T;
  n.na = na;
  n.ne = ne;
  n.haa.assign(static_cast<size_t>(na) * na, 0.0);
  n.hae.assign(static_cast<size_t>(T) * na * ne, 0.0);
  n.hee.assign(static_cast<size_t>(T) * ne * ne, 0.0);
  n.ga.assign(na, 0.0);
  n.ge.assign(static_cast<size_t>(T) * ne, 0.0);
  n.c0 = 0.0;
  // Identity terms are gathered per vertex first: sum over frames of w P^T P (3x3) and w P^T c (3).
  Vec mv(static_cast<size_t>(L) * 9, 0.0), cv(static_cast<size_t>(L) * 3, 0.0);
  double c0 = 0.0;
#pragma omp parallel reduction(+ : c0) if (T >= 64)
  {
    // Transposed per-frame Jacobians (coefficient-major, rows contiguous) so that every entry of the
    // normal equations is one contiguous dot product.
    const int max_rows = 2 * K;
    Vec jid(static_cast<size_t>(na) * max_rows), jex(static_cast<size_t>(ne) * max_rows), cres(max_rows);
    Vec my_mv(static_cast<size_t>(L) * 9, 0.0), my_cv(static_cast<size_t>(L) * 3, 0.0);
#pragma omp for schedule(static)
    for (int t = 0; t < T; ++t) {
      int rows = 0;
      for (int k = 0; k < K; ++k) {
        const double w = p.weight[static_cast<size_t>(t) * K + k];
        if (w <= 0) continue;
        const double sw = std::sqrt(w);
        const int v = p.vertex[static_cast<size_t>(t) * K + k];
        const double* ib = p.id_basis + static_cast<size_t>(v) * 3 * na;
        const double* eb = p.exp_basis + static_cast<size_t>(v) * 3 * ne;
        for (int r = 0; r < 2; ++r, ++rows) {
          const double* pr = p.proj + static_cast<size_t>(t) * 6 + 3 * r;
          for (int i = 0; i < na; ++i)
            jid[static_cast<size_t>(i) * max_rows + rows] =
                sw * (pr[0] * ib[i] + pr[1] * ib[na + i] + pr[2] * ib[2 * na + i]);
          for (int j = 0; j < ne; ++j)
            jex[static_cast<size_t>(j) * max_rows + rows] =
                sw * (pr[0] * eb[j] + pr[1] * eb[ne + j] + pr[2] * eb[2 * ne + j]);
          const double* m = p.mean + 3 * v;
          const double c = sw * (pr[0] * m[0] + pr[1] * m[1] + pr[2] * m[2] + p.offset[2 * t + r] -
                                 p.target[(static_cast<size_t>(t) * K + k) * 2 + r]);
          cres[rows] = c;
          c0 += c * c;
          for (int a = 0; a < 3; ++a) {
            my_cv[3 * v + a] += sw * c * pr[a];
            for (int b = 0; b < 3; ++b) my_mv[9 * v + 3 * a + b] += w * pr[a] * pr[b];
          }
        }
      }
      double* hee = &n.hee[static_cast<size_t>(t) * ne * ne];
      double* hae = &n.hae[static_cast<size_t>(t) * na * ne];
      double* ge = &n.ge[static_cast<size_t>(t) * ne];
      for (int i = 0; i < ne; ++i) {
        const double* ei = &jex[static_cast<size_t>(i) * max_rows];
        ge[i] = Dot(rows, ei, cres.data());
        for (int j = 0; j <= i; ++j) {
          const double v = Dot(rows, ei, &jex[static_cast<size_t>(j) * max_rows]);
          hee[static_cast<size_t>(i) * ne + j] = v;
          hee[static_cast<size_t>(j) * ne + i] = v;
        }
      }
      for (int i = 0; i < na; ++i) {
        const double* ai = &jid[static_cast<size_t>(i) * max_rows];
        double* row = hae + static_cast<size_t>(i) * ne;
        for (int j = 0; j < ne; ++j) row[j] = Dot(rows, ai, &jex[static_cast<size_t>(j) * max_rows]);
      }
    }
#pragma omp critical
    {
      for (size_t i = 0; i < mv.size(); ++i) mv[i] += my_mv[i];
      for (size_t i = 0; i < cv.size(); ++i) cv[i] += my_cv[i];
    }
  }
  n.c0 = c0;
  // haa = sum_v B_v^T M_v B_v, ga = sum_v B_v^T c_v with B_v the (3, na) identity basis at vertex v.
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
  // Priors and the second-difference smoothness (D^T D, D the (T-2, T) stencil [1 -2 1]).
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
#pragma omp parallel if (T >= 64)
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

// The Newton system restricted to the free variables: factor once, solve once per step.
class FreeNewton {
 public:
  // free_a: free identity indices; free_e[t]: free expression indices of frame t (sorted).
  bool Solve(const Normal& n, const std::vector<int>& free_a, const std::vector<std::vector<int>>& free_e,
             const Vec& rhs, Vec& d) {
    const int T = n.T, ne = n.ne, na = n.na;
    const int ma = static_cast<int>(free_a.size());
    ld_.resize(T);
    l1_.resize(T);
    l2_.resize(T);
    y_.resize(T);
    auto nt = [&](int t) { return static_cast<int>(free_e[t].size()); };
    // Block-pentadiagonal Cholesky of the free expression part (sequential over frames).
    for (int t = 0; t < T; ++t) {
      const int m = nt(t);
      const std::vector<int>& f = free_e[t];
      Vec& a = ld_[t];
      a.resize(static_cast<size_t>(m) * m);
      const double* hee = &n.hee[static_cast<size_t>(t) * ne * ne];
      for (int i = 0; i < m; ++i)
        for (int j = 0; j < m; ++j) a[static_cast<size_t>(i) * m + j] = hee[static_cast<size_t>(f[i]) * ne + f[j]];
      if (t >= 1) SubABt(m, m, nt(t - 1), l1_[t - 1].data(), l1_[t - 1].data(), a.data(), true);
      if (t >= 2) SubABt(m, m, nt(t - 2), l2_[t - 2].data(), l2_[t - 2].data(), a.data(), true);
      if (!Cholesky(m, a.data())) return false;
      if (t + 1 < T) {
        const int m1 = nt(t + 1);
        Vec& b = l1_[t];
        Coupling(free_e[t + 1], f, n.s1[t], b);
        if (t >= 1) SubABt(m1, m, nt(t - 1), l2_[t - 1].data(), l1_[t - 1].data(), b.data());
        RightSolveLt(m1, m, a.data(), b.data());
      }
      if (t + 2 < T) {
        Vec& b = l2_[t];
        Coupling(free_e[t + 2], f, n.s2[t], b);
        RightSolveLt(nt(t + 2), m, a.data(), b.data());
      }
    }
    // Y = L^{-1} H_ea (free rows/columns), by column chunks in parallel; then S = H_aa - Y^T Y.
    for (int t = 0; t < T; ++t) {
      const int m = nt(t);
      y_[t].resize(static_cast<size_t>(m) * ma);
      const double* hae = &n.hae[static_cast<size_t>(t) * na * ne];
      for (int i = 0; i < m; ++i)
        for (int c = 0; c < ma; ++c)
          y_[t][static_cast<size_t>(i) * ma + c] = hae[static_cast<size_t>(free_a[c]) * ne + free_e[t][i]];
    }
#pragma omp parallel if (T >= 64)
    {
      const int nth = omp_get_num_threads(), me = omp_get_thread_num();
      const int c0 = ma * me / nth, c1 = ma * (me + 1) / nth;
      if (c1 > c0) {
        for (int t = 0; t < T; ++t) {
          if (t >= 1) SubAY(nt(t), nt(t - 1), l1_[t - 1].data(), y_[t - 1].data(), y_[t].data(), ma, c0, c1);
          if (t >= 2) SubAY(nt(t), nt(t - 2), l2_[t - 2].data(), y_[t - 2].data(), y_[t].data(), ma, c0, c1);
          LeftSolveL(nt(t), ld_[t].data(), y_[t].data(), ma, c0, c1);
        }
      }
    }
    Vec s(static_cast<size_t>(ma) * ma);
    for (int i = 0; i < ma; ++i)
      for (int j = 0; j < ma; ++j)
        s[static_cast<size_t>(i) * ma + j] = n.haa[static_cast<size_t>(free_a[i]) * na + free_a[j]];
#pragma omp parallel if (T >= 64)
    {
      Vec my(static_cast<size_t>(ma) * ma, 0.0);
#pragma omp for schedule(static)
      for (int t = 0; t < T; ++t) {
        // Lower triangle of Y_t^T Y_t, four rows of Y_t per pass over the accumulator.
        const int m = nt(t);
        int r = 0;
        for (; r + 4 <= m; r += 4) {
          const double* y0 = &y_[t][static_cast<size_t>(r) * ma];
          const double* y1 = y0 + ma;
          const double* y2 = y1 + ma;
          const double* y3 = y2 + ma;
          for (int i = 0; i < ma; ++i) {
            const double a0 = y0[i], a1 = y1[i], a2 = y2[i], a3 = y3[i];
            double* row = &my[static_cast<size_t>(i) * ma];
#pragma omp simd
            for (int j = 0; j <= i; ++j) row[j] += a0 * y0[j] + a1 * y1[j] + a2 * y2[j] + a3 * y3[j];
          }
        }
        for (; r < m; ++r) {
          const double* yr = &y_[t][static_cast<size_t>(r) * ma];
          for (int i = 0; i < ma; ++i) {
            const double x = yr[i];
            double* row = &my[static_cast<size_t>(i) * ma];
#pragma omp simd
            for (int j = 0; j <= i; ++j) row[j] += x * yr[j];
          }
        }
      }
#pragma omp critical
      for (size_t k = 0; k < my.size(); ++k) s[k] -= my[k];
    }
    // Forward solve of the expression right-hand side.
    std::vector<Vec> ye(T);
    for (int t = 0; t < T; ++t) {
      const int m = nt(t);
      ye[t].resize(m);
      for (int i = 0; i < m; ++i) ye[t][i] = rhs[na + static_cast<size_t>(t) * ne + free_e[t][i]];
      if (t >= 1) SubAY(m, nt(t - 1), l1_[t - 1].data(), ye[t - 1].data(), ye[t].data(), 1, 0, 1);
      if (t >= 2) SubAY(m, nt(t - 2), l2_[t - 2].data(), ye[t - 2].data(), ye[t].data(), 1, 0, 1);
      LeftSolveL(m, ld_[t].data(), ye[t].data(), 1, 0, 1);
    }
    // Identity step from the Schur complement.
    Vec da(ma);
    for (int c = 0; c < ma; ++c) da[c] = rhs[free_a[c]];
    for (int t = 0; t < T; ++t)
      for (int r = 0; r < nt(t); ++r) {
        const double* yr = &y_[t][static_cast<size_t>(r) * ma];
        for (int c = 0; c < ma; ++c) da[c] -= yr[c] * ye[t][r];
      }
    if (ma > 0) {
      if (!Cholesky(ma, s.data())) return false;
      LeftSolveL(ma, s.data(), da.data(), 1, 0, 1);
      SolveLt(ma, s.data(), da.data());
    }
    // Back substitution for the expression steps.
    d.assign(rhs.size(), 0.0);
    for (int c = 0; c < ma; ++c) d[free_a[c]] = da[c];
    std::vector<Vec> de(T);
    for (int t = T - 1; t >= 0; --t) {
      const int m = nt(t);
      Vec& x = de[t];
      x = ye[t];
      for (int r = 0; r < m; ++r) {
        const double* yr = &y_[t][static_cast<size_t>(r) * ma];
        double v = 0;
        for (int c = 0; c < ma; ++c) v += yr[c] * da[c];
        x[r] -= v;
      }
      if (t + 1 < T) SubAtX(nt(t + 1), m, l1_[t].data(), de[t + 1].data(), x.data());
      if (t + 2 < T) SubAtX(nt(t + 2), m, l2_[t].data(), de[t + 2].data(), x.data());
      SolveLt(m, ld_[t].data(), x.data());
      for (int i = 0; i < m; ++i) d[na + static_cast<size_t>(t) * ne + free_e[t][i]] = x[i];
    }
    return true;
  }

 private:
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

  std::vector<Vec> ld_, l1_, l2_, y_;
};

double Dot(const Vec& a, const Vec& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

}  // namespace

void ShapeSolve(ShapeSolveParams& p) {
  Normal n;
  Assemble(p, n);
  const int T = p.frames, na = p.n_id, ne = p.n_exp;
  const size_t nz = static_cast<size_t>(na) + static_cast<size_t>(T) * ne;
  Vec lo(nz), hi(nz), z(nz), hdiag(nz), g(nz);
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
  FreeNewton newton;
  Vec hz, q(nz), d, znew(nz), delta(nz), hd, rhs(nz);
  std::vector<char> active(nz, 0), prev_active(nz, 2);
  std::vector<int> free_a;
  std::vector<std::vector<int>> free_e(T);
  Vec da(nz), hda;
  int it = 0;
  // Phase 1: primal-dual active set (Hintermueller-Ito-Kunisch) steps: variables whose scaled gradient step
  // leaves the box are put on that bound, the others take the exact minimiser given them. Converges in a few
  // steps when it converges; it stops as soon as the active set repeats with a feasible point (the optimum).
  // Phase 2 (only if phase 1 did not settle): projected Newton with Bertsekas' epsilon-active set and a
  // projected Armijo search, which decreases the cost monotonically.
  const int pdas_limit = std::min(p.max_iterations, 25);
  bool settled = false;
  for (; it < pdas_limit && !settled; ++it) {
    MatVec(n, z, hz);
    free_a.clear();
    for (auto& f : free_e) f.clear();
    bool same = true;
    std::fill(da.begin(), da.end(), 0.0);
    for (size_t i = 0; i < nz; ++i) {
      const double trial = z[i] - (hz[i] + g[i]) / hdiag[i];
      active[i] = trial <= lo[i] ? 1 : trial >= hi[i] ? 2 : 0;
      same = same && active[i] == prev_active[i];
      if (active[i]) {
        da[i] = (active[i] == 1 ? lo[i] : hi[i]) - z[i];
      } else if (i < static_cast<size_t>(na)) {
        free_a.push_back(static_cast<int>(i));
      } else {
        free_e[(i - na) / ne].push_back(static_cast<int>((i - na) % ne));
      }
    }
    bool feasible = true;
    for (size_t i = 0; i < nz && feasible; ++i) feasible = z[i] >= lo[i] && z[i] <= hi[i];
    if (same && feasible) {
      settled = true;
      break;
    }
    MatVec(n, da, hda);
    for (size_t i = 0; i < nz; ++i) rhs[i] = -(hz[i] + g[i]) - hda[i];
    if (!newton.Solve(n, free_a, free_e, rhs, d)) break;
    for (size_t i = 0; i < nz; ++i) z[i] += active[i] ? da[i] : d[i];
    prev_active.swap(active);
  }
  for (size_t i = 0; i < nz; ++i) z[i] = std::clamp(z[i], lo[i], hi[i]);
  std::fill(prev_active.begin(), prev_active.end(), 2);
  for (; it < p.max_iterations && !settled; ++it) {
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
    const double eps = std::min(1e-3, wn);
    free_a.clear();
    for (auto& f : free_e) f.clear();
    bool same = true;
    for (size_t i = 0; i < nz; ++i) {
      active[i] = (z[i] <= lo[i] + eps && q[i] > 0) || (z[i] >= hi[i] - eps && q[i] < 0);
      same = same && active[i] == prev_active[i];
      if (!active[i]) {
        if (i < static_cast<size_t>(na))
          free_a.push_back(static_cast<int>(i));
        else
          free_e[(i - na) / ne].push_back(static_cast<int>((i - na) % ne));
      }
      rhs[i] = -q[i];
    }
    if (!newton.Solve(n, free_a, free_e, rhs, d)) break;
    for (size_t i = 0; i < nz; ++i)
      if (active[i]) d[i] = -q[i] / hdiag[i];
    double alpha = 1.0, dphi = 0;
    bool accepted = false;
    for (int ls = 0; ls < 30 && !accepted; ++ls, alpha *= 0.5) {
      for (size_t i = 0; i < nz; ++i) {
        znew[i] = std::clamp(z[i] + alpha * d[i], lo[i], hi[i]);
        delta[i] = znew[i] - z[i];
      }
      const double slope = Dot(q, delta);
      if (slope >= 0) continue;
      MatVec(n, delta, hd);
      dphi = slope + 0.5 * Dot(delta, hd);
      accepted = dphi <= 1e-4 * slope;
      if (accepted) break;
    }
    if (!accepted) break;
    z.swap(znew);
    prev_active.swap(active);
    const double total = 2 * (phi + dphi) + n.c0;
    if (alpha == 1.0 && same && -2 * dphi <= p.tolerance * std::max(total, 1e-300)) {
      ++it;
      break;
    }
  }
  MatVec(n, z, hz);
  p.cost = Dot(z, hz) + 2 * Dot(g, z) + n.c0;
  p.iterations_done = it;
  for (int i = 0; i < na; ++i) p.identity[i] = z[i];
  for (size_t i = na; i < nz; ++i) p.expression[i - na] = z[i];
}

}  // namespace h2h
