// Triangle rasterizer for projected meshes (pixel x, pixel y, depth with larger = nearer; see fitting/sop.py).
//
// Rules shared by the CPU (rasterize.cpp), CUDA (rasterize.cu) and numpy (render/_raster_ref.py) versions:
// - vertex x, y are snapped to fixed point with kSubBits fractional bits (round half to even);
// - pixel (i, j) is sampled at its centre (i + 0.5, j + 0.5);
// - a pixel centre is covered when all three edge functions are >= 0, and on an edge only when that edge is
//   a top or left edge (top-left fill rule): meshes are watertight, shared edges covered exactly once;
// - degenerate (zero-area) triangles, triangles with a non-finite vertex and triangles with a vertex outside
//   the guard band (|x| or |y| > kGuardBand px) are dropped; back faces are dropped when culling;
// - the nearest fragment wins (largest interpolated depth); on equal depth the lower triangle index wins.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define H2H_HD __host__ __device__ __forceinline__
#else
#define H2H_HD inline
#endif

namespace h2h {

constexpr int kSubBits = 8;                 // fractional bits of snapped vertex coordinates
constexpr int64_t kSub = 1 << kSubBits;     // fixed-point units per pixel
constexpr float kGuardBand = 4194304.0f;    // 2^22 px: keeps edge functions inside int64

// Parameters of one rasterize call. Every output pointer may be null (not wanted).
struct RasterParams {
  const float* pos;        // (B, V, 3) projected vertices: pixel x, pixel y, depth (larger = nearer)
  const int32_t* tri;      // (F, 3) vertex indices, each in [0, V)
  const float* attr;       // (B, V, C) or (1, V, C) attributes to interpolate into `image`, or null
  int batch;               // B: frames
  int num_vertices;        // V
  int num_triangles;       // F
  int width, height;       // raster size in pixels
  int channels;            // C: attribute channels (0 without attr)
  bool attr_batched;       // attr has one (V, C) block per frame (else one shared block)
  bool cull_back;          // drop back faces: those clockwise in model x-y seen from +z (= positive screen
                           // area in y-down pixels); the model's triangles are counter-clockwise from outside
  int32_t* tri_id;         // out (B, H, W): winning triangle index, -1 where empty
  float* bary;             // out (B, H, W, 2): weights of the triangle's vertices 0 and 1 (vertex 2: 1 - b0 - b1)
  float* depth;            // out (B, H, W): interpolated depth, -inf where empty
  float* image;            // out (B, H, W, C): interpolated attributes, 0 where empty
};

// A triangle snapped to fixed point, in positive-area order (vertices 1 and 2 swapped when `flipped`).
struct SnappedTri {
  int64_t x[3], y[3];  // fixed-point pixel coordinates
  float z[3];          // depths
  int64_t area;        // twice the area in fixed-point units squared, > 0
  float inv_area;      // 1 / (float)area
  bool flipped;        // vertices 1 and 2 were swapped
};

H2H_HD int64_t SnapCoord(float v) { return static_cast<int64_t>(rintf(v * static_cast<float>(kSub))); }

// True when a vertex can be rasterized: finite, and x, y inside the guard band.
H2H_HD bool VertexOk(const float* v) {
  return fabsf(v[0]) <= kGuardBand && fabsf(v[1]) <= kGuardBand && fabsf(v[2]) <= 3.0e38f;
}

// Finish a triangle whose snapped vertices are filled in: compute its area, drop it when degenerate or
// culled (false), and swap vertices 1 and 2 when needed to make the area positive.
H2H_HD bool OrientTriangle(bool cull_back, SnappedTri& t) {
  int64_t area = (t.x[1] - t.x[0]) * (t.y[2] - t.y[0]) - (t.y[1] - t.y[0]) * (t.x[2] - t.x[0]);
  if (area == 0 || (cull_back && area > 0)) return false;
  t.flipped = area < 0;
  if (t.flipped) {
    int64_t tx = t.x[1], ty = t.y[1];
    float tz = t.z[1];
    t.x[1] = t.x[2]; t.y[1] = t.y[2]; t.z[1] = t.z[2];
    t.x[2] = tx; t.y[2] = ty; t.z[2] = tz;
    area = -area;
  }
  t.area = area;
  t.inv_area = 1.0f / static_cast<float>(area);
  return true;
}

// Snap triangle f of the frame whose vertices start at `pos_b`; false when it is dropped (see rules above).
H2H_HD bool SnapTriangle(const float* pos_b, const int32_t* tri, int f, bool cull_back, SnappedTri& t) {
  for (int k = 0; k < 3; ++k) {
    const float* v = pos_b + 3 * static_cast<int64_t>(tri[3 * f + k]);
    if (!VertexOk(v)) return false;
    t.x[k] = SnapCoord(v[0]);
    t.y[k] = SnapCoord(v[1]);
    t.z[k] = v[2];
  }
  return OrientTriangle(cull_back, t);
}

// Edge function of edge a->b at fixed-point point (px, py): >= 0 on the triangle's side.
H2H_HD int64_t EdgeAt(const SnappedTri& t, int a, int b, int64_t px, int64_t py) {
  return (t.x[b] - t.x[a]) * (py - t.y[a]) - (t.y[b] - t.y[a]) * (px - t.x[a]);
}

// 0 for a top or left edge (on-edge pixel centres belong to this triangle), 1 otherwise.
H2H_HD int64_t EdgeBias(const SnappedTri& t, int a, int b) {
  const int64_t dx = t.x[b] - t.x[a], dy = t.y[b] - t.y[a];
  return (dy < 0 || (dy == 0 && dx > 0)) ? 0 : 1;
}

// Barycentric weights (in snapped order) from the three unbiased edge values, and the interpolated depth.
H2H_HD float Weights(const SnappedTri& t, int64_t e0, int64_t e1, int64_t e2, float w[3]) {
  const float inv = t.inv_area;
  w[0] = static_cast<float>(e0) * inv;
  w[1] = static_cast<float>(e1) * inv;
  w[2] = static_cast<float>(e2) * inv;
  return w[0] * t.z[0] + w[1] * t.z[1] + w[2] * t.z[2];
}

// Pixel-centre index range [lo, hi] covered by the fixed-point interval [vmin, vmax] (hi < lo: none).
H2H_HD void PixelSpan(int64_t vmin, int64_t vmax, int64_t& lo, int64_t& hi) {
  const int64_t half = kSub / 2;
  lo = -((half - vmin) >> kSubBits);  // ceil((vmin - half) / kSub)
  hi = (vmax - half) >> kSubBits;     // floor((vmax - half) / kSub)
}

// Depth -> unsigned key with the same order (larger depth = larger key), for a packed 64-bit z-buffer entry
// (key << 32 | ~triangle): the max entry is the nearest fragment, ties going to the lower triangle index.
H2H_HD uint32_t DepthKey(float z) {
#if defined(__CUDA_ARCH__)
  const uint32_t bits = __float_as_uint(z);
#else
  uint32_t bits;
  memcpy(&bits, &z, 4);
#endif
  return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}
H2H_HD uint64_t PackFragment(float z, int f) {
  return (static_cast<uint64_t>(DepthKey(z)) << 32) | static_cast<uint32_t>(~static_cast<uint32_t>(f));
}
H2H_HD float FragmentDepth(uint64_t packed) {
  const uint32_t key = static_cast<uint32_t>(packed >> 32);
  const uint32_t bits = (key & 0x80000000u) ? (key & 0x7fffffffu) : ~key;
#if defined(__CUDA_ARCH__)
  return __uint_as_float(bits);
#else
  float z;
  memcpy(&z, &bits, 4);
  return z;
#endif
}
H2H_HD int FragmentTriangle(uint64_t packed) { return static_cast<int>(~static_cast<uint32_t>(packed)); }

// Original-order weights of vertices 0 and 1 from snapped-order weights.
H2H_HD void OriginalBary(const SnappedTri& t, const float w[3], float& b0, float& b1) {
  b0 = w[0];
  b1 = t.flipped ? w[2] : w[1];
}

// out[c] = b0 * attr[v0] + b1 * attr[v1] + (1 - b0 - b1) * attr[v2] for c < C.
H2H_HD void InterpolateOne(const float* attr_b, const int32_t* tri, int f, float b0, float b1, int C,
                           float* out) {
  const float b2 = 1.0f - b0 - b1;
  const float* a0 = attr_b + static_cast<int64_t>(tri[3 * f]) * C;
  const float* a1 = attr_b + static_cast<int64_t>(tri[3 * f + 1]) * C;
  const float* a2 = attr_b + static_cast<int64_t>(tri[3 * f + 2]) * C;
  for (int c = 0; c < C; ++c) out[c] = b0 * a0[c] + b1 * a1[c] + b2 * a2[c];
}

// CPU entry points (OpenMP over frames and horizontal bands), defined in rasterize.cpp.
void RasterizeCpu(const RasterParams& p);
// out (B, H, W, C) = attr interpolated at (tri_id, bary); 0 where tri_id < 0.
void InterpolateCpu(const float* attr, bool attr_batched, const int32_t* tri, const int32_t* tri_id,
                    const float* bary, int batch, int num_pixels, int channels, int num_vertices, float* out);

#if defined(H2H_WITH_CUDA)
// CUDA entry point (rasterize.cu): every pointer in `p` is a device pointer; `zbuf` is (B, H, W) uint64
// scratch; runs on `stream` (a cudaStream_t) without synchronising.
void RasterizeCuda(const RasterParams& p, uint64_t* zbuf, void* stream);
#endif

}  // namespace h2h
