// Blendshape evaluation of a linear morphable model: per frame, base + sum_e coef[e] * basis[e]. Every output
// value is accumulated in one fixed order (e ascending, zero coefficients skipped, one multiply and one add per
// term: no fused multiply-add), whatever the number of frames in a call, the blocking or the thread count: a
// frame's vertices depend on its coefficients only, so farm chunks and the whole shot agree bit for bit.
#pragma once
#include <cstdint>

namespace h2h {

struct BlendshapeParams {
  const float* base = nullptr;      // (K, 3) the neutral shape (mean + identity)
  const float* basis = nullptr;     // (E, K, 3) the basis rows of the same K vertices
  const float* coefs = nullptr;     // (T, E) coefficients
  float* out = nullptr;             // (T, K, 3)
  int frames = 0, num_basis = 0, num_subset = 0;
};

void Blendshape(const BlendshapeParams& p);

}  // namespace h2h
