// Blendshape evaluation of a linear morphable model: per frame, base + sum_e coef[e] * basis[e]. Every output
// value is accumulated in one fixed order (e ascending, zero coefficients skipped, one multiply and one add per
// term: no fused multiply-add), whatever the number of frames in a call, the blocking or the thread count: a
// frame's vertices depend on its coefficients only, so farm chunks and the whole shot agree bit for bit.
//
// Optionally each vertex is projected in the same pass, never stored in model space: the SOP camera of
// geometry/camera.py, then the crop box's map onto an output raster (render/crop.py: to_output), with the
// float32 operations of their numpy code in its order, so both give the same bits:
//   r_i = (x R_i0 + y R_i1) + z R_i2, c_i = r_i s;  u = c_0 + t_x, v = t_y - c_1, d = c_2;
//   out = (((u + 0.5) - x0) * sx, ((v + 0.5) - y0) * sy, d * sx)  (without a box: (u, v, d)).
#pragma once
#include <cstdint>

namespace h2h {

struct BlendshapeParams {
  const float* base = nullptr;      // (K, 3) the neutral shape (mean + identity)
  const float* basis = nullptr;     // (E, K, 3) the basis rows of the same K vertices
  const float* coefs = nullptr;     // (T, E) coefficients
  float* out = nullptr;             // (T, K, 3) vertices, or projected vertices when `rotation` is set
  int frames = 0, num_basis = 0, num_subset = 0;
  // The camera epilogue (null rotation: none).
  const float* rotation = nullptr;     // (T, 3, 3) per-frame rotations
  const float* translation = nullptr;  // (T, 2) pixel translations
  const float* scale = nullptr;        // (T,) pixels per model unit
  const float* box = nullptr;          // (4,) x0, y0, sx, sy of the output map, or null for track pixels
};

void Blendshape(const BlendshapeParams& p);

}  // namespace h2h
