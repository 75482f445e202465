#include "common/warp_blend.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace h2h {
namespace {

// Bilinear sample of a (H, W, 3) uint8 image at pixel coordinates (x, y) of pixel centres, border replicated.
inline void Bilinear(const uint8_t* img, int w, int h, float x, float y, float* rgb) {
  x = std::min(std::max(x, 0.0f), static_cast<float>(w - 1));
  y = std::min(std::max(y, 0.0f), static_cast<float>(h - 1));
  const int x0 = static_cast<int>(x), y0 = static_cast<int>(y);
  const int x1 = std::min(x0 + 1, w - 1), y1 = std::min(y0 + 1, h - 1);
  const float fx = x - x0, fy = y - y0;
  const uint8_t* a = img + 3 * (static_cast<int64_t>(y0) * w + x0);
  const uint8_t* b = img + 3 * (static_cast<int64_t>(y0) * w + x1);
  const uint8_t* c = img + 3 * (static_cast<int64_t>(y1) * w + x0);
  const uint8_t* d = img + 3 * (static_cast<int64_t>(y1) * w + x1);
  for (int k = 0; k < 3; ++k)
    rgb[k] = (a[k] * (1 - fx) + b[k] * fx) * (1 - fy) + (c[k] * (1 - fx) + d[k] * fx) * fy;
}

// Keys cubic convolution weights (a = -0.75, OpenCV's INTER_CUBIC) of the 4 taps around fraction f in [0, 1).
inline void CubicWeights(float f, float* w) {
  constexpr float A = -0.75f;
  const float g = f + 1.0f, h = 1.0f - f;
  w[0] = ((A * g - 5.0f * A) * g + 8.0f * A) * g - 4.0f * A;
  w[1] = ((A + 2.0f) * f - (A + 3.0f)) * f * f + 1.0f;
  w[2] = ((A + 2.0f) * h - (A + 3.0f)) * h * h + 1.0f;
  w[3] = 1.0f - w[0] - w[1] - w[2];
}

// Bicubic sample of a (H, W, 3) uint8 image at pixel coordinates (x, y) of pixel centres, border replicated
// (taps clamped to the image). Bilinear low-passes every sample (a half-pixel offset averages two pixels), which
// a warp applies at every fractional position: the warped face loses its finest texture. With AVX2 a sample
// whose 4 columns lie inside the image is filtered down its columns first, a row's 12 channels at once (the
// same sum in another order).
inline void Bicubic(const uint8_t* img, int w, int h, float x, float y, float* rgb) {
  x = std::min(std::max(x, -2.0f), static_cast<float>(w + 1));  // beyond this every tap is the border pixel
  y = std::min(std::max(y, -2.0f), static_cast<float>(h + 1));
  const float fx0 = std::floor(x), fy0 = std::floor(y);
  const int x0 = static_cast<int>(fx0) - 1, y0 = static_cast<int>(fy0) - 1;
  float wx[4], wy[4];
  CubicWeights(x - fx0, wx);
  CubicWeights(y - fy0, wy);
#if defined(__AVX2__)
  if (x0 >= 0 && x0 + 3 < w) {  // the 4 taps of a row are adjacent: 12 bytes, filtered down the rows first
    __m256 lo = _mm256_setzero_ps();  // lanes r0 g0 b0 r1 g1 b1 r2 g2
    __m128 hi = _mm_setzero_ps();     // lanes b2 r3 g3 b3
    for (int j = 0; j < 4; ++j) {
      const uint8_t* px = img + 3 * (static_cast<int64_t>(std::min(std::max(y0 + j, 0), h - 1)) * w + x0);
      int64_t a;
      int32_t b;
      std::memcpy(&a, px, 8);
      std::memcpy(&b, px + 8, 4);
      const __m256 s = _mm256_set1_ps(wy[j]);
      lo = _mm256_add_ps(lo, _mm256_mul_ps(s, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(a)))));
      hi = _mm_add_ps(hi, _mm_mul_ps(_mm256_castps256_ps128(s),
                                     _mm_cvtepi32_ps(_mm_cvtepu8_epi32(_mm_cvtsi32_si128(b)))));
    }
    float t[12];
    _mm256_storeu_ps(t, _mm256_mul_ps(lo, _mm256_setr_ps(wx[0], wx[0], wx[0], wx[1], wx[1], wx[1], wx[2], wx[2])));
    _mm_storeu_ps(t + 8, _mm_mul_ps(hi, _mm_setr_ps(wx[2], wx[3], wx[3], wx[3])));
    for (int k = 0; k < 3; ++k) rgb[k] = (t[k] + t[k + 3]) + (t[k + 6] + t[k + 9]);
    return;
  }
