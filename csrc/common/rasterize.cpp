// CPU rasterizer: OpenMP over (frame, row range) work items; each item sets its triangles up once, bins them
// into cache-sized bands, scans each triangle's clipped bounding box with incremental fixed-point edge
// functions into the band's packed z-buffer (depth key | ~triangle: the max is the nearest fragment, ties to
// the lower index, whatever the order) plus barycentrics, and resolves the band into the wanted outputs.
#include "common/rasterize.h"

#include <omp.h>

#include <algorithm>
#include <limits>
#include <vector>

namespace h2h {
namespace {

// A triangle that survived setup, with its pixel bounds clipped to the raster (rows: to the work item).
struct SetupTri {
  SnappedTri t;
  int f;               // triangle index
  int i0, i1, j0, j1;  // inclusive pixel-centre bounds
};

// Frame b's vertices snapped once (a vertex is shared by about six triangles); x = INT64_MIN marks a vertex
// that cannot be rasterized (see VertexOk).
struct SnappedVertices {
  std::vector<int64_t> x, y;
  std::vector<float> z;

  void Fill(const float* pos_b, int n) {
    x.resize(n);
    y.resize(n);
    z.resize(n);
    for (int v = 0; v < n; ++v) {
      const float* q = pos_b + 3 * static_cast<int64_t>(v);
      x[v] = VertexOk(q) ? SnapCoord(q[0]) : std::numeric_limits<int64_t>::min();
      y[v] = SnapCoord(q[1]);
      z[v] = q[2];
    }
  }
};

// Snap, cull and clip every triangle of frame b against rows [y0, y1); calls emit(SetupTri) for each survivor.
template <typename Emit>
void SetupTriangles(const RasterParams& p, int b, int y0, int y1, SnappedVertices& verts, Emit&& emit) {
  verts.Fill(p.pos + static_cast<int64_t>(b) * p.num_vertices * 3, p.num_vertices);
  const int64_t invalid = std::numeric_limits<int64_t>::min();
  for (int f = 0; f < p.num_triangles; ++f) {
    SetupTri s;
    bool ok = true;
    for (int k = 0; k < 3; ++k) {
      const int v = p.tri[3 * f + k];
      ok &= verts.x[v] != invalid;
      s.t.x[k] = verts.x[v];
      s.t.y[k] = verts.y[v];
      s.t.z[k] = verts.z[v];
    }
    if (!ok || !OrientTriangle(p.cull_back, s.t)) continue;
    const SnappedTri& t = s.t;
    int64_t i0, i1, j0, j1;
    PixelSpan(std::min({t.y[0], t.y[1], t.y[2]}), std::max({t.y[0], t.y[1], t.y[2]}), j0, j1);
    j0 = std::max<int64_t>(j0, y0);
    j1 = std::min<int64_t>(j1, y1 - 1);
    if (j0 > j1) continue;
    PixelSpan(std::min({t.x[0], t.x[1], t.x[2]}), std::max({t.x[0], t.x[1], t.x[2]}), i0, i1);
    i0 = std::max<int64_t>(i0, 0);
    i1 = std::min<int64_t>(i1, p.width - 1);
    if (i0 > i1) continue;
    s.f = f;
    s.i0 = static_cast<int>(i0);
    s.i1 = static_cast<int>(i1);
    s.j0 = static_cast<int>(j0);
    s.j1 = static_cast<int>(j1);
    emit(s);
  }
}

// Scan one triangle's bounding box within rows [y0, y1) with incremental fixed-point edge functions into
// zbuf (rows, W) packed fragments (0 = empty) and wbuf (rows, W, 2) barycentrics.
void RasterizeTriangle(const SetupTri& s, int width, int y0, int y1, uint64_t* zbuf, float* wbuf) {
  const SnappedTri& t = s.t;
  const int64_t j0 = std::max(s.j0, y0), j1 = std::min(s.j1, y1 - 1);
  if (j0 > j1) return;
  const int64_t half = kSub / 2;
  const int64_t px = s.i0 * kSub + half, py = j0 * kSub + half;
  // Edge k is opposite vertex k, so its value is vertex k's (unnormalised) weight.
  const int64_t bias0 = EdgeBias(t, 1, 2), bias1 = EdgeBias(t, 2, 0), bias2 = EdgeBias(t, 0, 1);
  int64_t r0 = EdgeAt(t, 1, 2, px, py) - bias0;
  int64_t r1 = EdgeAt(t, 2, 0, px, py) - bias1;
  int64_t r2 = EdgeAt(t, 0, 1, px, py) - bias2;
  const int64_t sx0 = -(t.y[2] - t.y[1]) * kSub, sy0 = (t.x[2] - t.x[1]) * kSub;
  const int64_t sx1 = -(t.y[0] - t.y[2]) * kSub, sy1 = (t.x[0] - t.x[2]) * kSub;
  const int64_t sx2 = -(t.y[1] - t.y[0]) * kSub, sy2 = (t.x[1] - t.x[0]) * kSub;
  for (int64_t j = j0; j <= j1; ++j) {
    uint64_t* zrow = zbuf + (j - y0) * width;
    float* wrow = wbuf + 2 * (j - y0) * width;
    int64_t e0 = r0, e1 = r1, e2 = r2;
    for (int64_t i = s.i0; i <= s.i1; ++i) {
      if ((e0 | e1 | e2) >= 0) {
        float w[3];
        const float z = Weights(t, e0 + bias0, e1 + bias1, e2 + bias2, w);
        const uint64_t packed = PackFragment(z, s.f);
        if (packed > zrow[i]) {
          zrow[i] = packed;
          OriginalBary(t, w, wrow[2 * i], wrow[2 * i + 1]);
        }
      }
      e0 += sx0;
      e1 += sx1;
      e2 += sx2;
    }
    r0 += sy0;
    r1 += sy1;
    r2 += sy2;
  }
}

// Write rows [y0, y1) of frame b's outputs from the band's z-buffer and barycentrics. kChannels > 0 fixes
// the attribute channel count at compile time (the common 1-4 channel cases); 0 reads it from p.
template <int kChannels>
void ResolveBand(const RasterParams& p, int b, int y0, int y1, const uint64_t* zbuf, const float* wbuf) {
  const int W = p.width, C = kChannels > 0 ? kChannels : p.channels;
  const float* attr_b = p.attr ? p.attr + (p.attr_batched ? static_cast<int64_t>(b) * p.num_vertices * C : 0)
                               : nullptr;
  const float neg_inf = -std::numeric_limits<float>::infinity();
  for (int j = y0; j < y1; ++j) {
    const int64_t row = (static_cast<int64_t>(b) * p.height + j) * W;
    for (int i = 0; i < W; ++i) {
      const int64_t o = row + i, s = static_cast<int64_t>(j - y0) * W + i;
      const uint64_t packed = zbuf[s];
      const int f = packed ? FragmentTriangle(packed) : -1;
      const float b0 = f >= 0 ? wbuf[2 * s] : 0.0f, b1 = f >= 0 ? wbuf[2 * s + 1] : 0.0f;
      if (p.tri_id) p.tri_id[o] = f;
      if (p.bary) {
        p.bary[2 * o] = b0;
        p.bary[2 * o + 1] = b1;
      }
      if (p.depth) p.depth[o] = f >= 0 ? FragmentDepth(packed) : neg_inf;
      if (attr_b) {
        float* out = p.image + o * C;
        if (f >= 0) {
          InterpolateOne(attr_b, p.tri, f, b0, b1, C, out);
        } else {
          for (int c = 0; c < C; ++c) out[c] = 0.0f;
        }
      }
    }
  }
}

using ResolveFn = void (*)(const RasterParams&, int, int, int, const uint64_t*, const float*);

ResolveFn PickResolve(int channels) {
  switch (channels) {
    case 1: return ResolveBand<1>;
    case 2: return ResolveBand<2>;
    case 3: return ResolveBand<3>;
    case 4: return ResolveBand<4>;
    default: return ResolveBand<0>;
  }
}

}  // namespace

// Rows of a cache-sized band: its packed z-buffer and barycentrics (16 bytes a pixel) stay near 1 MiB.
constexpr int kBandPixels = 1 << 16;

void RasterizeCpu(const RasterParams& p) {
  const int threads = omp_get_max_threads();
  const int H = p.height, B = p.batch;
  // Work items are (frame, row range); frames are split only when there are too few to keep every thread
  // busy. Each item sets its triangles up once, bins them into cache-sized bands, then rasterizes and
  // resolves band after band.
  int parts = B >= 2 * threads ? 1 : (2 * threads + B - 1) / B;
  parts = std::max(1, std::min(parts, H / 16));
  const int part_rows = (H + parts - 1) / parts;
  const int band_rows = std::max(1, std::min(part_rows, kBandPixels / p.width));
  const int64_t items = static_cast<int64_t>(B) * parts;
  const ResolveFn resolve = PickResolve(p.attr ? p.channels : 0);
#pragma omp parallel
  {
    std::vector<uint64_t> zbuf(static_cast<size_t>(band_rows) * p.width);
    std::vector<float> wbuf(2 * zbuf.size());
    std::vector<SetupTri> tris;
    SnappedVertices verts;
    std::vector<int> bin_start, bin_items;
#pragma omp for schedule(dynamic, 1)
    for (int64_t item = 0; item < items; ++item) {
      const int b = static_cast<int>(item / parts);
      const int y0 = static_cast<int>(item % parts) * part_rows, y1 = std::min(H, y0 + part_rows);
      if (y0 >= y1) continue;
      const int bands = (y1 - y0 + band_rows - 1) / band_rows;
      if (bands == 1) {  // the whole item fits one band: rasterize straight from setup, nothing stored
        std::fill(zbuf.begin(), zbuf.begin() + static_cast<int64_t>(y1 - y0) * p.width, uint64_t{0});
        SetupTriangles(p, b, y0, y1, verts,
                       [&](const SetupTri& s) { RasterizeTriangle(s, p.width, y0, y1, zbuf.data(), wbuf.data()); });
        resolve(p, b, y0, y1, zbuf.data(), wbuf.data());
        continue;
      }
      tris.clear();
      SetupTriangles(p, b, y0, y1, verts, [&](const SetupTri& s) { tris.push_back(s); });
      // Bin the triangles by band (counting sort; a triangle spanning bands goes into each).
      bin_start.assign(bands + 1, 0);
      for (const SetupTri& s : tris)
        for (int k = (s.j0 - y0) / band_rows; k <= (s.j1 - y0) / band_rows; ++k) ++bin_start[k + 1];
      for (int k = 0; k < bands; ++k) bin_start[k + 1] += bin_start[k];
      bin_items.resize(bin_start[bands]);
      std::vector<int> fill(bin_start.begin(), bin_start.end() - 1);
      for (int n = 0; n < static_cast<int>(tris.size()); ++n)
        for (int k = (tris[n].j0 - y0) / band_rows; k <= (tris[n].j1 - y0) / band_rows; ++k)
          bin_items[fill[k]++] = n;
      for (int k = 0; k < bands; ++k) {
        const int by0 = y0 + k * band_rows, by1 = std::min(y1, by0 + band_rows);
        std::fill(zbuf.begin(), zbuf.begin() + static_cast<int64_t>(by1 - by0) * p.width, uint64_t{0});
        for (int n = bin_start[k]; n < bin_start[k + 1]; ++n)
          RasterizeTriangle(tris[bin_items[n]], p.width, by0, by1, zbuf.data(), wbuf.data());
        resolve(p, b, by0, by1, zbuf.data(), wbuf.data());
      }
    }
  }
}

void InterpolateCpu(const float* attr, bool attr_batched, const int32_t* tri, const int32_t* tri_id,
                    const float* bary, int batch, int num_pixels, int channels, int num_vertices, float* out) {
  const int64_t total = static_cast<int64_t>(batch) * num_pixels;
#pragma omp parallel for schedule(static)
  for (int64_t o = 0; o < total; ++o) {
    const int64_t b = o / num_pixels;
    const float* attr_b = attr + (attr_batched ? b * num_vertices * channels : 0);
    const int f = tri_id[o];
    if (f >= 0) {
      InterpolateOne(attr_b, tri, f, bary[2 * o], bary[2 * o + 1], channels, out + o * channels);
    } else {
      std::fill(out + o * channels, out + (o + 1) * channels, 0.0f);
    }
  }
}

}  // namespace h2h
