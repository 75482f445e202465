// CUDA rasterizer with the interface and rules of rasterize.h: one thread per (frame, triangle) scans its
// clipped bounding box and atomicMax-es packed fragments (depth key | ~triangle) into a 64-bit z-buffer, so
// the nearest fragment wins and ties go to the lower triangle index exactly as on the CPU; a per-pixel
// resolve pass recomputes the winner's barycentrics from the same fixed-point edge functions.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "common/rasterize.h"

namespace h2h {
namespace {

__global__ void RasterizeKernel(RasterParams p, unsigned long long* zbuf) {
  const int64_t item = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (item >= static_cast<int64_t>(p.batch) * p.num_triangles) return;
  const int b = static_cast<int>(item / p.num_triangles), f = static_cast<int>(item % p.num_triangles);
  SnappedTri t;
  if (!SnapTriangle(p.pos + static_cast<int64_t>(b) * p.num_vertices * 3, p.tri, f, p.cull_back, t)) return;
  int64_t i0, i1, j0, j1;
  PixelSpan(min(t.x[0], min(t.x[1], t.x[2])), max(t.x[0], max(t.x[1], t.x[2])), i0, i1);
  PixelSpan(min(t.y[0], min(t.y[1], t.y[2])), max(t.y[0], max(t.y[1], t.y[2])), j0, j1);
  i0 = max(i0, int64_t{0});
  j0 = max(j0, int64_t{0});
  i1 = min(i1, static_cast<int64_t>(p.width - 1));
  j1 = min(j1, static_cast<int64_t>(p.height - 1));
  const int64_t bias0 = EdgeBias(t, 1, 2), bias1 = EdgeBias(t, 2, 0), bias2 = EdgeBias(t, 0, 1);
  unsigned long long* zb = zbuf + static_cast<int64_t>(b) * p.height * p.width;
  for (int64_t j = j0; j <= j1; ++j) {
    const int64_t py = j * kSub + kSub / 2;
    for (int64_t i = i0; i <= i1; ++i) {
      const int64_t px = i * kSub + kSub / 2;
      const int64_t e0 = EdgeAt(t, 1, 2, px, py), e1 = EdgeAt(t, 2, 0, px, py), e2 = EdgeAt(t, 0, 1, px, py);
      if (((e0 - bias0) | (e1 - bias1) | (e2 - bias2)) < 0) continue;
      float w[3];
      const float z = Weights(t, e0, e1, e2, w);
      atomicMax(zb + j * p.width + i, static_cast<unsigned long long>(PackFragment(z, f)));
    }
  }
}

__global__ void ResolveKernel(RasterParams p, const unsigned long long* zbuf) {
  const int64_t o = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t pixels = static_cast<int64_t>(p.height) * p.width;
  if (o >= p.batch * pixels) return;
  const int b = static_cast<int>(o / pixels);
  const int64_t s = o % pixels;
  const uint64_t packed = zbuf[o];
  int f = -1;
  float b0 = 0.0f, b1 = 0.0f;
  if (packed) {
    f = FragmentTriangle(packed);
    SnappedTri t;
    SnapTriangle(p.pos + static_cast<int64_t>(b) * p.num_vertices * 3, p.tri, f, p.cull_back, t);
    const int64_t px = (s % p.width) * kSub + kSub / 2, py = (s / p.width) * kSub + kSub / 2;
    float w[3];
    Weights(t, EdgeAt(t, 1, 2, px, py), EdgeAt(t, 2, 0, px, py), EdgeAt(t, 0, 1, px, py), w);
    OriginalBary(t, w, b0, b1);
  }
  if (p.tri_id) p.tri_id[o] = f;
  if (p.bary) {
    p.bary[2 * o] = b0;
    p.bary[2 * o + 1] = b1;
  }
  if (p.depth) p.depth[o] = f >= 0 ? FragmentDepth(packed) : -INFINITY;
  if (p.image) {
    float* out = p.image + o * p.channels;
    if (f >= 0) {
      const float* attr_b = p.attr + (p.attr_batched ? static_cast<int64_t>(b) * p.num_vertices * p.channels : 0);
      InterpolateOne(attr_b, p.tri, f, b0, b1, p.channels, out);
    } else {
      for (int c = 0; c < p.channels; ++c) out[c] = 0.0f;
    }
  }
}

}  // namespace

void RasterizeCuda(const RasterParams& p, uint64_t* zbuf, void* stream) {
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  const int64_t pixels = static_cast<int64_t>(p.batch) * p.height * p.width;
  const int64_t tris = static_cast<int64_t>(p.batch) * p.num_triangles;
  const int threads = 256;
  cudaMemsetAsync(zbuf, 0, pixels * sizeof(uint64_t), st);
  auto* zb = reinterpret_cast<unsigned long long*>(zbuf);
  if (tris > 0) RasterizeKernel<<<static_cast<unsigned>((tris + threads - 1) / threads), threads, 0, st>>>(p, zb);
  ResolveKernel<<<static_cast<unsigned>((pixels + threads - 1) / threads), threads, 0, st>>>(p, zb);
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) throw std::runtime_error(std::string("RasterizeCuda: ") + cudaGetErrorString(err));
}

}  // namespace h2h
