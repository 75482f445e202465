// Bindings of the rasterizer (csrc/common/rasterize.h): numpy in and out; CUDA entry takes device pointers.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/check.h"
#include "common/rasterize.h"

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
#if defined(H2H_WITH_CUDA)
  m.def("rasterize_fwd_cuda", &RasterizeFwdCuda, py::arg("pos"), py::arg("tri"), py::arg("attr"), py::arg("zbuf"),
        py::arg("tri_id"), py::arg("bary"), py::arg("depth"), py::arg("image"), py::arg("batch"),
        py::arg("num_vertices"), py::arg("num_triangles"), py::arg("width"), py::arg("height"),
        py::arg("channels"), py::arg("attr_batched"), py::arg("cull_back"), py::arg("stream"),
        "device pointers (ints, 0 = not wanted): rasterize on the GPU; zbuf (B,H,W) int64 scratch");
#endif
}
