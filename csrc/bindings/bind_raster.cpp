// Bindings of the rasterizer (csrc/common/rasterize.h), the eye images (csrc/common/eyes.h) and the appearance warp
// (csrc/common/warp_blend.h): numpy in and out; CUDA entry takes device pointers.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/check.h"
#include "common/eyes.h"
#include "common/rasterize.h"
#include "common/warp_blend.h"

namespace py = pybind11;

namespace {

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;
using IntArray = py::array_t<int32_t, py::array::c_style | py::array::forcecast>;

// Checks shared by every entry point; fills the geometry fields of the params.
h2h::RasterParams GeometryParams(const FloatArray& pos, const IntArray& tri, int width, int height, bool cull_back,
                                 const char* fn) {
  H2H_CHECK_SHAPE(pos, fn, "pos", "(B, V, 3)", -1, -1, 3);
  H2H_CHECK_SHAPE(tri, fn, "tri", "(F, 3)", -1, 3);
  H2H_CHECK(width > 0 && height > 0, fn, "width and height must be positive, got " << width << "x" << height);
  H2H_CHECK(pos.shape(0) > 0, fn, "pos must hold at least one frame");
  H2H_CHECK(pos.shape(1) < (int64_t{1} << 31) && tri.shape(0) < (int64_t{1} << 31), fn, "too many vertices/triangles");
  h2h::RasterParams p{};
  p.pos = pos.data();
  p.tri = tri.data();
  p.batch = static_cast<int>(pos.shape(0));
  p.num_vertices = static_cast<int>(pos.shape(1));
  p.num_triangles = static_cast<int>(tri.shape(0));
  p.width = width;
  p.height = height;
  p.cull_back = cull_back;
  const int32_t* t = tri.data();
  for (int64_t k = 0; k < 3 * tri.shape(0); ++k)
    H2H_CHECK(t[k] >= 0 && t[k] < p.num_vertices, fn,
              "tri holds vertex index " << t[k] << " outside [0, " << p.num_vertices << ")");
  return p;
}

// attr (V, C) or (B, V, C) -> params fields; returns C.
void AttrParams(const FloatArray& attr, h2h::RasterParams& p, int64_t batch, const char* fn) {
  H2H_CHECK(attr.ndim() == 2 || attr.ndim() == 3, fn, "attr must have shape (V, C) or (B, V, C)");
  const bool batched = attr.ndim() == 3;
  H2H_CHECK(!batched || attr.shape(0) == batch, fn,
            "attr has " << attr.shape(0) << " frames, the raster " << batch);
  H2H_CHECK(attr.shape(batched ? 1 : 0) == p.num_vertices, fn,
            "attr has " << attr.shape(batched ? 1 : 0) << " vertices, pos " << p.num_vertices);
  p.attr = attr.data();
  p.attr_batched = batched;
  p.channels = static_cast<int>(attr.shape(batched ? 2 : 1));
  H2H_CHECK(p.channels > 0, fn, "attr must have at least one channel");
}

// An output array: `given` (checked: C-contiguous, writable, exact dtype and shape) or a new one.
template <typename T>
py::array_t<T> OutputArray(const py::object& given, std::vector<py::ssize_t> shape, const char* fn,
                           const char* name) {
  if (given.is_none()) return py::array_t<T>(shape);
  H2H_CHECK(py::isinstance<py::array_t<T>>(given), fn, name << " must be a numpy array of "
                                                         << py::str(py::dtype::of<T>()).cast<std::string>());
  auto arr = given.cast<py::array_t<T>>();
  bool ok = arr.ndim() == static_cast<py::ssize_t>(shape.size()) && arr.writeable() &&
            (arr.flags() & py::array::c_style);
  for (size_t k = 0; ok && k < shape.size(); ++k) ok = arr.shape(k) == shape[k];
  H2H_CHECK(ok, fn, name << " must be a writable C-contiguous array of the output's shape");
  return arr;
}

py::tuple RasterizeFwd(const FloatArray& pos, const IntArray& tri, int width, int height, bool cull_back,
                       const py::object& tri_id_out, const py::object& bary_out, const py::object& depth_out) {
  const char* fn = "rasterize_fwd";
  h2h::RasterParams p = GeometryParams(pos, tri, width, height, cull_back, fn);
  auto tri_id = OutputArray<int32_t>(tri_id_out, {p.batch, height, width}, fn, "tri_id");
  auto bary = OutputArray<float>(bary_out, {p.batch, height, width, 2}, fn, "bary");
  auto depth = OutputArray<float>(depth_out, {p.batch, height, width}, fn, "depth");
  p.tri_id = tri_id.mutable_data();
  p.bary = bary.mutable_data();
  p.depth = depth.mutable_data();
  {
    py::gil_scoped_release release;
    h2h::RasterizeCpu(p);
  }
  return py::make_tuple(tri_id, bary, depth);
}

py::tuple RenderFwd(const FloatArray& pos, const IntArray& tri, const FloatArray& attr, int width, int height,
                    bool cull_back, const py::object& image_out, const py::object& tri_id_out) {
  const char* fn = "render_fwd";
  h2h::RasterParams p = GeometryParams(pos, tri, width, height, cull_back, fn);
  AttrParams(attr, p, p.batch, fn);
  auto image = OutputArray<float>(image_out, {p.batch, height, width, p.channels}, fn, "image");
  auto tri_id = OutputArray<int32_t>(tri_id_out, {p.batch, height, width}, fn, "tri_id");
  p.image = image.mutable_data();
  p.tri_id = tri_id.mutable_data();
  {
    py::gil_scoped_release release;
    h2h::RasterizeCpu(p);
  }
  return py::make_tuple(image, tri_id);
}

py::array_t<float> InterpolateFwd(const FloatArray& attr, const IntArray& tri, const IntArray& tri_id,
                                  const FloatArray& bary) {
  const char* fn = "interpolate_fwd";
  H2H_CHECK_SHAPE(tri, fn, "tri", "(F, 3)", -1, 3);
  H2H_CHECK_SHAPE(tri_id, fn, "tri_id", "(B, H, W)", -1, -1, -1);
  H2H_CHECK_SHAPE(bary, fn, "bary", "(B, H, W, 2) matching tri_id", tri_id.shape(0), tri_id.shape(1),
                  tri_id.shape(2), 2);
  h2h::RasterParams p{};
  p.num_vertices = static_cast<int>(attr.ndim() == 3 ? attr.shape(1) : attr.shape(0));
  AttrParams(attr, p, tri_id.shape(0), fn);
  const int64_t num_tri = tri.shape(0);
  const int32_t* t = tri.data();
  for (int64_t k = 0; k < 3 * num_tri; ++k)
    H2H_CHECK(t[k] >= 0 && t[k] < p.num_vertices, fn, "tri holds vertex index " << t[k] << " outside [0, "
                                                         << p.num_vertices << ")");
  const int32_t* ids = tri_id.data();
  for (int64_t k = 0; k < tri_id.size(); ++k)
    H2H_CHECK(ids[k] < num_tri, fn, "tri_id holds triangle " << ids[k] << " but tri has " << num_tri);
  const int batch = static_cast<int>(tri_id.shape(0));
  const int pixels = static_cast<int>(tri_id.shape(1) * tri_id.shape(2));
  py::array_t<float> out({tri_id.shape(0), tri_id.shape(1), tri_id.shape(2), static_cast<py::ssize_t>(p.channels)});
  float* o = out.mutable_data();
  {
    py::gil_scoped_release release;
    h2h::InterpolateCpu(p.attr, p.attr_batched, t, ids, bary.data(), batch, pixels, p.channels, p.num_vertices, o);
  }
  return out;
}

#if defined(H2H_WITH_CUDA)
// Device-pointer entry (pointers as integers, 0 = output not wanted), for torch CUDA tensors.
void RasterizeFwdCuda(std::uintptr_t pos, std::uintptr_t tri, std::uintptr_t attr, std::uintptr_t zbuf,
                      std::uintptr_t tri_id, std::uintptr_t bary, std::uintptr_t depth, std::uintptr_t image,
                      int batch, int num_vertices, int num_triangles, int width, int height, int channels,
                      bool attr_batched, bool cull_back, std::uintptr_t stream) {
  const char* fn = "rasterize_fwd_cuda";
  H2H_CHECK(pos && tri && zbuf, fn, "pos, tri and zbuf are required");
  H2H_CHECK(batch > 0 && width > 0 && height > 0, fn, "batch, width and height must be positive");
  H2H_CHECK(!image || (attr && channels > 0), fn, "image needs attr with channels > 0");
  h2h::RasterParams p{};
  p.pos = reinterpret_cast<const float*>(pos);
  p.tri = reinterpret_cast<const int32_t*>(tri);
  p.attr = reinterpret_cast<const float*>(attr);
  p.batch = batch;
  p.num_vertices = num_vertices;
  p.num_triangles = num_triangles;
  p.width = width;
  p.height = height;
  p.channels = channels;
  p.attr_batched = attr_batched;
  p.cull_back = cull_back;
  p.tri_id = reinterpret_cast<int32_t*>(tri_id);
  p.bary = reinterpret_cast<float*>(bary);
  p.depth = reinterpret_cast<float*>(depth);
  p.image = reinterpret_cast<float*>(image);
  py::gil_scoped_release release;
  h2h::RasterizeCuda(p, reinterpret_cast<uint64_t*>(zbuf), reinterpret_cast<void*>(stream));
}
#endif

py::tuple RenderEyesFwd(const FloatArray& fans, const FloatArray& pupils, const FloatArray& radius, int x0, int y0,
                        int x1, int y1, int width, int height, const py::object& image_out) {
  const char* fn = "render_eyes_fwd";
  H2H_CHECK_SHAPE(fans, fn, "fans", "(T, 2, 7, 2)", -1, 2, 7, 2);
  const int64_t t = fans.shape(0);
  H2H_CHECK_SHAPE(pupils, fn, "pupils", "(T, 2, 2) matching fans", t, 2, 2);
  H2H_CHECK_SHAPE(radius, fn, "radius", "(T, 2) matching fans", t, 2);
  H2H_CHECK(width > 0 && height > 0, fn, "width and height must be positive, got " << width << "x" << height);
  H2H_CHECK(0 <= x0 && x0 <= x1 && x1 <= width && 0 <= y0 && y0 <= y1 && y1 <= height, fn,
            "window (" << x0 << ", " << y0 << ", " << x1 << ", " << y1 << ") must lie inside " << width << "x" << height);
  H2H_CHECK(t < (int64_t{1} << 31), fn, "too many frames");
  auto image = OutputArray<float>(image_out, {t, height, width, 3}, fn, "image");
  py::array_t<int8_t> eye({t, int64_t{height}, int64_t{width}});
  h2h::EyeParams p;
  p.fans = fans.data();
  p.pupils = pupils.data();
  p.radius = radius.data();
  p.frames = static_cast<int>(t);
  p.width = width;
  p.height = height;
  p.x0 = x0;
  p.y0 = y0;
  p.x1 = x1;
  p.y1 = y1;
  p.image = image.mutable_data();
  p.eye = eye.mutable_data();
  {
    py::gil_scoped_release release;
    h2h::RenderEyes(p);
  }
  return py::make_tuple(image, eye);
}

using U8Array = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>;

py::tuple WarpBlendFwd(const IntArray& tri_id, const FloatArray& bary, const IntArray& tri, const FloatArray& src_pos,
                       const FloatArray& src_depth, const U8Array& src_image, const IntArray& frame,
                       const IntArray& depth_of, const FloatArray& weight, float depth_tolerance, bool cubic) {
  const char* fn = "warp_blend_fwd";
  H2H_CHECK_SHAPE(tri_id, fn, "tri_id", "(T, H, W)", -1, -1, -1);
  const int64_t t = tri_id.shape(0), h = tri_id.shape(1), w = tri_id.shape(2);
  H2H_CHECK_SHAPE(bary, fn, "bary", "(T, H, W, 2) matching tri_id", t, h, w, 2);
  H2H_CHECK_SHAPE(tri, fn, "tri", "(F, 3)", -1, 3);
  H2H_CHECK_SHAPE(src_pos, fn, "src_pos", "(N, V, 3)", -1, -1, 3);
  const int64_t n = src_pos.shape(0), v = src_pos.shape(1);
  H2H_CHECK_SHAPE(src_image, fn, "src_image", "(N, H, W, 3) matching src_pos and tri_id", n, h, w, 3);
  H2H_CHECK_SHAPE(src_depth, fn, "src_depth", "(U, H, W) matching tri_id", -1, h, w);
  H2H_CHECK_SHAPE(frame, fn, "frame", "(T, M)", t, -1);
  const int64_t m = frame.shape(1), u = src_depth.shape(0);
  H2H_CHECK_SHAPE(depth_of, fn, "depth_of", "(T, M) matching frame", t, m);
  H2H_CHECK_SHAPE(weight, fn, "weight", "(T, M) matching frame", t, m);
  const int32_t* tr = tri.data();
  for (int64_t k = 0; k < 3 * tri.shape(0); ++k)
    H2H_CHECK(tr[k] >= 0 && tr[k] < v, fn, "tri holds vertex index " << tr[k] << " outside [0, " << v << ")");
  const int32_t* ti = tri_id.data();
  for (int64_t k = 0; k < t * h * w; ++k)
    H2H_CHECK(ti[k] < tri.shape(0), fn, "tri_id holds triangle " << ti[k] << " of " << tri.shape(0));
  for (int64_t k = 0; k < t * m; ++k) {
    H2H_CHECK(frame.data()[k] >= 0 && frame.data()[k] < n, fn, "frame index " << frame.data()[k] << " outside [0, " << n << ")");
    H2H_CHECK(depth_of.data()[k] >= 0 && depth_of.data()[k] < u, fn,
              "depth index " << depth_of.data()[k] << " outside [0, " << u << ")");
  }
  py::array_t<uint8_t> out({t, h, w, int64_t{3}});
  py::array_t<float> cover({t, h, w});
  h2h::WarpBlendParams p;
  p.tri_id = ti;
  p.bary = bary.data();
  p.tri = tr;
  p.src_pos = src_pos.data();
  p.src_depth = src_depth.data();
  p.src_image = src_image.data();
  p.frame = frame.data();
  p.depth_of = depth_of.data();
  p.weight = weight.data();
  p.out = out.mutable_data();
  p.cover = cover.mutable_data();
  p.frames = static_cast<int>(t);
  p.slots = static_cast<int>(m);
  p.width = static_cast<int>(w);
  p.height = static_cast<int>(h);
  p.num_vertices = static_cast<int>(v);
  p.depth_tolerance = depth_tolerance;
  p.cubic = cubic;
  {
    py::gil_scoped_release release;
    h2h::WarpBlend(p);
  }
  return py::make_tuple(out, cover);
}

}  // namespace

