#include "common/shape_predict.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#ifndef H2H_SHAPE_PREFETCH
#define H2H_SHAPE_PREFETCH 32
#endif

namespace h2h {
namespace {

// dlib's serialisation (dlib/serialize.h): an integer is a control byte (low 4 bits: the number of bytes
// that follow, 0x80: negative) and that many little-endian bytes; a float is its mantissa and exponent as
// two such integers (value = mantissa * 2^exponent); a column matrix is -rows, -1, then its elements; a
// std::vector is its size, then its elements.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}

  int64_t Int(const char* what) {
    if (p_ >= end_) Fail(what);
    const uint8_t control = *p_++;
    const int n = control & 0x0F;
    if (n > 8 || end_ - p_ < n) Fail(what);
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | p_[i];
    p_ += n;
    return (control & 0x80) ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
  }

  float Float(const char* what) {
    const int64_t mantissa = Int(what);
    const int64_t exponent = Int(what);
    if (exponent >= 32000) Fail(what);  // dlib's codes for inf / nan: never in a trained model
    // mantissa * 2^exponent: a power of two from the table is an exact factor (ldexp where it could round)
    if (exponent >= -126 && exponent <= 127 && mantissa > -(1 << 24) && mantissa < (1 << 24))
      return static_cast<float>(mantissa) * Pow2()[exponent + 126];
    return std::ldexp(static_cast<float>(mantissa), static_cast<int>(exponent));
  }

  static const float* Pow2() {  // 2^-126 .. 2^127
    static const std::vector<float> table = [] {
      std::vector<float> t(254);
      for (int e = -126; e <= 127; ++e) t[e + 126] = std::ldexp(1.0f, e);
      return t;
    }();
    return table.data();
  }

  // A column matrix<float,0,1> of `want` rows (any when want < 0) into out.
  void Column(const char* what, long want, float* out) {
    const int64_t rows = -Int(what), cols = -Int(what);
    if (cols != 1 || (want >= 0 && rows != want)) Fail(what);
    for (int64_t i = 0; i < rows; ++i) out[i] = Float(what);
  }

  int64_t Count(const char* what, int64_t want) {
    const int64_t n = Int(what);
    if (n < 0 || (want >= 0 && n != want)) Fail(what);
    return n;
  }

  bool AtEnd() const { return p_ == end_; }