#endif
  int xs[4];
  for (int i = 0; i < 4; ++i) xs[i] = std::min(std::max(x0 + i, 0), w - 1);
  rgb[0] = rgb[1] = rgb[2] = 0.0f;
  for (int j = 0; j < 4; ++j) {
    const uint8_t* row = img + 3 * static_cast<int64_t>(std::min(std::max(y0 + j, 0), h - 1)) * w;
    float r[3] = {0.0f, 0.0f, 0.0f};
    for (int i = 0; i < 4; ++i) {
      const uint8_t* px = row + 3 * xs[i];
      for (int k = 0; k < 3; ++k) r[k] += wx[i] * px[k];
    }
    for (int k = 0; k < 3; ++k) rgb[k] += wy[j] * r[k];
  }
}

}  // namespace

void WarpBlend(const WarpBlendParams& p) {
  const int64_t pixels = static_cast<int64_t>(p.width) * p.height;
#pragma omp parallel
  {
    std::vector<float> acc(3 * pixels), wsum(pixels);
#pragma omp for schedule(dynamic, 1)
    for (int t = 0; t < p.frames; ++t) {
      const int32_t* tri_id = p.tri_id + t * pixels;
      const float* bary = p.bary + 2 * t * pixels;
      std::fill(acc.begin(), acc.end(), 0.0f);
      std::fill(wsum.begin(), wsum.end(), 0.0f);
      for (int s = 0; s < p.slots; ++s) {  // slot-major: one training frame's data at a time (cache)
        const int64_t k = static_cast<int64_t>(t) * p.slots + s;
        const float wt = p.weight[k];
        if (!(wt > 0)) continue;
        const int64_t j = p.frame[k];
        const float* pos = p.src_pos + j * p.num_vertices * 3;
        const float* depth = p.src_depth + p.depth_of[k] * pixels;
        const uint8_t* image = p.src_image + j * pixels * 3;
        for (int64_t o = 0; o < pixels; ++o) {
          const int f = tri_id[o];
          if (f < 0) continue;
          const float b0 = bary[2 * o], b1 = bary[2 * o + 1], b2 = 1.0f - b0 - b1;
          const int32_t* v = p.tri + 3 * static_cast<int64_t>(f);
          const float* q0 = pos + 3 * static_cast<int64_t>(v[0]);
          const float* q1 = pos + 3 * static_cast<int64_t>(v[1]);
          const float* q2 = pos + 3 * static_cast<int64_t>(v[2]);
          const float sx = b0 * q0[0] + b1 * q1[0] + b2 * q2[0] - 0.5f;  // pixel-centre coordinates
          const float sy = b0 * q0[1] + b1 * q1[1] + b2 * q2[1] - 0.5f;
          const float sz = b0 * q0[2] + b1 * q1[2] + b2 * q2[2];
          const int nx = static_cast<int>(std::floor(sx + 0.5f)), ny = static_cast<int>(std::floor(sy + 0.5f));
          if (nx >= 0 && nx < p.width && ny >= 0 && ny < p.height &&  // outside its raster nothing hides it
              sz < depth[static_cast<int64_t>(ny) * p.width + nx] - p.depth_tolerance)
            continue;  // hidden in the training frame
          float rgb[3];
          if (p.cubic)
            Bicubic(image, p.width, p.height, sx, sy, rgb);
          else
            Bilinear(image, p.width, p.height, sx, sy, rgb);
          for (int c = 0; c < 3; ++c) acc[3 * o + c] += wt * rgb[c];
          wsum[o] += wt;
        }
      }
      uint8_t* out = p.out + 3 * t * pixels;
      float* cover = p.cover + t * pixels;
      for (int64_t o = 0; o < pixels; ++o) {
        const float w = wsum[o];
        for (int c = 0; c < 3; ++c)
          out[3 * o + c] = w > 0 ? static_cast<uint8_t>(std::min(255.0f, std::max(0.0f, acc[3 * o + c] / w + 0.5f))) : 0;
        cover[o] = std::min(w, 1.0f);
      }
    }
  }
}

}  // namespace h2h