void BindRaster(py::module_& m) {
  m.attr("raster_subpixel_bits") = h2h::kSubBits;
  m.attr("raster_guard_band") = h2h::kGuardBand;
  m.def("rasterize_fwd", &RasterizeFwd, py::arg("pos"), py::arg("tri"), py::arg("width"), py::arg("height"),
        py::arg("cull_back") = true, py::arg("tri_id") = py::none(), py::arg("bary") = py::none(),
        py::arg("depth") = py::none(),
        "pos (B,V,3) px x, px y, depth; tri (F,3) -> tri_id (B,H,W) int32 (-1 empty), bary (B,H,W,2), depth "
        "(B,H,W); pass arrays to reuse them as outputs");
  m.def("render_fwd", &RenderFwd, py::arg("pos"), py::arg("tri"), py::arg("attr"), py::arg("width"),
        py::arg("height"), py::arg("cull_back") = true, py::arg("image") = py::none(), py::arg("tri_id") = py::none(),
        "rasterize and interpolate attr (V,C) or (B,V,C) in one pass -> image (B,H,W,C), tri_id (B,H,W); pass "
        "arrays to reuse them as outputs");
  m.def("interpolate_fwd", &InterpolateFwd, py::arg("attr"), py::arg("tri"), py::arg("tri_id"), py::arg("bary"),
        "attr (V,C) or (B,V,C) at (tri_id, bary) -> (B,H,W,C), 0 where tri_id < 0");
  m.def("render_eyes_fwd", &RenderEyesFwd, py::arg("fans"), py::arg("pupils"), py::arg("radius"), py::arg("x0"),
        py::arg("y0"), py::arg("x1"), py::arg("y1"), py::arg("width"), py::arg("height"), py::arg("image") = py::none(),
        "eye fans (T,2,7,2) relative to the window (x0,y0)-(x1,y1), pupils (T,2,2), radii (T,2) -> image "
        "(T,H,W,3) float32, eye (T,H,W) int8; pass image to reuse it as the output");
  m.def("warp_blend_fwd", &WarpBlendFwd, py::arg("tri_id"), py::arg("bary"), py::arg("tri"), py::arg("src_pos"),
        py::arg("src_depth"), py::arg("src_image"), py::arg("frame"), py::arg("depth_of"), py::arg("weight"),
        py::arg("depth_tolerance"), py::arg("cubic") = false,
        "retrieved training crops warped onto a driven raster and blended -> out (T,H,W,3) uint8, cover (T,H,W)");
#if defined(H2H_WITH_CUDA)
  m.def("rasterize_fwd_cuda", &RasterizeFwdCuda, py::arg("pos"), py::arg("tri"), py::arg("attr"), py::arg("zbuf"),
        py::arg("tri_id"), py::arg("bary"), py::arg("depth"), py::arg("image"), py::arg("batch"),
        py::arg("num_vertices"), py::arg("num_triangles"), py::arg("width"), py::arg("height"),
        py::arg("channels"), py::arg("attr_batched"), py::arg("cull_back"), py::arg("stream"),
        "device pointers (ints, 0 = not wanted): rasterize on the GPU; zbuf (B,H,W) int64 scratch");
#endif
}