  [[noreturn]] static void Fail(const char* what) {
    throw std::invalid_argument(std::string("shape_model_load: malformed dlib shape predictor (") + what + ")");
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

// x rounded half up to an integer, as dlib converts a double vector to a point.
inline long RoundHalfUp(double x) { return static_cast<long>(std::floor(x + 0.5)); }

// The 2x2 linear part of dlib's find_similarity_transform(from, to) (Umeyama), cast to float: the means,
// the spread of `from` and the covariance summed in double in dlib's order; then c R = [[a + d, b - c],
// [c - b, a + d]] / sigma_from for the covariance [[a, b], [c, d]] (both signs of its determinant).
void SimilarityTform(const float* from, const float* to, int n, float m[4]) {
  double mfx = 0, mfy = 0, mtx = 0, mty = 0;
  for (int i = 0; i < n; ++i) {
    mfx += from[2 * i];
    mfy += from[2 * i + 1];
    mtx += to[2 * i];
    mty += to[2 * i + 1];
  }
  mfx /= n;
  mfy /= n;
  mtx /= n;
  mty /= n;
  double sigma = 0, c00 = 0, c01 = 0, c10 = 0, c11 = 0;
  for (int i = 0; i < n; ++i) {
    const double fx = from[2 * i] - mfx, fy = from[2 * i + 1] - mfy;
    const double tx = to[2 * i] - mtx, ty = to[2 * i + 1] - mty;
    sigma += fx * fx + fy * fy;
    c00 += tx * fx;
    c01 += tx * fy;
    c10 += ty * fx;
    c11 += ty * fy;
  }
  sigma /= n;
  c00 /= n;
  c01 /= n;
  c10 /= n;
  c11 /= n;
  double a = c00 + c11, b = c10 - c01;
  if (sigma != 0) {
    a /= sigma;
    b /= sigma;
  } else {  // dlib: scale 1, the rotation alone
    const double r = std::sqrt(a * a + b * b);
    a = r > 0 ? a / r : 1.0;
    b = r > 0 ? b / r : 0.0;
  }
  m[0] = static_cast<float>(a);
  m[1] = static_cast<float>(-b);
  m[2] = static_cast<float>(b);
  m[3] = static_cast<float>(a);
}

}  // namespace

ShapeModel ParseShapeModel(const uint8_t* data, size_t size) {
  Reader r(data, size);
  ShapeModel m;
  if (r.Int("version") != 1) Reader::Fail("version");
  {
    const int64_t rows = -r.Int("initial shape"), cols = -r.Int("initial shape");
    if (cols != 1 || rows <= 0 || rows % 2 != 0 || rows > 2 * 4096) Reader::Fail("initial shape");
    m.parts = static_cast<int>(rows / 2);
    m.initial.resize(rows);
    for (int64_t i = 0; i < rows; ++i) m.initial[i] = r.Float("initial shape");
  }
  const int dims = 2 * m.parts;
  m.cascades = static_cast<int>(r.Count("forests", -1));
  for (int c = 0; c < m.cascades; ++c) {
    const int64_t trees = r.Count("trees", c == 0 ? -1 : m.trees);
    if (c == 0) m.trees = static_cast<int>(trees);
    for (int t = 0; t < m.trees; ++t) {
      const int64_t splits = r.Count("splits", (c == 0 && t == 0) ? -1 : m.splits);
      if (c == 0 && t == 0) {
        m.splits = static_cast<int>(splits);
        m.leaves = m.splits + 1;
        while ((1 << m.depth) < m.leaves) ++m.depth;
        if ((1 << m.depth) != m.leaves) Reader::Fail("tree not complete (leaves must be a power of 2)");
        const size_t nodes = static_cast<size_t>(m.cascades) * m.trees * m.splits;
        m.idx1.resize(nodes);
        m.idx2.resize(nodes);
        m.thresh.resize(nodes);
        m.leaf.resize(static_cast<size_t>(m.cascades) * m.trees * m.leaves * dims);
      }
      const size_t node0 = (static_cast<size_t>(c) * m.trees + t) * m.splits;
      for (int s = 0; s < m.splits; ++s) {
        const int64_t i1 = r.Int("split"), i2 = r.Int("split");
        if (i1 < 0 || i2 < 0 || i1 > 65535 || i2 > 65535) Reader::Fail("split feature index");
        m.idx1[node0 + s] = static_cast<uint16_t>(i1);
        m.idx2[node0 + s] = static_cast<uint16_t>(i2);
        m.thresh[node0 + s] = r.Float("split threshold");
      }
      r.Count("leaves", m.leaves);
      float* leaf = &m.leaf[(static_cast<size_t>(c) * m.trees + t) * m.leaves * dims];
      for (int l = 0; l < m.leaves; ++l) r.Column("leaf", dims, leaf + static_cast<size_t>(l) * dims);
    }
  }
  r.Count("anchor cascades", m.cascades);
  for (int c = 0; c < m.cascades; ++c) {
    const int64_t f = r.Count("anchors", c == 0 ? -1 : m.features);
    if (c == 0) {
      m.features = static_cast<int>(f);
      m.anchor.resize(static_cast<size_t>(m.cascades) * m.features);
      m.delta.resize(static_cast<size_t>(m.cascades) * m.features * 2);
    }
    for (int i = 0; i < m.features; ++i) {
      const int64_t a = r.Int("anchor");
      if (a < 0 || a >= m.parts) Reader::Fail("anchor index");
      m.anchor[static_cast<size_t>(c) * m.features + i] = static_cast<int32_t>(a);
    }
  }
  r.Count("delta cascades", m.cascades);
  for (int c = 0; c < m.cascades; ++c) {
    r.Count("deltas", m.features);
    for (int i = 0; i < 2 * m.features; ++i) m.delta[static_cast<size_t>(c) * m.features * 2 + i] = r.Float("delta");
  }
  if (!r.AtEnd()) Reader::Fail("trailing bytes");
  for (size_t i = 0; i < m.idx1.size(); ++i)
    if (m.idx1[i] >= m.features || m.idx2[i] >= m.features) Reader::Fail("split feature index");
  return m;
}

void ShapePredict(const ShapeModel& m, ShapePredictParams& p) {
  const int dims = 2 * m.parts;
  std::vector<float> shape(m.initial);
  std::vector<float> feat(m.features);
  std::vector<int> chosen(m.trees);
  // dlib's unnormalizing_tform(rect): (0, 0) -> (left, top), (1, 1) -> (right, bottom)
  const double sx = static_cast<double>(p.right - p.left), sy = static_cast<double>(p.bottom - p.top);
  const double ox = static_cast<double>(p.left), oy = static_cast<double>(p.top);
  for (int c = 0; c < m.cascades; ++c) {
    float tf[4];
    SimilarityTform(m.initial.data(), shape.data(), m.parts, tf);
    const int32_t* anchor = &m.anchor[static_cast<size_t>(c) * m.features];
    const float* delta = &m.delta[static_cast<size_t>(c) * m.features * 2];
    for (int i = 0; i < m.features; ++i) {
      const float dx = delta[2 * i], dy = delta[2 * i + 1];
      const float px = (tf[0] * dx + tf[1] * dy) + shape[2 * anchor[i]];
      const float py = (tf[2] * dx + tf[3] * dy) + shape[2 * anchor[i] + 1];
      const long x = RoundHalfUp(sx * static_cast<double>(px) + ox);
      const long y = RoundHalfUp(sy * static_cast<double>(py) + oy);
      feat[i] = (x >= 0 && y >= 0 && x < p.width && y < p.height)
                    ? static_cast<float>(p.image[y * p.stride + x]) : 0.0f;
    }
    // dlib's walk: left (2i + 1) when f[idx1] - f[idx2] > thresh, else right (2i + 2), down to a leaf; without
    // branches (the outcomes are unpredictable: branching cost half the time)
    const size_t node0 = static_cast<size_t>(c) * m.trees * m.splits;
    for (int t = 0; t < m.trees; ++t) {
      const size_t base = node0 + static_cast<size_t>(t) * m.splits;
      int i = 0;
      for (int level = 0; level < m.depth; ++level)
        i = 2 * i + 2 - static_cast<int>(feat[m.idx1[base + i]] - feat[m.idx2[base + i]] > m.thresh[base + i]);
      chosen[t] = i - m.splits;
    }
    const float* leaves = &m.leaf[static_cast<size_t>(c) * m.trees * m.leaves * dims];
    // The chosen leaves are scattered over the cascade's 4.4 MB (out of cache): keep kAhead trees' leaves in
    // flight (a leaf is 9 cache lines; adding one takes a few ns, a DRAM fetch ~100 ns).
    constexpr int kAhead = H2H_SHAPE_PREFETCH;
    for (int t = 0; t < std::min(kAhead, m.trees); ++t) {
      const float* next = leaves + (static_cast<size_t>(t) * m.leaves + chosen[t]) * dims;
      for (int k = 0; k < dims; k += 16) __builtin_prefetch(next + k);
    }
    for (int t = 0; t < m.trees; ++t) {
      if (t + kAhead < m.trees) {
        const float* next = leaves + (static_cast<size_t>(t + kAhead) * m.leaves + chosen[t + kAhead]) * dims;
        for (int k = 0; k < dims; k += 16) __builtin_prefetch(next + k);
      }
      const float* l = leaves + (static_cast<size_t>(t) * m.leaves + chosen[t]) * dims;
      float* s = shape.data();
#pragma omp simd
      for (int k = 0; k < dims; ++k) s[k] += l[k];
    }
  }
  for (int i = 0; i < m.parts; ++i) {
    p.points[2 * i] = static_cast<float>(RoundHalfUp(sx * static_cast<double>(shape[2 * i]) + ox));
    p.points[2 * i + 1] = static_cast<float>(RoundHalfUp(sy * static_cast<double>(shape[2 * i + 1]) + oy));
  }
}

}  // namespace h2h
