#include "common/blendshape.h"

#include <algorithm>
#include <cstring>

namespace h2h {
namespace {

constexpr int kFrameBlock = 8;  // frames sharing each basis row while it is in cache

// out_t (K*3) += c * row, the row gathered through `vertices` when given.
inline void Accumulate(float* out_t, const float* row, const int32_t* vertices, int k, float c) {
  if (vertices == nullptr) {
    for (int j = 0; j < 3 * k; ++j) out_t[j] += c * row[j];
    return;
  }
  for (int i = 0; i < k; ++i) {
    const float* r = row + 3 * static_cast<int64_t>(vertices[i]);
    float* o = out_t + 3 * i;
    o[0] += c * r[0];
    o[1] += c * r[1];
    o[2] += c * r[2];
  }
}

}  // namespace

void Blendshape(const BlendshapeParams& p) {
  const int64_t k3 = 3 * static_cast<int64_t>(p.num_subset);
  const int64_t v3 = 3 * static_cast<int64_t>(p.num_vertices);
  const int blocks = (p.frames + kFrameBlock - 1) / kFrameBlock;
#pragma omp parallel for schedule(dynamic, 1)
  for (int b = 0; b < blocks; ++b) {
    const int t0 = b * kFrameBlock, t1 = std::min(p.frames, t0 + kFrameBlock);
    for (int t = t0; t < t1; ++t) std::memcpy(p.out + t * k3, p.base, sizeof(float) * k3);
    for (int e = 0; e < p.num_basis; ++e) {
      const float* row = p.basis + e * v3;
      for (int t = t0; t < t1; ++t) {
        const float c = p.coefs[static_cast<int64_t>(t) * p.num_basis + e];
        if (c != 0.0f) Accumulate(p.out + t * k3, row, p.vertices, p.num_subset, c);
      }
    }
  }
}

}  // namespace h2h
