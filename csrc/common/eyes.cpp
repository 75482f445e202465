#include "common/eyes.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "common/rasterize.h"

namespace h2h {
namespace {

// Mark the pixel centres of the window covered by triangle (a, b, c) of fan vertices `v` (7, 2) with `id`
// where nothing lower is drawn yet (triangles come in index order, so the first cover is the lowest index).
void FillTriangle(const float* v, int a, int b, int c, int8_t id, int ww, int wh, int8_t* win) {
  SnappedTri t;
  const int k[3] = {a, b, c};
  for (int q = 0; q < 3; ++q) {
    const float pos[3] = {v[2 * k[q]], v[2 * k[q] + 1], 0.0f};
    if (!VertexOk(pos)) return;
    t.x[q] = SnapCoord(pos[0]);
    t.y[q] = SnapCoord(pos[1]);
    t.z[q] = 0.0f;
  }
  if (!OrientTriangle(false, t)) return;
  int64_t i0, i1, j0, j1;
  PixelSpan(std::min({t.y[0], t.y[1], t.y[2]}), std::max({t.y[0], t.y[1], t.y[2]}), j0, j1);
  PixelSpan(std::min({t.x[0], t.x[1], t.x[2]}), std::max({t.x[0], t.x[1], t.x[2]}), i0, i1);
  j0 = std::max<int64_t>(j0, 0);
  j1 = std::min<int64_t>(j1, wh - 1);
  i0 = std::max<int64_t>(i0, 0);
  i1 = std::min<int64_t>(i1, ww - 1);
  const int64_t bias0 = EdgeBias(t, 1, 2), bias1 = EdgeBias(t, 2, 0), bias2 = EdgeBias(t, 0, 1);
  const int64_t half = kSub / 2;
  for (int64_t j = j0; j <= j1; ++j) {
    const int64_t py = j * kSub + half;
    for (int64_t i = i0; i <= i1; ++i) {
      const int64_t px = i * kSub + half;
      const int64_t e0 = EdgeAt(t, 1, 2, px, py) - bias0, e1 = EdgeAt(t, 2, 0, px, py) - bias1,
                    e2 = EdgeAt(t, 0, 1, px, py) - bias2;
      int8_t& o = win[j * ww + i];
      if ((e0 | e1 | e2) >= 0 && o < 0) o = id;
    }
  }
}

// [lo, hi) pixel range floor(c - r) .. ceil(c + r) + 1 clipped to [0, n) (in double, as Python computes it).
void DiscSpan(double c, double r, int n, int& lo, int& hi) {
  const double a = std::floor(c - r), b = std::ceil(c + r) + 1.0;
  lo = a <= 0.0 ? 0 : (a >= n ? n : static_cast<int>(a));
  hi = b <= 0.0 ? 0 : (b >= n ? n : static_cast<int>(b));
}

}  // namespace

void RenderEyes(const EyeParams& p) {
  const int W = p.width, H = p.height, ww = p.x1 - p.x0, wh = p.y1 - p.y0;
  const int64_t frame_px = static_cast<int64_t>(W) * H;
#pragma omp parallel for schedule(dynamic, 1)
  for (int t = 0; t < p.frames; ++t) {
    int8_t* eye = p.eye + t * frame_px;
    std::memset(eye, -1, frame_px);
    if (ww > 0 && wh > 0) {
      std::vector<int8_t> win(static_cast<size_t>(ww) * wh, -1);
      for (int k = 0; k < 2; ++k) {
        const float* v = p.fans + (static_cast<int64_t>(t) * 2 + k) * 14;
        for (int f = 0; f < 6; ++f) FillTriangle(v, f, (f + 1) % 6, 6, static_cast<int8_t>(k), ww, wh, win.data());
      }
      for (int j = 0; j < wh; ++j) std::memcpy(eye + static_cast<int64_t>(j + p.y0) * W + p.x0, &win[j * ww], ww);
    }
    float* img = p.image + 3 * t * frame_px;
    for (int64_t o = 0; o < frame_px; ++o) {
      const float v = eye[o] >= 0 ? 1.0f : 0.0f;
      img[3 * o] = v;
      img[3 * o + 1] = v;
      img[3 * o + 2] = v;
    }
    for (int k = 0; k < 2; ++k) {  // the pupil disc, only inside its own opening
      const float cx = p.pupils[4 * t + 2 * k], cy = p.pupils[4 * t + 2 * k + 1], r = p.radius[2 * t + k];
      if (!std::isfinite(cx) || !std::isfinite(cy) || !std::isfinite(r)) continue;
      int i0, i1, j0, j1;
      DiscSpan(cx, r, W, i0, i1);
      DiscSpan(cy, r, H, j0, j1);
      const float rr = r * r;
      for (int j = j0; j < j1; ++j) {
        const float dy = (static_cast<float>(j) + 0.5f) - cy;
        for (int i = i0; i < i1; ++i) {
          const float dx = (static_cast<float>(i) + 0.5f) - cx;
          const int64_t o = static_cast<int64_t>(j) * W + i;
          if (dx * dx + dy * dy <= rr && eye[o] == k) img[3 * o] = img[3 * o + 1] = img[3 * o + 2] = 0.0f;
        }
      }
    }
  }
}

}  // namespace h2h
