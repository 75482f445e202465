// Appearance warp (render/appearance.py): training crops carried onto driven frames through a shared mesh and
// blended. For each covered pixel of a driven frame's raster and each of its retrieved training frames, the
// pixel's surface point is located in that frame (barycentric interpolation of the frame's projected vertices),
// kept unless the frame's own depth raster shows it hidden by more than `depth_tolerance`, and the frame's crop
// is sampled there bilinearly or (`cubic`) bicubically (Keys, a = -0.75), taps clamped to the crop (border
// replicated). The samples are averaged with the retrieval weights. Per pixel the slots are summed in slot
// order: the result does not depend on the batch or the thread count.
#pragma once
#include <cstdint>

namespace h2h {

struct WarpBlendParams {
  const int32_t* tri_id = nullptr;   // (T, H, W) driven raster: triangle, -1 where empty
  const float* bary = nullptr;       // (T, H, W, 2) its barycentrics
  const int32_t* tri = nullptr;      // (F, 3) the mesh's triangles
  const float* src_pos = nullptr;    // (N, V, 3) training frames' projected vertices (px x, px y, depth)
  const float* src_depth = nullptr;  // (U, H, W) depth rasters of the frames the slots use, -inf where empty
  const uint8_t* src_image = nullptr;  // (N, H, W, 3) training crops
  const int32_t* frame = nullptr;    // (T, M) slot -> training frame in [0, N)
  const int32_t* depth_of = nullptr;  // (T, M) slot -> depth raster in [0, U)
  const float* weight = nullptr;     // (T, M) slot weights (<= 0: unused)
  uint8_t* out = nullptr;            // (T, H, W, 3) blend, 0 where nothing was sampled
  float* cover = nullptr;            // (T, H, W) min(1, sum of the weights of the slots that sampled the pixel)
  int frames = 0, slots = 0, width = 0, height = 0, num_vertices = 0;
  float depth_tolerance = 0.0f;      // pixels
  bool cubic = false;                // bicubic samples (sharper; bilinear low-passes at fractional positions)
};

void WarpBlend(const WarpBlendParams& p);

}  // namespace h2h
