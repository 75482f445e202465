// Blendshape evaluation of a linear morphable model: per frame, base + sum_e coef[e] * basis[e] over a vertex
// subset. Every output value is accumulated in one fixed order (e ascending), whatever the number of frames
// in a call, the blocking or the thread count: a frame's vertices depend on its coefficients only, so farm
// chunks and the whole shot agree bit for bit.
#pragma once
#include <cstdint>

namespace h2h {

struct BlendshapeParams {
  const float* base = nullptr;      // (K, 3) the neutral shape of the subset (mean + identity)
  const float* basis = nullptr;     // (E, V, 3) the model's whole expression basis
  const int32_t* vertices = nullptr;  // (K,) subset indices into V, or nullptr for all (K == V)
  const float* coefs = nullptr;     // (T, E) expression coefficients
  float* out = nullptr;             // (T, K, 3)
  int frames = 0, num_basis = 0, num_vertices = 0, num_subset = 0;
};

void Blendshape(const BlendshapeParams& p);

}  // namespace h2h
