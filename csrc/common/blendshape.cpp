#include "common/blendshape.h"

#include <algorithm>
#include <cstring>

namespace h2h {
namespace {

// Four floats as one SIMD register (GCC/Clang vector extension: SSE on x86-64, NEON on ARM); lane-wise IEEE
// multiplies and adds, the same operations as scalar code.
typedef float V4 __attribute__((vector_size(16)));
typedef int32_t VI __attribute__((vector_size(16)));
inline V4 Load(const float* p) {
  V4 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
inline void Store(float* p, V4 v) { std::memcpy(p, &v, sizeof(v)); }

constexpr int kFrames = 4;        // frames of a register block (their coefficients broadcast over the lanes)
constexpr int kVecs = 3;          // registers per frame: 12 output values (4 vertices)
constexpr int kLanes = 4 * kVecs;
constexpr int64_t kTile = 768;    // output values (256 vertices) per work item: the basis tile (E x 3 KiB)
                                  // stays in L2

// Store `count` values (whole vertices) of frame t starting at value j: as they are, or projected.
inline void Finish(const BlendshapeParams& p, int t, int64_t j, const float* v, int count) {
  float* o = p.out + static_cast<int64_t>(t) * 3 * p.num_subset + j;
  if (p.rotation == nullptr) {
    for (int q = 0; q < count; ++q) o[q] = v[q];
    return;
  }
  const float* R = p.rotation + 9 * static_cast<int64_t>(t);
  const float s = p.scale[t], tx = p.translation[2 * t], ty = p.translation[2 * t + 1];
  for (int q = 0; q < count; q += 3) {
    const float x = v[q], y = v[q + 1], z = v[q + 2];
    const float c0 = (x * R[0] + y * R[1] + z * R[2]) * s;
    const float c1 = (x * R[3] + y * R[4] + z * R[5]) * s;
    const float c2 = (x * R[6] + y * R[7] + z * R[8]) * s;
    const float u = c0 + tx, w = ty - c1;
    if (p.box == nullptr) {
      o[q] = u;
      o[q + 1] = w;
      o[q + 2] = c2;
    } else {
      o[q] = ((u + 0.5f) - p.box[0]) * p.box[2];
      o[q + 1] = ((w + 0.5f) - p.box[1]) * p.box[3];
      o[q + 2] = c2 * p.box[2];
    }
  }
}

// Output values [j0, j1) (whole vertices) of frames [t0, t0 + F): base[j] + sum over e ascending of
// coefs[t, e] * basis[e, j], zero coefficients skipped (so a value's bits depend on its frame's coefficients
// only). Register-blocked: kLanes values of F frames are accumulated over all e before being finished.
template <int F>
void BlendBlock(const BlendshapeParams& p, int t0, int64_t j0, int64_t j1) {
  const int64_t n = 3 * static_cast<int64_t>(p.num_subset);
  const float* coefs = p.coefs + static_cast<int64_t>(t0) * p.num_basis;
  alignas(16) float vals[kLanes];
  int64_t j = j0;
  for (; j + kLanes <= j1; j += kLanes) {
    V4 acc[F][kVecs];
    for (int v = 0; v < kVecs; ++v) {
      const V4 b = Load(p.base + j + 4 * v);
      for (int f = 0; f < F; ++f) acc[f][v] = b;
    }
    for (int e = 0; e < p.num_basis; ++e) {
      const float* row = p.basis + e * n + j;
      V4 r[kVecs];
      for (int v = 0; v < kVecs; ++v) r[v] = Load(row + 4 * v);
      for (int f = 0; f < F; ++f) {
        // A zero coefficient leaves the values as they are (not + 0, which would turn -0 into +0): selected
        // without a branch, whose pattern over frames and terms would be unpredictable.
        const float c = coefs[f * p.num_basis + e];
        const VI keep = c != 0.0f ? VI{-1, -1, -1, -1} : VI{0, 0, 0, 0};
        for (int v = 0; v < kVecs; ++v) {
          const V4 sum = acc[f][v] + c * r[v];
          acc[f][v] = (V4)(((VI)sum & keep) | ((VI)acc[f][v] & ~keep));
        }
      }
    }
    for (int f = 0; f < F; ++f) {
      for (int v = 0; v < kVecs; ++v) Store(vals + 4 * v, acc[f][v]);
      Finish(p, t0 + f, j, vals, kLanes);
    }
  }
  if (j < j1) {  // the last few vertices, value by value, with the same operations
    const int count = static_cast<int>(j1 - j);
    for (int f = 0; f < F; ++f) {
      for (int q = 0; q < count; ++q) {
        float acc = p.base[j + q];
        for (int e = 0; e < p.num_basis; ++e) {
          const float c = coefs[f * p.num_basis + e];
          if (c != 0.0f) acc += c * p.basis[e * n + j + q];
        }
        vals[q] = acc;
      }
      Finish(p, t0 + f, j, vals, count);
    }
  }
}

}  // namespace

void Blendshape(const BlendshapeParams& p) {
  const int64_t n = 3 * static_cast<int64_t>(p.num_subset);
  const int64_t tiles = (n + kTile - 1) / kTile;
  // Work items are tiles of whole vertices over all frames; how values are grouped into items and registers
  // changes no value (each is summed alone, in e order, one multiply and one add per term).
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t tile = 0; tile < tiles; ++tile) {
    const int64_t j0 = tile * kTile, j1 = std::min(n, j0 + kTile);
    int t = 0;
    for (; t + kFrames <= p.frames; t += kFrames) BlendBlock<kFrames>(p, t, j0, j1);
    switch (p.frames - t) {
      case 3: BlendBlock<3>(p, t, j0, j1); break;
      case 2: BlendBlock<2>(p, t, j0, j1); break;
      case 1: BlendBlock<1>(p, t, j0, j1); break;
      default: break;
    }
  }
}

}  // namespace h2h
