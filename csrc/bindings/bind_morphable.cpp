// Bindings of the morphable-model kernels (csrc/common/blendshape.h): numpy in and out.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <optional>

#include "common/blendshape.h"
#include "common/check.h"

namespace py = pybind11;

namespace {

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;
using IntArray = py::array_t<int32_t, py::array::c_style | py::array::forcecast>;

py::array_t<float> BlendshapeBinding(const FloatArray& base, const FloatArray& basis, const FloatArray& coefs,
                                     std::optional<FloatArray> rotation, std::optional<FloatArray> translation,
                                     std::optional<FloatArray> scale, std::optional<FloatArray> box) {
  const char* fn = "blendshape";
  H2H_CHECK_SHAPE(base, fn, "base", "(K, 3)", -1, 3);
  const int64_t k = base.shape(0);
  H2H_CHECK_SHAPE(basis, fn, "basis", "(E, K, 3) matching base", -1, k, 3);
  const int64_t e = basis.shape(0);
  H2H_CHECK_SHAPE(coefs, fn, "coefs", "(T, E) matching basis", -1, e);
  const int64_t t = coefs.shape(0);
  H2H_CHECK(k < (int64_t{1} << 29) && t < (int64_t{1} << 31) && e < (int64_t{1} << 31), fn, "arrays too large");
  H2H_CHECK(rotation.has_value() == translation.has_value() && rotation.has_value() == scale.has_value(), fn,
            "rotation, translation and scale come together");
  H2H_CHECK(!box || rotation, fn, "box needs the camera (rotation, translation, scale)");
  if (rotation) {
    H2H_CHECK_SHAPE(*rotation, fn, "rotation", "(T, 3, 3) matching coefs", t, 3, 3);
    H2H_CHECK_SHAPE(*translation, fn, "translation", "(T, 2) matching coefs", t, 2);
    H2H_CHECK_SHAPE(*scale, fn, "scale", "(T,) matching coefs", t);
  }
  if (box) H2H_CHECK_SHAPE(*box, fn, "box", "(4,): x0, y0, sx, sy", 4);
  py::array_t<float> out({t, k, int64_t{3}});
  h2h::BlendshapeParams p;
  p.base = base.data();
  p.basis = basis.data();
  p.coefs = coefs.data();
  p.out = out.mutable_data();
  p.frames = static_cast<int>(t);
  p.num_basis = static_cast<int>(e);
  p.num_subset = static_cast<int>(k);
  if (rotation) {
    p.rotation = rotation->data();
    p.translation = translation->data();
    p.scale = scale->data();
  }
  if (box) p.box = box->data();
  {
    py::gil_scoped_release release;
    h2h::Blendshape(p);
  }
  return out;
}

}  // namespace

void BindMorphable(py::module_& m) {
  m.def("blendshape", &BlendshapeBinding, py::arg("base"), py::arg("basis"), py::arg("coefs"),
        py::arg("rotation") = py::none(), py::arg("translation") = py::none(), py::arg("scale") = py::none(),
        py::arg("box") = py::none(),
        "(T, K, 3) float32 base (K, 3) + coefs (T, E) . basis (E, K, 3); each value summed in one fixed order "
        "(deterministic whatever T or the thread count); with rotation (T,3,3), translation (T,2), scale (T,) "
        "the vertices are SOP-projected to pixels in the same pass, then mapped by box (x0, y0, sx, sy)");
}
